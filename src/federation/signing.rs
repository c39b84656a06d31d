//! Outgoing HTTP signatures (draft-cavage, as Mastodon and Lemmy expect), signed with
//! aws-lc-rs: RSA signing is the cost of every delivery, and aws-lc-rs is several times
//! faster than the pure-Rust `rsa` crate the federation library signs with.

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
    let signature = http_signature_normalization::Config::new()
        .mastodon_compat()
        .require_digest()
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
