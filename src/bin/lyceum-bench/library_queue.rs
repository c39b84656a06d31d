//! activitypub_federation's own activity queue (`queue_activity`), fed the same activities
//! for the same mock inboxes as Lyceum's outbox, so the two fan-outs can be compared.

use std::fmt::Debug;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use activitypub_federation::config::{Data, FederationConfig};
use activitypub_federation::traits::{Activity, Actor, Object};
use anyhow::Context;
use async_trait::async_trait;
use serde::Serialize;
use url::Url;

use crate::suite::MockInstances;

/// The signing actor: a key and an id, nothing stored.
#[derive(Debug, Clone)]
struct Sender {
    id: Url,
    public_key_pem: String,
    private_key_pem: String,
}

#[async_trait]
impl Object for Sender {
    type DataType = ();
    type Kind = ();
    type Error = activitypub_federation::error::Error;

    fn id(&self) -> &Url {
        &self.id
    }

    async fn read_from_id(_: Url, _: &Data<()>) -> Result<Option<Self>, Self::Error> {
        Ok(None)
    }

    async fn into_json(self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn verify(_: &(), _: &Url, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn from_json(_: (), _: &Data<()>) -> Result<Self, Self::Error> {
        Err(activitypub_federation::error::Error::NotFound)
    }
}

impl Actor for Sender {
    fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        Some(self.private_key_pem.clone())
    }

    fn inbox(&self) -> Url {
        self.id.join("/inbox").expect("a valid inbox URL")
    }
}

/// The same Create(Note) shape and size as the outbox run sends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    #[serde(rename = "@context")]
    context: &'static str,
    id: Url,
    #[serde(rename = "type")]
    kind: &'static str,
    actor: Url,
    to: [&'static str; 1],
    object: serde_json::Value,
}

#[async_trait]
impl Activity for Create {
    type DataType = ();
    type Error = activitypub_federation::error::Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        &self.actor
    }

    async fn verify(&self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn receive(self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Queues `activities` activities for every mock inbox with `queue_activity` and returns
/// the deliveries per second until the mocks have counted them all.
///
/// The library refuses explicit ports and loopback addresses outside its debug mode, and in
/// debug mode it sends one request after another instead of queueing; so it runs in
/// production mode with `DANGER_FEDERATION_ALLOW_LOCAL_IP` set (the suite sets it when it
/// starts itself in its own mount namespace), against the port-80 names the suite's hosts
/// file gives the mocks.
pub async fn deliveries_per_second(
    mocks: &MockInstances,
    activities: usize,
    worker_count: usize,
    private_key_pem: &str,
    public_key_pem: &str,
) -> anyhow::Result<f64> {
    anyhow::ensure!(
        std::env::var_os("DANGER_FEDERATION_ALLOW_LOCAL_IP").is_some(),
        "DANGER_FEDERATION_ALLOW_LOCAL_IP must be set, or the library refuses the loopback inboxes"
    );
    let config = FederationConfig::builder()
        .domain("sender.bench.test")
        .app_data(())
        .debug(false)
        .allow_http_urls(true)
        .queue_worker_count(worker_count)
        .build()
        .await
        .context("the library's configuration")?;
    let data = config.to_request_data();
    let sender = Sender {
        id: Url::parse("http://sender.bench.test/u/sender")?,
        public_key_pem: public_key_pem.to_owned(),
        private_key_pem: private_key_pem.to_owned(),
    };
    let inboxes: Vec<Url> = mocks
        .inbox_urls()
        .iter()
        .map(|u| Url::parse(u))
        .collect::<Result<_, _>>()?;
    let expected = inboxes.len() * activities;
    let content = crate::note_content();
    mocks.deliveries.store(0, Ordering::Relaxed);
    let started = Instant::now();
    for n in 0..activities {
        let activity = Create {
            context: "https://www.w3.org/ns/activitystreams",
            id: Url::parse(&format!("http://sender.bench.test/activities/create/{n}"))?,
            kind: "Create",
            actor: sender.id.clone(),
            to: ["https://www.w3.org/ns/activitystreams#Public"],
            object: serde_json::json!({
                "id": format!("http://sender.bench.test/r/{n}"), "type": "Note",
                "attributedTo": sender.id, "content": content,
            }),
        };
        activitypub_federation::activity_queue::queue_activity(
            &activity,
            &sender,
            inboxes.clone(),
            &data,
        )
        .await
        .context("queue_activity")?;
    }
    mocks
        .wait_for_deliveries(expected, Duration::from_secs(600))
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(expected as f64 / seconds)
}
