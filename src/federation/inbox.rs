//! The inboxes (`/inbox`, `/c/{name}/inbox`, `/u/{name}/inbox`): size, media type and JSON
//! checks first, then the Digest and the HTTP signature against the actor's key, then
//! `receive` applies the activity.

use std::time::Duration;

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use url::Url;

use super::actor::{KnownActor, authority};
use super::classify::{Inbound, Refusal, classify, link_field};
use crate::context::AppContext;
use crate::error::{AppError, AppResult, ErrorKind};

/// Largest activity accepted (spec §13; Mastodon and Lemmy use the same order).
pub const MAX_ACTIVITY_BYTES: usize = 1024 * 1024;
/// Receivers give up after 10 s; answer before that (Lemmy uses 9 s).
const PROCESSING_TIMEOUT: Duration = Duration::from_secs(9);

/// An activity of any type, kept whole: its JSON is forwarded unchanged when a group
/// announces it, so no field may be lost in parsing. `inbound` is what it means to us.
#[derive(Debug, Clone)]
pub struct InboxActivity {
    pub id: Url,
    pub actor: Url,
    pub kind: String,
    pub raw: Value,
    pub inbound: Inbound,
}

/// The id of a link that may be a string or an object with `id`.
pub fn link_id(value: &Value) -> Option<Url> {
    match value {
        Value::String(s) => Url::parse(s).ok(),
        Value::Object(map) => map
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| Url::parse(s).ok()),
        Value::Array(items) if items.len() == 1 => items.first().and_then(link_id),
        _ => None,
    }
}

impl InboxActivity {
    /// Classifies `raw`; whatever reaches an inbox must also name its id and actor, which
    /// the signature check needs.
    pub fn from_value(raw: Value) -> Result<InboxActivity, Refusal> {
        let inbound = classify(&raw)?;
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let id = link_field(&raw, "id", &kind)?;
        let actor = link_field(&raw, "actor", &kind)?;
        Ok(InboxActivity {
            id,
            actor,
            kind,
            raw,
            inbound,
        })
    }
}

/// What the inbox does with a received body before any network or database access: the
/// size limit, JSON parsing and classification. Public for the fuzz target.
pub fn parse_activity(bytes: &[u8]) -> Result<InboxActivity, AppError> {
    if bytes.len() > MAX_ACTIVITY_BYTES {
        return Err(AppError::new(
            ErrorKind::PayloadTooLarge,
            "payload_too_large",
            format!("an activity may be at most {MAX_ACTIVITY_BYTES} bytes"),
        ));
    }
    // serde_json stops at 128 levels of nesting, so hostile depth is an error, not a crash.
    let value: Value = serde_json::from_slice(bytes).map_err(|err| {
        AppError::new(
            ErrorKind::BadRequest,
            "invalid_json",
            format!("the body is not valid JSON: {err}"),
        )
    })?;
    InboxActivity::from_value(value).map_err(|refusal| {
        tracing::debug!(code = refusal.code, message = %refusal.message, "activity refused");
        AppError::new(ErrorKind::BadRequest, refusal.code, refusal.message)
    })
}

fn refuse(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Response {
    AppError::new(kind, code, message).into_response()
}

/// POST to any inbox: all share one handler, as the activity says whom it is for.
pub async fn post_inbox(data: Data<AppContext>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let media_ok = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/"));
    if !media_ok {
        return refuse(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "post activities as application/activity+json",
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_ACTIVITY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refuse(
                ErrorKind::PayloadTooLarge,
                "payload_too_large",
                format!("an activity may be at most {MAX_ACTIVITY_BYTES} bytes"),
            );
        }
    };
    let activity = match parse_activity(&bytes) {
        Ok(activity) => activity,
        Err(err) => return err.into_response(),
    };
    if let Err(refusal) = check_signature_present(&parts.headers) {
        return *refusal;
    }
    if authority(&activity.id) != authority(&activity.actor) {
        return refuse(
            ErrorKind::BadRequest,
            "origin_mismatch",
            "the activity id and its actor are on different hosts",
        );
    }
    if authority(&activity.actor).eq_ignore_ascii_case(&data.settings.domain) {
        return refuse(
            ErrorKind::BadRequest,
            "local_actor",
            "activities of this instance's actors are not received from outside",
        );
    }
    if let Err(err) = crate::service::federation_policy::ensure_federates(
        &data.db,
        &authority(&activity.actor),
        "the sender",
    )
    .await
    {
        return err.into_response();
    }
    // After the policy, which answers a refused domain 403 whatever it signed, and before
    // the library's verification, which may fetch the signer's key.
    if let Err((code, message)) = check_signature_date(&parts.headers, chrono::Utc::now()) {
        return refuse(ErrorKind::Unauthorized, code, message);
    }
    // For the log and the revival after the activity itself is consumed.
    let (id, kind, actor) = (
        activity.id.clone(),
        activity.kind.clone(),
        activity.actor.clone(),
    );
    let received = tokio::time::timeout(
        PROCESSING_TIMEOUT,
        verify_and_receive(activity, &parts, &bytes, &data),
    )
    .await;
    match received {
        Ok(Ok(())) => {
            // The sender is alive: deliveries to it resume if it was marked dead.
            let domain = authority(&actor).to_ascii_lowercase();
            let revived = async {
                crate::with_conn!(&data.db, |conn| crate::db::outbox::revive(
                    &mut conn, &domain
                )
                .await
                .map_err(AppError::from))
            };
            if let Ok(true) = revived.await {
                tracing::info!(%domain, "instance revived by an activity it sent");
                super::outbox::wake();
            }
            retry_backlog_of(&data, &domain).await;
            StatusCode::ACCEPTED.into_response()
        }
        Ok(Err(err)) => {
            tracing::info!(
                activity = %id,
                kind = %kind,
                code = err.code,
                status = err.status().as_u16(),
                "activity refused"
            );
            err.into_response()
        }
        Err(_) => {
            let mut response = refuse(
                ErrorKind::ServiceUnavailable,
                "processing_timeout",
                "the activity could not be processed in time; send it again later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            response
        }
    }
}

/// What a received activity's signature must cover (the Digest), and for how long it
/// holds: one hour, as `SIGNATURE_DATE_WINDOW` (checked in `post_inbox`) and the library.
static INBOX_SIGNATURES: std::sync::LazyLock<http_signature_normalization::Config> =
    std::sync::LazyLock::new(|| {
        http_signature_normalization::Config::new()
            .require_digest()
            .set_expiration(Duration::from_secs(3600))
    });

/// Verifies what activitypub_federation's `receive_activity` verifies, in its order, then
/// applies the activity: the Digest against the body, the activity's id as a URL we may
/// take, the actor (stored, or fetched), and the signature against the actor's key
/// (whatever key the `keyId` names), covering the Digest and at most an hour old. Done
/// here rather than by the library because it verifies with the RustCrypto `rsa` crate,
/// which took 10 % of the server's CPU per received activity (about 9x what aws-lc-rs,
/// our signer, takes; "Profiles" in docs/benchmarks.md), parses the activity a second
/// time, and asks the federation policy about the sender's domain again. aws-lc-rs also
/// reads PKCS#1 keys (`BEGIN RSA PUBLIC KEY`, as Mobilizon publishes), which the library
/// refused.
async fn verify_and_receive(
    activity: InboxActivity,
    parts: &Parts,
    body: &[u8],
    data: &Data<AppContext>,
) -> AppResult<()> {
    let digest = parts
        .headers
        .get("digest")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !super::signing::digest_matches(digest, body) {
        return Err(AppError::unauthorized(
            "digest_invalid",
            "the Digest header is missing or does not match the body",
        ));
    }
    // The policy was asked in `post_inbox`; the rest of the library's URL check.
    super::url_guard::check_url(&activity.id, data.settings.federation.debug).map_err(
        |refusal| AppError::forbidden("url_refused", format!("the URL is refused: {refusal}")),
    )?;
    let actor = ObjectId::<KnownActor>::from(activity.actor.clone())
        .dereference(data)
        .await?;
    let unverified = super::signing::begin_verify(
        &INBOX_SIGNATURES,
        &parts.headers,
        &parts.method,
        &parts.uri,
        &data.settings.domain,
    )
    .map_err(|e| {
        AppError::unauthorized(
            "signature_invalid",
            format!("the HTTP signature could not be verified: {e}"),
        )
    })?;
    let key = actor.public_key_pem();
    if !unverified.verify(|signature, signed| {
        super::signing::verify_rsa_sha256(key, signed.as_bytes(), signature)
    }) {
        return Err(AppError::unauthorized(
            "signature_invalid",
            "the HTTP signature could not be verified",
        ));
    }
    super::receive::receive(activity, data).await
}

/// An unsigned request is refused before anything is fetched. RFC 9421 signatures are not
/// verified yet: 401 makes double-knocking senders retry with draft-cavage (spec §8.5).
/// How often one instance's activities may make its retry backlog due again.
const BACKLOG_RETRY_EVERY: Duration = Duration::from_secs(60);

/// An instance that sends us an activity is reachable: deliveries to it waiting out a
/// backoff go now rather than minutes or hours later. At most once a minute per instance
/// and process, as the update reads all of its pending deliveries.
async fn retry_backlog_of(data: &Data<AppContext>, domain: &str) {
    static LAST: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    > = std::sync::LazyLock::new(Default::default);
    {
        let mut last = LAST.lock().expect("backlog retry times");
        let now = std::time::Instant::now();
        if last
            .get(domain)
            .is_some_and(|at| now.duration_since(*at) < BACKLOG_RETRY_EVERY)
        {
            return;
        }
        if last.len() > 10_000 {
            last.retain(|_, at| now.duration_since(*at) < BACKLOG_RETRY_EVERY);
        }
        last.insert(domain.to_owned(), now);
    }
    let retried = async {
        crate::with_conn!(&data.db, |conn| crate::db::outbox::retry_backlog_now(
            &mut conn,
            domain,
            crate::db::now()
        )
        .await
        .map_err(AppError::from))
    };
    match retried.await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(%domain, n, "deliveries to an instance that is reachable again go now");
            super::outbox::wake();
        }
        Err(err) => tracing::warn!(%domain, error = %err, "cannot retry an instance's backlog"),
    }
}

/// Public for the fuzz target.
pub fn check_signature_present(headers: &HeaderMap) -> Result<(), Box<Response>> {
    // RFC 9421 also uses a `Signature` header, always with `Signature-Input`.
    if headers.contains_key("signature-input") {
        return Err(Box::new(refuse(
            ErrorKind::Unauthorized,
            "signature_unsupported",
            "RFC 9421 signatures are not accepted yet; sign with draft-cavage HTTP signatures",
        )));
    }
    if headers.contains_key("signature") {
        return Ok(());
    }
    Err(Box::new(refuse(
        ErrorKind::Unauthorized,
        "signature_required",
        "activities must carry an HTTP signature",
    )))
}

/// How far the signed `Date` (or `(created)`) may be from our clock, either way. One hour
/// back is also what `activitypub_federation` checks (`EXPIRES_AFTER`); it checks nothing
/// ahead, so a signature dated next year could be replayed for a year. Mastodon refuses
/// more than one hour ahead too (spec §8.1).
pub const SIGNATURE_DATE_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// The signature must cover `date` or `(created)` (spec §8.1, as Mastodon), and that time
/// must lie within `SIGNATURE_DATE_WINDOW` of `now`: otherwise a captured request could be
/// replayed with any `Date` the attacker likes, or for ever.
/// Refusals are (code, message), answered 401.
fn check_signature_date(
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), (&'static str, String)> {
    let out = |code: &'static str, message: String| Err((code, message));
    let signature = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let param = |name: &str| super::signed_fetch::parameter(signature, name);
    // Draft-cavage: without `headers`, only `date` is signed.
    let covered: Vec<String> = param("headers")
        .unwrap_or("date")
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let signed_at = if covered.iter().any(|h| h == "date") {
        headers
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
    } else if covered.iter().any(|h| h == "(created)") {
        param("created")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
    } else {
        return out(
            "signature_date_unsigned",
            "the signature must cover the Date header or (created)".into(),
        );
    };
    let Some(signed_at) = signed_at else {
        return out(
            "signature_date_invalid",
            "the signed date is missing or not an HTTP date".into(),
        );
    };
    if signed_at > now + SIGNATURE_DATE_WINDOW || signed_at < now - SIGNATURE_DATE_WINDOW {
        return out(
            "signature_out_of_window",
            format!(
                "the signature is dated {signed_at}, more than {} minutes from now",
                SIGNATURE_DATE_WINDOW.num_minutes()
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{Value, json};

    use crate::testing::{TestApi, for_each_backend, test_settings};

    /// The code `check_signature_date` refuses a request with `signature` and `date` with,
    /// at noon on 2026-11-30.
    fn date_check(signature: &str, date: Option<&str>) -> Option<&'static str> {
        let now = chrono::DateTime::parse_from_rfc2822("Mon, 30 Nov 2026 12:00:00 GMT")
            .expect("date")
            .with_timezone(&chrono::Utc);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("signature", signature.parse().expect("header"));
        if let Some(date) = date {
            headers.insert("date", date.parse().expect("header"));
        }
        super::check_signature_date(&headers, now)
            .err()
            .map(|(code, _)| code)
    }

    #[test]
    fn the_signed_date_must_be_within_an_hour_of_now() {
        let covering = |h: &str| format!(r#"keyId="k",headers="{h}",signature="x""#);
        let signed = covering("(request-target) host date digest");
        for (date, accepted) in [
            ("Mon, 30 Nov 2026 12:00:00 GMT", true),
            ("Mon, 30 Nov 2026 11:05:00 GMT", true),
            ("Mon, 30 Nov 2026 12:55:00 GMT", true),
            ("Mon, 30 Nov 2026 10:59:00 GMT", false),
            ("Mon, 30 Nov 2026 13:01:00 GMT", false),
            ("Tue, 30 Nov 2027 12:00:00 GMT", false),
            ("yesterday", false),
        ] {
            let expected = if accepted {
                None
            } else if date == "yesterday" {
                Some("signature_date_invalid")
            } else {
                Some("signature_out_of_window")
            };
            assert_eq!(date_check(&signed, Some(date)), expected, "{date}");
        }
        assert_eq!(
            date_check(&signed, None),
            Some("signature_date_invalid"),
            "a signed Date must be sent"
        );
        let unsigned = covering("(request-target) host digest");
        assert_eq!(
            date_check(&unsigned, Some("Mon, 30 Nov 2026 12:00:00 GMT")),
            Some("signature_date_unsigned")
        );
        let created = |t: i64| {
            format!(
                r#"keyId="k",headers="(request-target) (created) digest",created={t},signature="x""#
            )
        };
        let noon = 1_796_040_000; // 2026-11-30T12:00:00Z
        assert_eq!(date_check(&created(noon - 60), None), None);
        assert_eq!(
            date_check(&created(noon + 7200), None),
            Some("signature_out_of_window")
        );
    }

    /// The parsing the inbox and the `inbound_activity` fuzz target share: hostile size
    /// and depth are named refusals, not crashes.
    #[test]
    fn hostile_bodies_are_refused_by_name() {
        let code = |bytes: &[u8]| super::parse_activity(bytes).map(|_| ()).map_err(|e| e.code);
        let big = vec![b' '; super::MAX_ACTIVITY_BYTES + 1];
        assert_eq!(code(&big), Err("payload_too_large"));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(code(deep.as_bytes()), Err("invalid_json"));
        assert_eq!(code(b"{\"type\":"), Err("invalid_json"));
        assert_eq!(code(b"[]"), Err("not_an_object"));
        let follow = br#"{"id":"https://r.example/f/1","type":"Follow","actor":"https://r.example/u/bo","object":"https://g.example/c/g"}"#;
        assert_eq!(code(follow), Ok(()));
    }

    async fn post(api: &TestApi, body: &Value) -> crate::testing::TestResponse {
        let request = Request::builder()
            .method("POST")
            .uri("/inbox")
            .header("content-type", "application/activity+json")
            .body(Body::from(body.to_string()))
            .expect("request");
        api.send(request).await
    }

    /// What the classifier refuses is answered 400 with its code before anything is
    /// fetched or verified; what it takes goes on to the signature check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_inbox_answers_a_refused_document_with_the_classifier_code() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let like = |object: Value| {
                json!({"id": "https://r.example/like/1", "type": "Like",
                       "actor": "https://r.example/u/mallory", "object": object})
            };
            let refused = post(&api, &like(json!(42))).await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (400, "invalid_object")
            );
            let mut announce = like(json!("https://r.example/p/1"));
            for _ in 0..2 {
                announce = json!({"id": "https://g.example/a", "type": "Announce",
                                  "actor": "https://g.example/c/g", "object": announce});
            }
            let refused = post(&api, &announce).await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (400, "nested_announce")
            );
            let refused = post(
                &api,
                &json!({"id": "https://r.example/x", "actor": "https://r.example/u/m"}),
            )
            .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (400, "missing_type")
            );
            let unsigned = post(&api, &like(json!("https://r.example/p/1"))).await;
            assert_eq!(
                (unsigned.status.as_u16(), unsigned.code()),
                (401, "signature_required")
            );
        })
        .await;
    }
}
