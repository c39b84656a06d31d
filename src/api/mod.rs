//! JSON API v1 (`/api/v1`): routes, and the extractors that turn bad input into API errors.

use axum::Router;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use serde::de::DeserializeOwned;

use crate::context::AppContext;
use crate::error::{AppError, ErrorKind};

/// The `/api/v1` routes. Resources are added here as the services behind them land.
pub fn router() -> Router<AppContext> {
    Router::new().fallback(unknown_endpoint)
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

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
