//! The `activitypub_federation` configuration: our HTTP client (address guard after DNS,
//! no automatic redirects, timeouts, User-Agent), our URL policy, and the instance actor
//! that signs fetches.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use activitypub_federation::config::{Data, FederationConfig, UrlVerifier};
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::actor::KnownActor;
use super::url_guard;
use crate::context::AppContext;

/// What handlers and workers use to fetch, verify and sign.
pub type FederationData = Data<AppContext>;

/// Remote fetches allowed while handling one request or activity (Lemmy uses the same).
pub const HTTP_FETCH_LIMIT: u32 = 100;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the configuration once per process; the instance actor must exist.
pub async fn build(ctx: &AppContext) -> anyhow::Result<FederationConfig<AppContext>> {
    let debug = ctx.settings.federation.debug;
    let instance_actor = KnownActor::local_instance(ctx).await?;
    let config = FederationConfig::builder()
        .domain(ctx.settings.domain.clone())
        .app_data(ctx.clone())
        .client(http_client(ctx)?.into())
        .http_fetch_limit(HTTP_FETCH_LIMIT)
        .http_signature_compat(true)
        .request_timeout(REQUEST_TIMEOUT)
        .signed_fetch_actor(&instance_actor)
        .url_verifier(Box::new(UrlPolicy {
            debug,
            db: ctx.db.clone(),
        }))
        .debug(debug)
        .build()
        .await?;
    Ok(config)
}

/// The client for every outgoing request, fetches and deliveries alike.
pub fn http_client(ctx: &AppContext) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .user_agent(format!(
            "{}/{} (+{})",
            crate::SOFTWARE_NAME,
            crate::VERSION,
            ctx.public_url()
        ))
        // Redirects are followed by the library, one at a time, each target checked again.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .dns_resolver(Arc::new(GuardedResolver {
            debug: ctx.settings.federation.debug,
        }))
        .build()?)
}

/// Refuses URLs by scheme and host before a request is made (`url_guard::check_url`), and
/// URLs on domains an admin blocked.
#[derive(Clone)]
struct UrlPolicy {
    debug: bool,
    db: crate::db::Db,
}

#[async_trait]
impl UrlVerifier for UrlPolicy {
    async fn verify(&self, url: &Url) -> Result<(), activitypub_federation::error::Error> {
        url_guard::check_url(url, self.debug).map_err(|refusal| {
            tracing::debug!(%url, %refusal, "URL refused");
            activitypub_federation::error::Error::UrlVerificationError(
                "the address is not a public https URL",
            )
        })?;
        let authority = super::actor::authority(url);
        match crate::service::federation_policy::standing(&self.db, &authority).await {
            Ok(standing) if standing.federates() => Ok(()),
            Ok(_) => Err(activitypub_federation::error::Error::UrlVerificationError(
                "this instance does not federate with the domain",
            )),
            Err(_) => Err(activitypub_federation::error::Error::UrlVerificationError(
                "the federation policy could not be read",
            )),
        }
    }
}

/// Resolves host names and refuses every answer that contains a non-public address, so
/// a name that rebinds to 127.0.0.1 or a metadata address is never connected to.
struct GuardedResolver {
    debug: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let debug = self.debug;
        let host = name.as_str().trim_end_matches('.').to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !debug {
                for addr in &addrs {
                    url_guard::check_ip(addr.ip())
                        .map_err(|refusal| Box::new(refusal) as Box<_>)?;
                }
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_loopback() {
        let guarded = GuardedResolver { debug: false };
        let name: Name = "localhost".parse().expect("name");
        assert!(guarded.resolve(name).await.is_err());
        let relaxed = GuardedResolver { debug: true };
        let name: Name = "localhost".parse().expect("name");
        assert!(relaxed.resolve(name).await.is_ok());
    }
}
