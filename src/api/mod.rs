//! JSON API v1 (`/api/v1`): routes with their OpenAPI description, and the extractors that
//! turn bad input into API errors.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod communities;
pub mod federation_policy;
pub mod instance_moderation;
pub mod knowledge;
pub mod moderation;
pub mod people;
pub(crate) mod rate_limit;
pub mod resolve;
pub mod search;
pub mod threads;

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::get;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::context::AppContext;
use crate::error::{AppError, ErrorKind};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lyceum API",
        description = "JSON API of a Lyceum instance. Errors are `{\"error\": {\"code\", \"message\"}}` with a fitting status.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Sign-up, the signed-in account and its profile"),
        (name = "auth", description = "Tokens and sessions"),
        (name = "admin", description = "Applications, invites, roles and suspensions"),
        (name = "communities", description = "Communities, membership and moderators"),
        (name = "threads", description = "Questions and discussions"),
        (name = "answers", description = "Answers, replies, votes and accepted answers"),
        (name = "search", description = "Full-text search of threads and answers"),
        (name = "knowledge", description = "Solved questions, tags, experts and the unanswered queue"),
        (name = "moderation", description = "Reports, removals, bans and the mod log"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::SESSION_COOKIE,
                "web session; writes also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// The `/api/v1` routes, with the OpenAPI document describing them at `openapi.json`.
/// `limited` guards the routes that take passwords; the web pages share it, so one budget
/// covers both doors.
pub fn router(ctx: &AppContext, limited: rate_limit::AuthLimitLayer) -> Router<AppContext> {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::limited_routes().layer(limited.clone()))
        .merge(auth::limited_routes().layer(limited))
        .merge(accounts::routes())
        .merge(auth::routes())
        .merge(admin::routes())
        .merge(federation_policy::routes())
        .merge(instance_moderation::routes())
        .merge(communities::routes())
        .merge(threads::routes())
        .merge(resolve::routes())
        .merge(search::routes())
        .merge(knowledge::routes())
        .merge(people::routes())
        .merge(moderation::routes())
        .split_for_parts();
    document_server_errors(&mut openapi);
    openapi.servers = Some(vec![utoipa::openapi::Server::new(format!(
        "{}/api/v1",
        ctx.public_url()
    ))]);
    // Serialized once: axum clones a route's handler as it builds the router, and a
    // handler holding the document tree cloned about 4 MB each time, which stayed in the
    // heap as idle memory.
    let document = axum::body::Bytes::from(
        serde_json::to_vec(&openapi).expect("the OpenAPI document serializes"),
    );
    router
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .fallback(unknown_endpoint)
}

/// Every operation can fail on the server side: say so once here rather than on each path.
fn document_server_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            responses.entry("500".to_owned()).or_insert_with(|| {
                error("internal_error: an unexpected failure, logged on the server").into()
            });
            responses.entry("503".to_owned()).or_insert_with(|| {
                error("database_unavailable: the database is not answering").into()
            });
        }
    }
}

async fn unknown_endpoint() -> AppError {
    AppError::not_found("unknown_endpoint", "no API endpoint at this path")
}

/// `axum::Json`, but every rejection is an [`AppError`] in the API's error format:
/// malformed JSON 400, a missing or wrong content type 415, fields that do not fit 422,
/// a body over the limit 413.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    let detail = rejection.body_text();
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::new(
            ErrorKind::PayloadTooLarge,
            "payload_too_large",
            "the request body is too large",
        );
    }
    match rejection {
        JsonRejection::JsonDataError(_) => AppError::unprocessable("invalid_fields", detail),
        JsonRejection::JsonSyntaxError(_) => AppError::bad_request("malformed_json", detail),
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        _ => AppError::bad_request("unreadable_body", detail),
    }
}

/// `axum::extract::Path` with API-format errors (an id that is not a number: 400).
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection: PathRejection| {
                AppError::bad_request("invalid_path", rejection.body_text())
            })
    }
}

/// `axum::extract::Query` with API-format errors (a parameter that does not parse: 400).
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| {
                AppError::bad_request("invalid_query", rejection.body_text())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::testing::{TestApi, for_each_backend, test_settings};

    #[derive(serde::Deserialize)]
    struct Payload {
        #[allow(dead_code)]
        name: String,
    }

    async fn echo(ApiJson(_): ApiJson<Payload>) -> &'static str {
        "ok"
    }

    async fn call(body: &'static str, content_type: Option<&str>) -> (StatusCode, String) {
        let app = Router::new()
            .route("/", post(echo))
            .layer(axum::extract::DefaultBodyLimit::max(64));
        let mut req = Request::post("/");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let response = app
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        if status == StatusCode::OK {
            return (status, String::new());
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("error body is JSON");
        (
            status,
            value["error"]["code"].as_str().expect("code").to_owned(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openapi_document_lists_the_endpoints() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let doc = api.call("GET", "/api/v1/openapi.json", None, None).await;
            assert_eq!(doc.status, 200);
            assert!(
                doc.body["openapi"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("3.1"))
            );
            let paths = doc.body["paths"].as_object().expect("paths");
            for (path, method) in [
                ("/accounts", "post"),
                ("/registration", "get"),
                ("/auth/login", "post"),
                ("/auth/logout", "post"),
                ("/auth/session", "post"),
                ("/auth/tokens", "get"),
                ("/auth/tokens/{id}", "delete"),
                ("/me", "get"),
                ("/me", "patch"),
                ("/me", "delete"),
                ("/me/password", "post"),
                ("/admin/accounts", "get"),
                ("/admin/accounts/{id}/approve", "post"),
                ("/admin/accounts/{id}/reject", "post"),
                ("/admin/accounts/{id}/suspend", "post"),
                ("/admin/accounts/{id}/unsuspend", "post"),
                ("/admin/accounts/{id}/role", "put"),
                ("/admin/invites", "get"),
                ("/admin/invites", "post"),
                ("/admin/invites/{id}", "delete"),
                ("/communities", "get"),
                ("/communities", "post"),
                ("/communities/{handle}", "get"),
                ("/communities/{handle}", "patch"),
                ("/communities/{handle}/follow", "post"),
                ("/communities/{handle}/follow", "delete"),
                ("/communities/{handle}/threads", "get"),
                ("/communities/{handle}/threads", "post"),
                ("/communities/{handle}/tags", "get"),
                ("/communities/{handle}/moderators", "get"),
                ("/communities/{handle}/moderators", "post"),
                ("/communities/{handle}/moderators/{username}", "delete"),
                ("/threads/{id}", "get"),
                ("/threads/{id}", "patch"),
                ("/threads/{id}", "delete"),
                ("/threads/{id}/lock", "post"),
                ("/threads/{id}/lock", "delete"),
                ("/threads/{id}/revisions", "get"),
                ("/threads/{id}/answers", "post"),
                ("/threads/{id}/vote", "post"),
                ("/answers/{id}", "get"),
                ("/answers/{id}", "patch"),
                ("/answers/{id}", "delete"),
                ("/answers/{id}/revisions", "get"),
                ("/answers/{id}/accept", "post"),
                ("/answers/{id}/accept", "delete"),
                ("/answers/{id}/vote", "post"),
                ("/resolve", "get"),
                ("/search", "get"),
                ("/communities/{handle}/similar", "get"),
                ("/kb", "get"),
                ("/unanswered", "get"),
                ("/tags", "get"),
                ("/tags/{tag}/experts", "get"),
                ("/persons/{handle}", "get"),
            ] {
                assert!(
                    paths.get(path).and_then(|p| p.get(method)).is_some(),
                    "{method} {path}"
                );
            }
            assert_eq!(
                doc.body["servers"][0]["url"],
                "http://localhost:8541/api/v1"
            );
            assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
            // Every operation documents its server errors; those that take input or need
            // a signed-in caller document client errors too.
            for (path, item) in paths {
                for (method, operation) in item.as_object().expect("path item") {
                    let responses = operation["responses"].as_object().expect("responses");
                    assert!(
                        responses.contains_key("500") && responses.contains_key("503"),
                        "{method} {path}"
                    );
                    let takes_input = method != "get"
                        || path.contains('{')
                        || operation.get("security").is_some();
                    if takes_input {
                        assert!(
                            responses.keys().any(|status| status.starts_with('4')),
                            "{method} {path} documents no client error"
                        );
                    }
                }
            }
        })
        .await;
    }

    #[tokio::test]
    async fn json_rejections_use_the_api_error_format() {
        let json = Some("application/json");
        assert_eq!(call(r#"{"name":"x"}"#, json).await.0, StatusCode::OK);
        assert_eq!(
            call("{not json", json).await,
            (StatusCode::BAD_REQUEST, "malformed_json".into())
        );
        assert_eq!(
            call(r#"{"name": 5}"#, json).await,
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields".into())
        );
        assert_eq!(
            call(r#"{"name":"x"}"#, None).await,
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type".into()
            )
        );
        let big = r#"{"name":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
        assert_eq!(
            call(big, json).await,
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into())
        );
    }
}
