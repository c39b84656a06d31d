//! HTTP signatures (draft-cavage, as Mastodon and Lemmy expect), made and checked with
//! aws-lc-rs: RSA is the cost of every delivery and of every received activity, and
//! aws-lc-rs is several times faster than the pure-Rust `rsa` crate the federation library
//! signs and verifies with.

use std::collections::BTreeMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use url::Url;

use super::ACTIVITY_JSON;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("the private key is not a PKCS#8 PEM RSA key: {0}")]
    BadKey(String),
    #[error("the inbox URL has no host")]
    NoHost,
    #[error("the signature could not be made: {0}")]
    Sign(String),
}

/// Which RSA implementation signs. Deliveries use aws-lc-rs; RustCrypto's `rsa` (what the
/// federation library signs with) is here so the benchmark can compare the two through
/// the same delivery path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaImplementation {
    AwsLc,
    RustCrypto,
}

/// A parsed private key, cheap to reuse for many signatures.
pub struct SigningKey {
    key: ParsedKey,
}

enum ParsedKey {
    AwsLc { key: RsaKeyPair, rng: SystemRandom },
    RustCrypto(Box<rsa::RsaPrivateKey>),
}

impl SigningKey {
    /// Parses a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM document for aws-lc-rs.
    pub fn from_pkcs8_pem(pem: &str) -> Result<SigningKey, SigningError> {
        SigningKey::from_pkcs8_pem_with(pem, RsaImplementation::AwsLc)
    }

    /// Parses a PKCS#8 PEM private key for the given implementation.
    pub fn from_pkcs8_pem_with(
        pem: &str,
        implementation: RsaImplementation,
    ) -> Result<SigningKey, SigningError> {
        let bad = |e: String| SigningError::BadKey(e);
        let key = match implementation {
            RsaImplementation::AwsLc => {
                let der = pem_to_der(pem).ok_or_else(|| bad("not base64 PEM".into()))?;
                let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?;
                ParsedKey::AwsLc {
                    key,
                    rng: SystemRandom::new(),
                }
            }
            RsaImplementation::RustCrypto => {
                use rsa::pkcs8::DecodePrivateKey;
                let key =
                    rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| bad(e.to_string()))?;
                ParsedKey::RustCrypto(Box::new(key))
            }
        };
        Ok(SigningKey { key })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256, base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, SigningError> {
        match &self.key {
            ParsedKey::AwsLc { key, rng } => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, rng, message, &mut signature)
                    .map_err(|e| SigningError::Sign(e.to_string()))?;
                Ok(BASE64.encode(signature))
            }
            ParsedKey::RustCrypto(key) => {
                // As activitypub_federation signs.
                let signature = key
                    .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
                    .map_err(|e| SigningError::Sign(e.to_string()))?;
                Ok(BASE64.encode(signature))
            }
        }
    }
}

/// DER bytes of a PEM document (any label).
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::trim)
        .collect();
    BASE64.decode(body).ok()
}

/// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature (base64) over `message` with a
/// `-----BEGIN PUBLIC KEY-----` PEM key.
pub fn verify_rsa_sha256(public_key_pem: &str, message: &[u8], signature_b64: &str) -> bool {
    let (Some(der), Ok(signature)) = (pem_to_der(public_key_pem), BASE64.decode(signature_b64))
    else {
        return false;
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        der,
    )
    .verify(message, &signature)
    .is_ok()
}

/// `SHA-256=<base64>` of the body, the `Digest` header value.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// Whether a received `Digest` header vouches for `body`: it names at least one digest and
/// each is `SHA-256=<base64>` of the body (spec §8.1: as Mastodon, no other algorithm).
pub fn digest_matches(header: &str, body: &[u8]) -> bool {
    let expected = BASE64.encode(Sha256::digest(body));
    // Parameters after `;` are not part of any digest (as activitypub_federation reads it).
    let digests = header.split(';').next().unwrap_or_default();
    let mut parts = digests.split(',').map(str::trim).peekable();
    parts.peek().is_some_and(|first| !first.is_empty())
        && parts.all(|part| {
            part.split_once('=').is_some_and(|(algorithm, value)| {
                algorithm.trim().eq_ignore_ascii_case("SHA-256") && value.trim() == expected
            })
        })
}

/// Reads a received request's draft-cavage signature for verification against the
/// signer's key: `config` says which headers must be signed and how old the signature may
/// be. `domain` stands in for a `Host` the request lacks (HTTP/2 has none, and some
/// proxies drop it), as activitypub_federation does.
pub fn begin_verify(
    config: &http_signature_normalization::Config,
    headers: &axum::http::HeaderMap,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    domain: &str,
) -> Result<
    http_signature_normalization::verify::Unverified,
    http_signature_normalization::PrepareVerifyError,
> {
    let mut map = BTreeMap::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            map.insert(name.as_str().to_owned(), value.to_owned());
        }
    }
    map.entry("host".to_owned())
        .or_insert_with(|| domain.to_owned());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    config.begin_verify(method.as_str(), path, map)
}

/// How deliveries are signed: Mastodon's header set, with the Digest. Built once: the
/// signer runs for every delivery.
static SIGNING_CONFIG: std::sync::LazyLock<http_signature_normalization::Config> =
    std::sync::LazyLock::new(|| {
        http_signature_normalization::Config::new()
            .mastodon_compat()
            .require_digest()
    });

/// The headers of a signed POST of `body` to `inbox`: `Date`, `Host`, `Digest`,
/// `Content-Type` and a `Signature` over `(request-target) content-type date digest host`
/// with `keyId="<actor>#main-key"`.
pub fn signed_post_headers(
    key: &SigningKey,
    actor_id: &str,
    inbox: &Url,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, SigningError> {
    let host = match (inbox.host_str(), inbox.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(SigningError::NoHost),
    };
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let digest = digest_header(body);
    let mut headers = BTreeMap::new();
    headers.insert("host".to_owned(), host.clone());
    headers.insert("date".to_owned(), date.clone());
    headers.insert("digest".to_owned(), digest.clone());
    headers.insert("content-type".to_owned(), ACTIVITY_JSON.to_owned());
    let mut path = inbox.path().to_owned();
    if let Some(query) = inbox.query() {
        path.push('?');
        path.push_str(query);
    }
    let signature = SIGNING_CONFIG
        .begin_sign("POST", &path, headers)
        .map_err(|e| SigningError::Sign(e.to_string()))?
        .sign(format!("{actor_id}#main-key"), |signing_string| {
            key.sign(signing_string.as_bytes())
        })?
        .signature_header();
    Ok(vec![
        ("host", host),
        ("date", date),
        ("digest", digest),
        ("content-type", ACTIVITY_JSON.to_owned()),
        ("signature", signature),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_what_the_public_key_verifies() {
        let pair = activitypub_federation::http_signatures::generate_actor_keypair().expect("keys");
        let key = SigningKey::from_pkcs8_pem(&pair.private_key).expect("parses");
        let inbox = Url::parse("https://remote.example/inbox?x=1").expect("url");
        let headers = signed_post_headers(&key, "https://local.example/u/alice", &inbox, b"{}")
            .expect("signs");
        let signature = &headers
            .iter()
            .find(|(k, _)| *k == "signature")
            .expect("sig")
            .1;
        assert!(signature.contains(r#"keyId="https://local.example/u/alice#main-key""#));
        assert!(signature.contains(r#"headers="(request-target) content-type date digest host""#));
        let digest = &headers
            .iter()
            .find(|(k, _)| *k == "digest")
            .expect("digest")
            .1;
        assert_eq!(
            digest,
            "SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="
        );
        assert!(
            SigningKey::from_pkcs8_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
            )
            .is_err()
        );
        let other =
            activitypub_federation::http_signatures::generate_actor_keypair().expect("keys");
        let sig = key.sign(b"message").expect("signs");
        assert!(verify_rsa_sha256(&pair.public_key, b"message", &sig));
        assert!(!verify_rsa_sha256(&pair.public_key, b"other", &sig));
        assert!(!verify_rsa_sha256(&other.public_key, b"message", &sig));
    }

    #[test]
    fn digests_are_checked_as_mastodon_checks_them() {
        let body = br#"{"type":"Follow"}"#;
        let good = digest_header(body);
        assert!(digest_matches(&good, body));
        assert!(digest_matches(&good.replace("SHA-256", "sha-256"), body));
        assert!(digest_matches(&format!("{good}, {good}"), body));
        assert!(!digest_matches(&good, br#"{"type":"Block"}"#));
        assert!(!digest_matches("", body));
        assert!(!digest_matches("SHA-256", body));
        assert!(!digest_matches(&good.replace("SHA-256", "MD5"), body));
        // Another algorithm beside a good SHA-256 is refused, as Mastodon refuses it.
        assert!(!digest_matches(&format!("{good},SHA-512=AAAA"), body));
    }

    /// Mobilizon publishes PKCS#1 keys (`BEGIN RSA PUBLIC KEY`,
    /// fixtures/mobilizon/objects/person.json); the library's verifier read only SPKI.
    #[test]
    fn pkcs1_public_keys_verify_as_spki_ones_do() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        let pair = activitypub_federation::http_signatures::generate_actor_keypair().expect("keys");
        let pkcs1 = rsa::RsaPublicKey::from_public_key_pem(&pair.public_key)
            .expect("spki")
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("pkcs1");
        assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        let key = SigningKey::from_pkcs8_pem(&pair.private_key).expect("parses");
        let sig = key.sign(b"message").expect("signs");
        assert!(verify_rsa_sha256(&pkcs1, b"message", &sig));
        assert!(!verify_rsa_sha256(&pkcs1, b"other", &sig));
    }

    #[test]
    fn both_implementations_make_the_same_signature() {
        // PKCS#1 v1.5 is deterministic: the benchmark compares equal work.
        let pair = activitypub_federation::http_signatures::generate_actor_keypair().expect("keys");
        let ours = SigningKey::from_pkcs8_pem(&pair.private_key).expect("aws-lc parses");
        let theirs =
            SigningKey::from_pkcs8_pem_with(&pair.private_key, RsaImplementation::RustCrypto)
                .expect("rsa parses");
        let message = b"(request-target): post /inbox";
        assert_eq!(
            ours.sign(message).expect("signs"),
            theirs.sign(message).expect("signs")
        );
    }
}
