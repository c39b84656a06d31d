//! The HTTP signature headers of a request: the inbox's presence check (`Signature`,
//! RFC 9421 `Signature-Input`), the keyId a signed GET names, and the draft-cavage parsing
//! and verification of that GET against a key, as `signed_fetch::verify_get` runs them.
//!
//! The input is split at 0xFF bytes (never valid in a header) into the `Signature` value,
//! `Signature-Input`, `Date`, `Host`, `Digest`, the request path and one more header's name
//! and value; a part that is not a valid header value is left out, as the HTTP layer would.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use lyceum::federation::inbox::check_signature_present;
use lyceum::federation::signed_fetch::{begin_verify, signer_of};
use lyceum::federation::signing::verify_rsa_sha256;

/// A 2048-bit RSA public key made for this target (`openssl genpkey`), whose private half
/// was thrown away: generating one at run time under the sanitizer takes longer than
/// libFuzzer's timeout.
const PUBLIC_KEY: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuWlhvAZ2ABr9778jKs8P\n\
T5renEyEsgW9P4OoNieh3Y3ZpM2ys90Y6wiFH9hcgVViUXSx+ijV/sbCbKNDXtXp\n\
kC9As6evyfj2bDEhsxULphI09QbaDpy2M7pGVSSQw0mcf+TgTClenlH0wxG22N2v\n\
QHnTekvW3ZJhaiNFts8Cq1yRx/XvHBl2b3WaoYgtP/xwO+Ixl/vDKwag4EHVzBak\n\
hlAYX2cTQsl9fhABejzvyx9oMzdz+GZI5FtAndBFUUb6QvrMialxcRSvKtVYKerS\n\
6Ayt7E5A9/w1Z9R4TLrm7PEGnOsMxe6AsxzXxBf3YvxVnl/KRLCPFZaB/qSsk7v5\n\
ywIDAQAB\n\
-----END PUBLIC KEY-----\n";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xFF);
    let mut headers = HeaderMap::new();
    for name in ["signature", "signature-input", "date", "host", "digest"] {
        let part = parts.next().unwrap_or_default();
        if part.is_empty() && name != "signature" {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(part) {
            headers.insert(name, value);
        }
    }
    let path = parts.next().unwrap_or_default();
    let uri = std::str::from_utf8(path)
        .ok()
        .and_then(|p| p.parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/u/alice"));
    if let (Some(name), Some(value)) = (parts.next(), parts.next())
        && let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
    {
        headers.append(name, value);
    }

    let _ = check_signature_present(&headers);
    if let Some(signature) = headers.get("signature").and_then(|v| v.to_str().ok()) {
        let _ = signer_of(signature);
    }
    for method in [Method::GET, Method::POST] {
        if let Ok(unverified) = begin_verify(&headers, &method, &uri, "lyceum.example") {
            let valid = unverified.verify(|signature, signing_string| {
                verify_rsa_sha256(PUBLIC_KEY, signing_string.as_bytes(), signature)
            });
            assert!(!valid, "a fuzzed signature verified");
        }
    }
});
