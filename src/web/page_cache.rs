//! Pages rendered for visitors who are not signed in, served again to such visitors for a
//! moment, so a thread read by many at once is rendered about once per period.
//!
//! Only a page that depends on nothing but its address is kept: the visitor has neither a
//! session nor a pre-session CSRF token, the answer is a 200 and sets no cookie. While one
//! request renders a missing page, others asking for the same address wait for it rather
//! than render it too. Signed-in members never read from here, so what they write is on
//! their next page at once; others see it within `http.anonymous_page_cache_secs`.
//!
//! A page is kept gzipped for visitors who accept gzip (every browser), since compressing
//! it again for each of them would cost several times what serving it does; the response
//! compression layer leaves an answer that already has a `Content-Encoding` alone.

use std::io::Write;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Bytes of page bodies kept at most. A thread page with 100 answers is about 100 KB, and
/// with a period of a second only the pages read in the last second are here.
const CAPACITY_BYTES: u64 = 8 * 1024 * 1024;

/// The kept pages by coding, path and query; `None` when the period is 0.
#[derive(Clone)]
pub struct AnonymousPageCache {
    pages: Option<moka::future::Cache<(Coding, String), KeptPage>>,
}

/// How a kept page's body is encoded, from the visitor's `Accept-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Coding {
    Identity,
    Gzip,
}

impl Coding {
    /// Gzip when `Accept-Encoding` names it (or `*`) with a weight above 0.
    fn accepted(headers: &HeaderMap) -> Coding {
        let mut gzip = None;
        let mut any = None;
        for item in headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
        {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let weight = parts
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(weight);
            } else if name == "*" {
                any = Some(weight);
            }
        }
        match gzip.or(any) {
            Some(weight) if weight > 0.0 => Coding::Gzip,
            _ => Coding::Identity,
        }
    }
}

#[derive(Clone)]
struct KeptPage {
    headers: HeaderMap,
    body: Bytes,
}

impl KeptPage {
    fn response(&self) -> Response {
        let mut response = (StatusCode::OK, Body::from(self.body.clone())).into_response();
        *response.headers_mut() = self.headers.clone();
        response
    }
}

/// The page could not be kept; the request that rendered it answers with it.
#[derive(Debug)]
struct NotKept;

impl AnonymousPageCache {
    pub fn new(period_secs: u64) -> AnonymousPageCache {
        let pages = (period_secs > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|(_, path): &(Coding, String), page: &KeptPage| {
                    u32::try_from(path.len() + page.body.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(Duration::from_secs(period_secs))
                .build()
        });
        AnonymousPageCache { pages }
    }

    /// The page at `path` (path and query) for a visitor who sent `headers`: kept, or
    /// rendered by `render` and kept when it can be. `None` when this request must render
    /// the page itself: nothing is kept (a period of 0), or another request rendered it at
    /// the same moment and it could not be kept (an error page, a cookie set), so that
    /// render was not this visitor's.
    pub async fn page(
        &self,
        path: String,
        headers: &HeaderMap,
        render: impl Future<Output = Response>,
    ) -> Option<Response> {
        let pages = self.pages.as_ref()?;
        let coding = Coding::accepted(headers);
        let mut not_kept = None;
        let kept = pages
            .try_get_with((coding, path), async {
                match keepable(render.await, coding).await {
                    Ok(page) => Ok(page),
                    Err(response) => {
                        not_kept = Some(response);
                        Err(NotKept)
                    }
                }
            })
            .await;
        match kept {
            Ok(page) => Some(page.response()),
            Err(_) => not_kept,
        }
    }
}

/// The page as kept, or the response itself when it must not be shown to anyone else.
async fn keepable(response: Response, coding: Coding) -> Result<KeptPage, Response> {
    if response.status() != StatusCode::OK || response.headers().contains_key(header::SET_COOKIE) {
        return Err(response);
    }
    let (parts, body) = response.into_parts();
    // Page bodies are rendered whole into memory, so this only takes them out.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "a rendered page's body could not be read");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    let mut headers = parts.headers;
    // Whether or not this copy is compressed, the answer depends on `Accept-Encoding`.
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let body = match coding {
        Coding::Identity => body,
        Coding::Gzip => match gzip(&body) {
            Ok(compressed) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                headers.remove(header::CONTENT_LENGTH);
                Bytes::from(compressed)
            }
            // Writing to memory does not fail; if it did, the page is kept as it is.
            Err(_) => body,
        },
    };
    Ok(KeptPage { headers, body })
}

/// `body` gzipped at the default level, as the response compression layer would.
fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), Default::default());
    encoder.write_all(body)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> Coding {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        Coding::accepted(&headers)
    }

    #[test]
    fn gzip_is_chosen_when_accepted_with_a_weight_above_zero() {
        assert_eq!(accepting("gzip, deflate, br, zstd"), Coding::Gzip);
        assert_eq!(accepting("br;q=1.0, GZIP;q=0.5"), Coding::Gzip);
        assert_eq!(accepting("*"), Coding::Gzip);
        assert_eq!(accepting("identity"), Coding::Identity);
        assert_eq!(accepting("br, deflate"), Coding::Identity);
        assert_eq!(accepting("gzip;q=0"), Coding::Identity);
        assert_eq!(accepting("gzip;q=0, *"), Coding::Identity);
        assert_eq!(accepting("*;q=0"), Coding::Identity);
        assert_eq!(Coding::accepted(&HeaderMap::new()), Coding::Identity);
    }
}
