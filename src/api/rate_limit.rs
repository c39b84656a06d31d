//! Rate limits (tower_governor), each answering 429 in the API error format with
//! `Retry-After`:
//!
//! - sign-in and sign-up, per client address (`rate_limit.auth_*`);
//! - the whole JSON API, per client address (`rate_limit.api_*`);
//! - the inboxes, per client address (`rate_limit.inbox_*`) and per origin instance
//!   (`rate_limit.instance_*`).
//!
//! Every limiter forgets keys that are back to a full budget once a minute, so the memory it
//! holds follows the clients active in the last minute, not every client ever seen.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfigBuilder, SharedRateLimiter};
use tower_governor::key_extractor::{KeyExtractor, SmartIpKeyExtractor};
use tower_governor::{GovernorError, governor::GovernorConfig};

use crate::error::{AppError, ErrorKind};
use crate::settings::Settings;

type Instant = governor::clock::QuantaInstant;

/// The client's address: the TCP peer, or the proxy headers when `http.trust_proxy_headers`.
/// An IPv6 address counts as its /64, the block one machine is usually given, so a client
/// cannot get a fresh budget by moving to the next address of its own block.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress {
    trust_proxy_headers: bool,
}

impl ClientAddress {
    fn new(settings: &Settings) -> ClientAddress {
        ClientAddress {
            trust_proxy_headers: settings.http.trust_proxy_headers,
        }
    }
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let address = if self.trust_proxy_headers {
            SmartIpKeyExtractor.extract(req)?
        } else {
            // Without a peer address (only when the router is called in-process, as some
            // tests do) every such request counts as one client.
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                    addr.ip()
                })
        };
        Ok(address_block(address))
    }
}

/// IPv4 addresses as they are; IPv6 ones as their /64 (IPv4-mapped ones as IPv4).
fn address_block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Who sent an inbox POST: the instance named by the host of its signature's keyId, or,
/// when there is no readable keyId, the client address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    Instance(String),
    Address(IpAddr),
}

/// Keys inbox POSTs by [`Origin`]. The keyId is read before the signature is checked, which
/// is the point: checking it may fetch the signer's key from the named host, and an
/// unlimited stream of made-up keyIds would make us hammer that host. The cost is that a
/// forger can spend a real instance's budget; the forger is still held to its own per-address
/// limit, and the real instance's senders retry after the 429, so it is delayed, not lost.
#[derive(Debug, Clone, Copy)]
pub struct OriginInstance {
    address: ClientAddress,
}

/// Longest host name DNS allows, plus room for ":port". Longer keyId hosts are not real
/// instances and count against the client address instead, so keys stay small.
const MAX_ORIGIN_LEN: usize = 253 + 6;

impl KeyExtractor for OriginInstance {
    type Key = Origin;

    fn extract<T>(&self, req: &Request<T>) -> Result<Origin, GovernorError> {
        let instance = req
            .headers()
            .get("signature")
            .and_then(|value| value.to_str().ok())
            .and_then(crate::federation::signed_fetch::key_id)
            .and_then(|key| url::Url::parse(key).ok())
            .map(|key| crate::federation::actor::authority(&key).to_ascii_lowercase())
            .filter(|host| !host.is_empty() && host.len() <= MAX_ORIGIN_LEN);
        match instance {
            Some(host) => Ok(Origin::Instance(host)),
            None => self.address.extract(req).map(Origin::Address),
        }
    }
}

pub type Limit<K> = GovernorLayer<K, NoOpMiddleware<Instant>, Body>;
pub type AuthLimitLayer = Limit<ClientAddress>;

/// The layer for sign-in and sign-up routes: `rate_limit.auth_burst` attempts at once, then
/// one more every `rate_limit.auth_period_secs`.
pub fn auth_limit(settings: &Settings) -> AuthLimitLayer {
    limit(
        ClientAddress::new(settings),
        settings.rate_limit.auth_burst,
        Duration::from_secs(settings.rate_limit.auth_period_secs),
        "too many attempts from this address",
    )
}

/// The layer for all of `/api/v1`: `rate_limit.api_burst` requests at once per address, then
/// `rate_limit.api_per_second`.
pub fn api_limit(settings: &Settings) -> Limit<ClientAddress> {
    limit(
        ClientAddress::new(settings),
        settings.rate_limit.api_burst,
        per_second(settings.rate_limit.api_per_second),
        "too many requests from this address",
    )
}

/// The layer for the inboxes, per client address (`rate_limit.inbox_*`).
pub fn inbox_address_limit(settings: &Settings) -> Limit<ClientAddress> {
    limit(
        ClientAddress::new(settings),
        settings.rate_limit.inbox_burst,
        per_second(settings.rate_limit.inbox_per_second),
        "too many activities from this address",
    )
}

/// The layer for the inboxes, per origin instance (`rate_limit.instance_*`).
pub fn inbox_instance_limit(settings: &Settings) -> Limit<OriginInstance> {
    limit(
        OriginInstance {
            address: ClientAddress::new(settings),
        },
        settings.rate_limit.instance_burst,
        per_second(settings.rate_limit.instance_per_second),
        "too many activities from this instance",
    )
}

/// The interval after which one more request is allowed, for `rate` requests a second.
fn per_second(rate: u32) -> Duration {
    Duration::from_secs(1) / rate.max(1)
}

/// `burst` requests at once per key, then one more every `every`; refusals say `what`.
fn limit<K>(key: K, burst: u32, every: Duration, what: &'static str) -> Limit<K>
where
    K: KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync + 'static,
{
    let config: GovernorConfig<K, NoOpMiddleware<Instant>> = GovernorConfigBuilder::default()
        .period(every)
        .burst_size(burst)
        .key_extractor(key)
        .finish()
        .unwrap_or_else(|| {
            // Only reachable with a zero period or burst, which settings validation refuses.
            unreachable!("rate limit settings are validated to be positive")
        });
    forget_idle_keys(Arc::downgrade(config.limiter()), FORGET_EVERY);
    GovernorLayer::new(Arc::new(config)).error_handler(move |error| too_many_requests(error, what))
}

/// How often limiters drop keys whose budget is full again.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Drops idle keys every `every` while the limiter exists. Without it, every address
/// and keyId host ever seen would stay in memory. Outside a runtime (nothing serves then)
/// there is nothing to do.
fn forget_idle_keys<K>(limiter: Weak<SharedRateLimiterOf<K>>, every: Duration)
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(limiter) = limiter.upgrade() else {
                return;
            };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// The rate limiter inside a [`SharedRateLimiter`] (which is an `Arc` of it).
type SharedRateLimiterOf<K> =
    <SharedRateLimiter<K, NoOpMiddleware<Instant>> as std::ops::Deref>::Target;

fn too_many_requests(error: GovernorError, what: &str) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            // Waits under a second round down to 0, which clients would take as "now".
            let wait_time = wait_time.max(1);
            let mut response = AppError::new(
                ErrorKind::TooManyRequests,
                "rate_limited",
                format!("{what}; try again in {wait_time} s"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait_time.to_string()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, signature: Option<&str>) -> Request<()> {
        let mut builder = Request::post("/inbox");
        if let Some(signature) = signature {
            builder = builder.header("signature", signature);
        }
        let mut request = builder.body(()).expect("request");
        request.extensions_mut().insert(ConnectInfo(
            peer.parse::<SocketAddr>().expect("socket address"),
        ));
        request
    }

    #[test]
    fn ipv6_clients_count_as_their_slash_64() {
        let key = |peer: &str| {
            ClientAddress::new(&Settings::default())
                .extract(&request(peer, None))
                .expect("key")
        };
        assert_eq!(
            key("[2001:db8:1:2:aaaa::1]:1000"),
            key("[2001:db8:1:2:bbbb::2]:2000")
        );
        assert_ne!(key("[2001:db8:1:2::1]:1000"), key("[2001:db8:1:3::1]:1000"));
        assert_eq!(
            key("[::ffff:192.0.2.7]:1000"),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            key("192.0.2.7:1000"),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn inbox_posts_count_against_the_keyid_host_or_else_the_address() {
        let origin = |peer: &str, signature: Option<&str>| {
            OriginInstance {
                address: ClientAddress::new(&Settings::default()),
            }
            .extract(&request(peer, signature))
            .expect("key")
        };
        let signed = |key: &str| {
            format!(r#"keyId="{key}",headers="(request-target) host date digest",signature="c2ln""#)
        };
        let a = origin(
            "192.0.2.1:1",
            Some(&signed("https://A.example/u/x#main-key")),
        );
        assert_eq!(a, Origin::Instance("a.example".into()));
        assert_eq!(
            origin(
                "192.0.2.2:1",
                Some(&signed("https://a.example/c/y#main-key"))
            ),
            a,
            "one instance from two addresses is one key"
        );
        assert_eq!(
            origin(
                "192.0.2.1:1",
                Some(&signed("http://localhost:8541/u/x#main-key"))
            ),
            Origin::Instance("localhost:8541".into())
        );
        let by_address = Origin::Address("192.0.2.1".parse().expect("ip"));
        assert_eq!(origin("192.0.2.1:1", None), by_address);
        assert_eq!(
            origin("192.0.2.1:1", Some(r#"signature="c2ln""#)),
            by_address
        );
        assert_eq!(
            origin("192.0.2.1:1", Some(&signed("not a url"))),
            by_address
        );
        let long = format!("https://{}.example/u/x", "a".repeat(300));
        assert_eq!(origin("192.0.2.1:1", Some(&signed(&long))), by_address);
    }

    #[test]
    fn per_second_rates_become_intervals() {
        assert_eq!(per_second(1), Duration::from_secs(1));
        assert_eq!(per_second(50), Duration::from_millis(20));
        assert_eq!(
            per_second(crate::settings::MAX_PER_SECOND),
            Duration::from_micros(1)
        );
    }

    #[tokio::test]
    async fn idle_keys_are_forgotten_while_the_limiter_lives() {
        let config: GovernorConfig<ClientAddress, NoOpMiddleware<Instant>> =
            GovernorConfigBuilder::default()
                .period(Duration::from_millis(1))
                .burst_size(2)
                .key_extractor(ClientAddress::new(&Settings::default()))
                .finish()
                .expect("config");
        let limiter = config.limiter().clone();
        forget_idle_keys(Arc::downgrade(&limiter), Duration::from_millis(20));
        for n in 0..100u8 {
            let key = IpAddr::from([192, 0, 2, n]);
            assert!(limiter.check_key(&key).is_ok());
            assert!(limiter.check_key(&key).is_ok());
            assert!(limiter.check_key(&key).is_err(), "beyond the burst");
        }
        assert_eq!(limiter.len(), 100);
        let forgotten = crate::testing::wait_until(Duration::from_secs(5), || {
            let limiter = limiter.clone();
            async move { limiter.is_empty() }
        })
        .await;
        assert!(
            forgotten,
            "{} keys with a full budget again are kept",
            limiter.len()
        );
        // The task ends with the limiter rather than keeping it alive.
        let weak = Arc::downgrade(&limiter);
        drop((config, limiter));
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn refusals_carry_a_retry_after_of_at_least_one_second() {
        for (wait, expected) in [(0, "1"), (7, "7")] {
            let response = too_many_requests(
                GovernorError::TooManyRequests {
                    wait_time: wait,
                    headers: None,
                },
                "too many requests from this address",
            );
            assert_eq!(response.status(), 429);
            assert_eq!(response.headers()[header::RETRY_AFTER], expected);
        }
    }
}
