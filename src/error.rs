//! The one error type: a kind that decides the HTTP status, a stable code, a safe message.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong, in the terms a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    TooManyRequests,
    /// A remote server answered badly or not at all.
    BadGateway,
    ServiceUnavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error with a client-safe code and message; the cause is only ever logged.
pub struct AppError {
    pub kind: ErrorKind,
    /// Stable snake_case code clients may match on.
    pub code: &'static str,
    /// Safe to show to the client: never contains the cause.
    pub message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    location: &'static std::panic::Location<'static>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    #[track_caller]
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            kind,
            code,
            message: message.into(),
            source: None,
            location: std::panic::Location::caller(),
        }
    }

    /// Attaches the underlying cause, which is logged and never sent.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    #[track_caller]
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::BadRequest, code, message)
    }

    #[track_caller]
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Unauthorized, code, message)
    }

    #[track_caller]
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Forbidden, code, message)
    }

    #[track_caller]
    pub fn not_found(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::NotFound, code, message)
    }

    #[track_caller]
    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Conflict, code, message)
    }

    /// Whether a write met a unique key: something already stored, perhaps by a
    /// concurrent writer a moment before.
    pub fn is_unique_violation(&self) -> bool {
        self.code == UNIQUE_VIOLATION
    }

    #[track_caller]
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Unprocessable, code, message)
    }

    #[track_caller]
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::ServiceUnavailable, code, message)
    }

    /// An unexpected failure: the client sees a generic message, the log sees the cause.
    #[track_caller]
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
        AppError::new(
            ErrorKind::Internal,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
        .with_source(source)
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status().as_u16(),
            self.message
        )?;
        if let Some(source) = &self.source {
            write!(f, "; cause: {source}")?;
        }
        write!(f, " [at {}:{}]", self.location.file(), self.location.line())
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The JSON body of every API error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// The code of a database unique-key violation (see `From<diesel::result::Error>`).
const UNIQUE_VIOLATION: &str = "conflict";

impl From<diesel::result::Error> for AppError {
    #[track_caller]
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &err {
            Error::NotFound => AppError::not_found("not_found", "not found"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AppError::conflict(
                UNIQUE_VIOLATION,
                "this conflicts with something that already exists",
            )
            .with_source(err),
            _ => AppError::internal(err),
        }
    }
}

impl From<crate::db::DbError> for AppError {
    #[track_caller]
    fn from(err: crate::db::DbError) -> Self {
        match err {
            crate::db::DbError::Query(e) => AppError::from(e),
            other => AppError::unavailable(
                "database_unavailable",
                "the database is not answering; try again shortly",
            )
            .with_source(other),
        }
    }
}

/// Fetching and verification errors of `activitypub_federation`, in our terms. Remote
/// servers are untrusted: what they send wrong is the requester's 4xx, what they fail to
/// answer is a 502, never a 500.
impl From<activitypub_federation::error::Error> for AppError {
    #[track_caller]
    fn from(err: activitypub_federation::error::Error) -> Self {
        use activitypub_federation::error::Error as F;
        let mapped = match &err {
            F::NotFound => AppError::not_found("object_not_found", "no such object"),
            F::RequestLimit => AppError::unprocessable(
                "fetch_limit_reached",
                "too many remote fetches were needed for one request",
            ),
            F::ResponseBodyLimit => AppError::new(
                ErrorKind::BadGateway,
                "remote_response_too_large",
                "the remote server's answer was too large",
            ),
            F::ObjectDeleted(url) => AppError::new(
                ErrorKind::Gone,
                "remote_object_deleted",
                format!("{url} was deleted"),
            ),
            F::UrlVerificationError(why) => {
                AppError::forbidden("url_refused", format!("the URL is refused: {why}"))
            }
            F::DomainResolveError(host) | F::ResolveInternalIpError(host, _) => {
                AppError::forbidden(
                    "url_refused",
                    format!("{host} resolves to an address that is not public"),
                )
            }
            F::ActivityBodyDigestInvalid => AppError::unauthorized(
                "digest_invalid",
                "the Digest header is missing or does not match the body",
            ),
            F::ActivitySignatureInvalid | F::Other(_) => AppError::unauthorized(
                "signature_invalid",
                "the HTTP signature could not be verified",
            ),
            F::WebfingerResolveFailed(_) => AppError::not_found(
                "webfinger_failed",
                "the handle could not be resolved with WebFinger",
            ),
            F::ParseFetchedObject(_, url, _) => AppError::new(
                ErrorKind::BadGateway,
                "remote_object_invalid",
                format!("{url} is not an object Lyceum understands"),
            ),
            F::ParseReceivedActivity { .. } => {
                AppError::bad_request("invalid_activity", "the activity could not be parsed")
            }
            F::FetchInvalidContentType(url) => AppError::new(
                ErrorKind::BadGateway,
                "remote_not_activitypub",
                format!("{url} was not served as ActivityPub JSON"),
            ),
            F::FetchWrongId(url) => AppError::new(
                ErrorKind::BadGateway,
                "remote_id_mismatch",
                format!("the document at {url} has a different id"),
            ),
            F::UrlParse(_) => AppError::bad_request("invalid_url", "a URL could not be parsed"),
            _ => AppError::new(
                ErrorKind::BadGateway,
                "remote_unreachable",
                "the remote server could not be reached",
            ),
        };
        mapped.with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let err = AppError::internal(std::io::Error::other("secret path /etc/shadow"));
        assert!(
            err.to_string().contains("/etc/shadow"),
            "logged form keeps the cause"
        );
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body: ErrorBody = serde_json::from_slice(&bytes).expect("error body is JSON");
        assert_eq!(body.error.code, "internal_error");
        assert!(!body.error.message.contains("shadow"));
    }

    #[tokio::test]
    async fn client_errors_carry_code_and_message() {
        let response =
            AppError::unprocessable("invalid_username", "username must be 2-20 characters")
                .into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(value["error"]["code"], "invalid_username");
        assert_eq!(
            value["error"]["message"],
            "username must be 2-20 characters"
        );
    }

    #[test]
    fn missing_rows_become_not_found() {
        let err = AppError::from(diesel::result::Error::NotFound);
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }
}
