//! Per-client-address rate limits for sign-in and sign-up (tower_governor), answering 429
//! in the API error format with `Retry-After`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Response, header};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::{KeyExtractor, SmartIpKeyExtractor};
use tower_governor::{GovernorError, governor::GovernorConfig};

use crate::error::{AppError, ErrorKind};
use crate::settings::Settings;

/// The client's address: the TCP peer, or the proxy headers when `http.trust_proxy_headers`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress {
    trust_proxy_headers: bool,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        if self.trust_proxy_headers {
            return SmartIpKeyExtractor.extract(req);
        }
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

pub type AuthLimitLayer =
    GovernorLayer<ClientAddress, NoOpMiddleware<governor::clock::QuantaInstant>, Body>;

/// The layer for sign-in and sign-up routes: `rate_limit.auth_burst` attempts at once, then
/// one more every `rate_limit.auth_period_secs`.
pub fn auth_limit(settings: &Settings) -> AuthLimitLayer {
    let config: GovernorConfig<ClientAddress, NoOpMiddleware<_>> = GovernorConfigBuilder::default()
        .period(Duration::from_secs(settings.rate_limit.auth_period_secs))
        .burst_size(settings.rate_limit.auth_burst)
        .key_extractor(ClientAddress {
            trust_proxy_headers: settings.http.trust_proxy_headers,
        })
        .finish()
        .unwrap_or_else(|| {
            // Only reachable with a zero period or burst, which settings validation refuses.
            unreachable!("rate limit settings are validated to be positive")
        });
    GovernorLayer::new(Arc::new(config)).error_handler(too_many_requests)
}

fn too_many_requests(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response = AppError::new(
                ErrorKind::TooManyRequests,
                "rate_limited",
                format!("too many attempts from this address; try again in {wait_time} s"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait_time.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        GovernorError::UnableToExtractKey => {
            AppError::internal("no client address: the server must be run with connect info")
                .into_response()
        }
        GovernorError::Other { code, msg, .. } => AppError::new(
            ErrorKind::TooManyRequests,
            "rate_limited",
            msg.unwrap_or_else(|| code.to_string()),
        )
        .into_response(),
    }
}
