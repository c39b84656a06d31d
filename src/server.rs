//! The HTTP router: every route group, the request-wide layers, and `/healthz`.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use activitypub_federation::config::{FederationConfig, FederationMiddleware};

use crate::context::AppContext;
use crate::error::{AppError, ErrorKind};

/// Builds the federation configuration, then the router.
pub async fn app(ctx: AppContext) -> anyhow::Result<Router> {
    let federation = crate::federation::config::build(&ctx).await?;
    Ok(router(ctx, federation))
}

/// The whole application: API, health check, federation endpoints and the layers every
/// request passes.
pub fn router(ctx: AppContext, federation: FederationConfig<AppContext>) -> Router {
    let settings = ctx.settings.clone();
    let auth_limit = crate::api::rate_limit::auth_limit(&settings);
    let api = crate::api::router(&ctx, auth_limit.clone());
    let api = api.layer(crate::api::rate_limit::api_limit(&settings));
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .merge(crate::federation::http::routes(&ctx))
        .merge(crate::web::routes(&ctx, auth_limit))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ctx)
        .layer(FederationMiddleware::new(federation))
        .layer(DefaultBodyLimit::max(settings.http.body_limit_bytes))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(settings.http.request_timeout_secs),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    // The path only: query strings may carry tokens or search terms.
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        status = tracing::field::Empty,
                        latency_ms = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response<_>, latency: Duration, span: &Span| {
                    span.record("status", res.status().as_u16());
                    span.record("latency_ms", latency.as_secs_f64() * 1000.0);
                    if res.status().is_server_error() {
                        tracing::warn!("request answered with a server error");
                    } else {
                        tracing::info!("request answered");
                    }
                })
                .on_failure(()),
        )
}

/// 200 when the database answers a query, 503 when it does not.
async fn healthz(State(ctx): State<AppContext>) -> axum::response::Response {
    match ctx.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({
                "status": "ok",
                "database": ctx.db.backend().to_string(),
                "version": crate::VERSION,
            })),
        )
            .into_response(),
        Err(err) => AppError::unavailable("database_unavailable", "the database is not answering")
            .with_source(err)
            .into_response(),
    }
}

/// A page for browsers, the JSON error for everything else.
async fn not_found(
    State(ctx): State<AppContext>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> axum::response::Response {
    if crate::web::wants_html(&headers) {
        return crate::web::not_found_page(&ctx, &headers, &uri).await;
    }
    AppError::not_found("not_found", "nothing here").into_response()
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        ErrorKind::MethodNotAllowed,
        "method_not_allowed",
        "this path does not accept that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::testing::for_each_backend;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_json(app: Router, path: &str) -> (StatusCode, serde_json::Value) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn healthz_answers_while_the_database_answers_and_503_after() {
        for_each_backend(async |db| {
            let ctx = AppContext::new(db.clone(), Settings::default());
            let app = app(ctx).await.expect("app");
            let (status, body) = get_json(app.clone(), "/healthz").await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["status"], "ok");
            assert_eq!(body["database"], db.backend().to_string());

            // A closed pool is what a database that stopped answering looks like to us.
            db.close();
            let (status, body) = get_json(app, "/healthz").await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body["error"]["code"], "database_unavailable");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_paths_and_methods_get_json_errors() {
        for_each_backend(async |db| {
            let app = app(AppContext::new(db, Settings::default()))
                .await
                .expect("app");
            let (status, body) = get_json(app.clone(), "/no/such/page").await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(body["error"]["code"], "not_found");
            let (status, body) = get_json(app.clone(), "/api/v1/nothing").await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(body["error"]["code"], "unknown_endpoint");
            let response = app
                .oneshot(
                    Request::post("/healthz")
                        .body(Body::empty())
                        .expect("request"),
                )
                .await
                .expect("response");
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        })
        .await;
    }
}
