//! Signed fetches: who asks for an object (for `partners` communities), and authorized
//! fetch (`federation.require_signed_fetch`): ActivityPub JSON only for GETs signed by a
//! remote actor. The library's own check requires a signed `Digest` and a
//! `#`-fragment keyId, which Mastodon's and GoToSocial's GETs lack (spec §8.2), so GETs are
//! verified here: `(request-target)`, `host` and `date` signed, within an hour.

use std::time::Duration;

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

use super::actor::{KnownActor, authority};
use super::http::wants_activity_json;
use crate::context::AppContext;
use crate::error::{AppError, AppResult};

/// Who asked for an object: the domain of the actor whose signature verified, or nobody
/// (an unsigned or unverifiable fetch). `partners` communities are served by it.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub authority: Option<String>,
}

/// Verifies the signature of an ActivityPub GET when there is one (always, so `partners`
/// communities know who asks) and records the signer as the `Requester`. An unsigned or
/// unverifiable GET goes on as anonymous, unless `federation.require_signed_fetch` is on
/// (then 401); a signer this instance does not federate with gets 403 either way.
pub async fn require_signature(
    State(ctx): State<AppContext>,
    mut request: Request,
    next: Next,
) -> Response {
    let required = ctx.settings.federation.require_signed_fetch;
    let signed = request.headers().contains_key("signature");
    if !wants_activity_json(request.headers()) || (!signed && !required) {
        request.extensions_mut().insert(Requester::default());
        return next.run(request).await;
    }
    let Some(config) = request
        .extensions()
        .get::<activitypub_federation::config::FederationConfig<AppContext>>()
    else {
        return AppError::internal("the federation configuration is missing").into_response();
    };
    let data = config.to_request_data();
    let (headers, method, uri) = (
        request.headers().clone(),
        request.method().clone(),
        request.uri().clone(),
    );
    let requester = match verify_get(&headers, &method, &uri, &data).await {
        Ok(signer) => {
            tracing::debug!(signer = %signer.id, "signed fetch verified");
            Requester {
                authority: Some(authority(&signer.id).to_ascii_lowercase()),
            }
        }
        Err(err) if required || err.kind == crate::error::ErrorKind::Forbidden => {
            return err.into_response();
        }
        Err(err) => {
            tracing::debug!(code = err.code, "unverified fetch served as anonymous");
            Requester::default()
        }
    };
    request.extensions_mut().insert(requester);
    next.run(request).await
}

fn unauthorized(message: &str) -> AppError {
    AppError::unauthorized("signature_required", message.to_owned())
}

/// A parameter (`keyId`, `headers`, `created`, ...) of a draft-cavage `Signature` header.
pub(crate) fn parameter<'a>(signature: &'a str, wanted: &str) -> Option<&'a str> {
    signature.split(',').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(wanted)
            .then(|| value.trim().trim_matches('"'))
    })
}

/// The `keyId` of a draft-cavage `Signature` header, unchecked (the inbox rate limit keys on
/// its host before anything is verified).
pub(crate) fn key_id(signature: &str) -> Option<&str> {
    parameter(signature, "keyId")
}

/// The actor a `Signature` header names: its keyId without the fragment.
pub fn signer_of(signature: &str) -> AppResult<Url> {
    let key = key_id(signature).ok_or_else(|| unauthorized("the signature has no keyId"))?;
    let mut owner = Url::parse(key).map_err(|_| unauthorized("the keyId is not a URL"))?;
    owner.set_fragment(None);
    Ok(owner)
}

/// How a signed GET is read: Mastodon's header set, valid for an hour.
static FETCH_SIGNATURES: std::sync::LazyLock<http_signature_normalization::Config> =
    std::sync::LazyLock::new(|| {
        http_signature_normalization::Config::new()
            .mastodon_compat()
            .set_expiration(Duration::from_secs(3600))
    });

/// Parses the signature of a GET (which must cover `(request-target)`) into what is
/// verified against the signer's key; `domain` is the host when the request names none.
pub fn begin_verify(
    headers: &axum::http::HeaderMap,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    domain: &str,
) -> AppResult<http_signature_normalization::verify::Unverified> {
    let signature = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("the request has no signature"))?;
    let unverified = super::signing::begin_verify(&FETCH_SIGNATURES, headers, method, uri, domain)
        .map_err(|e| unauthorized(&format!("the signature cannot be checked: {e}")))?;
    let signed = parameter(signature, "headers").unwrap_or_default();
    if !signed.split_whitespace().any(|h| h == "(request-target)") {
        return Err(unauthorized("the signature must cover (request-target)"));
    }
    Ok(unverified)
}

/// Verifies the request's signature against its signer's key and returns the signer.
pub async fn verify_get(
    headers: &axum::http::HeaderMap,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    data: &Data<AppContext>,
) -> AppResult<KnownActor> {
    let signature = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("this server requires signed fetches (authorized fetch)"))?;
    let owner = signer_of(signature)?;
    crate::service::federation_policy::ensure_federates(
        &data.db,
        &authority(&owner),
        "the requester",
    )
    .await?;
    let signer = ObjectId::<KnownActor>::from(owner)
        .dereference(data)
        .await
        .map_err(|_| unauthorized("the signing actor could not be fetched"))?;
    let unverified = begin_verify(headers, method, uri, &data.settings.domain)?;
    let pem = signer.public_key_pem().to_owned();
    let valid = unverified.verify(|sig, signing_string| {
        super::signing::verify_rsa_sha256(&pem, signing_string.as_bytes(), sig)
    });
    if valid {
        Ok(signer)
    } else {
        Err(AppError::unauthorized(
            "signature_invalid",
            "the HTTP signature could not be verified",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_read_from_the_signature_header() {
        let header = r#"keyId="https://a.example/u/x#main-key",algorithm="hs2019",headers="(request-target) host date",signature="abc=""#;
        assert_eq!(key_id(header), Some("https://a.example/u/x#main-key"));
        assert_eq!(key_id("signature=\"x\""), None);
    }

    /// What the `signature_header` fuzz target runs before any key is fetched.
    #[test]
    fn signed_gets_are_parsed_before_anything_is_fetched() {
        use axum::http::{HeaderMap, HeaderValue, Method, Uri};
        let owner = signer_of(r#"keyId="https://a.example/u/x#main-key",signature="x""#);
        assert_eq!(
            owner.map(String::from).ok().as_deref(),
            Some("https://a.example/u/x")
        );
        assert!(signer_of(r#"keyId="key-1",signature="x""#).is_err());
        let uri = Uri::from_static("/u/alice");
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let with = |signature: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("date", HeaderValue::from_str(&date).expect("date"));
            headers.insert(
                "signature",
                HeaderValue::from_str(signature).expect("value"),
            );
            begin_verify(&headers, &Method::GET, &uri, "lyceum.example").map(|_| ())
        };
        let covered = r#"keyId="https://a.example/u/x#k",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA""#;
        assert!(with(covered).is_ok());
        let uncovered = covered.replace("(request-target) ", "");
        assert!(with(&uncovered).is_err());
        assert!(begin_verify(&HeaderMap::new(), &Method::GET, &uri, "lyceum.example").is_err());
    }
}
