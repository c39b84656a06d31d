//! Static assets compiled into the binary, served under content-hashed names.
//!
//! A changed file gets a new name, so browsers may keep every name forever
//! (`immutable`) and never see a stale stylesheet after an upgrade.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::page::WebError;
use crate::error::AppError;

/// One embedded file and the name it is served under.
pub struct Asset {
    /// `app.<hash>.css`: the path below `/static/`.
    pub file_name: String,
    /// `/static/app.<hash>.css`, what templates link to.
    pub url: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes);
        // 12 hex digits: collisions between two versions of one file are not a concern.
        let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let file_name = format!("{stem}.{hash}.{extension}");
        Asset {
            url: format!("/static/{file_name}"),
            file_name,
            content_type,
            bytes,
        }
    }
}

pub static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    )
});

pub static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    )
});

fn all() -> [&'static Asset; 2] {
    [&STYLESHEET, &SCRIPT]
}

/// `GET /static/{file}`: only the current hashed names exist; an old name is a 404 rather
/// than the new content, which a year-long cache would then pin under the old name.
pub async fn serve(Path(file): Path<String>) -> Result<Response, WebError> {
    let asset = all()
        .into_iter()
        .find(|a| a.file_name == file)
        .ok_or_else(|| AppError::not_found("not_found", "no such file"))?;
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_content_hash() {
        let css = &*STYLESHEET;
        assert!(css.url.starts_with("/static/app."), "{}", css.url);
        assert!(css.url.ends_with(".css"));
        let hash = css.file_name.split('.').nth(1).expect("hash part");
        assert_eq!(hash.len(), 12);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(STYLESHEET.file_name, SCRIPT.file_name);
    }
}
