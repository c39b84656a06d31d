//! What every page handler shares: the viewer ([`Web`]), the layout context ([`Layout`]),
//! CSRF-checked forms ([`WebForm`]), rendering, and errors shown as pages ([`WebError`]).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use super::assets;
use crate::api::auth::{constant_time_eq, cookie_value, session_cookie};
use crate::context::AppContext;
use crate::db::types::TokenKind;
use crate::error::{AppError, ErrorKind};
use crate::service::auth::{self as auth_service, Session};
use crate::settings::RegistrationMode;

/// Cookie holding the CSRF token of visitors who are not signed in (sign-in and sign-up
/// forms); signed-in forms use the session's own token.
pub const PRE_SESSION_COOKIE: &str = "lyceum_csrf";
/// The hidden form field every page form carries.
pub const CSRF_FIELD: &str = "csrf_token";

/// Who is looking at a page, read once per request from the session cookie.
#[derive(Clone)]
pub struct Web {
    pub ctx: AppContext,
    pub session: Option<Session>,
    /// The visitor's pre-session CSRF token, from the cookie or newly drawn.
    pre_session_token: Option<String>,
    /// Set when the pre-session token was drawn for this response.
    new_pre_session_cookie: bool,
    /// The request's path and query.
    current_path: String,
}

impl Web {
    /// Reads the viewer from the request headers. A session cookie that is expired, revoked
    /// or belongs to a suspended account makes an anonymous visitor, not an error page: the
    /// visitor can still read and sign in again.
    pub async fn from_headers(
        ctx: &AppContext,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Web, AppError> {
        let session = match session_cookie(headers) {
            Some(secret) => {
                match auth_service::authenticate(&ctx.db, &secret, TokenKind::Session).await {
                    Ok(session) => Some(session),
                    Err(err) if matches!(err.status().as_u16(), 401 | 403) => None,
                    Err(err) => return Err(err),
                }
            }
            None => None,
        };
        Ok(Web {
            ctx: ctx.clone(),
            session,
            pre_session_token: cookie_value(headers, PRE_SESSION_COOKIE)
                .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())),
            new_pre_session_cookie: false,
            current_path: path_and_query(uri),
        })
    }

    /// True when the page can depend on nothing but its address: no session and no
    /// pre-session token (a visitor who started signing in has one, shown in the forms).
    pub fn sees_the_public_page(&self) -> bool {
        self.session.is_none() && self.pre_session_token.is_none()
    }

    /// The request's path and query.
    pub fn current_path(&self) -> &str {
        &self.current_path
    }

    /// The viewer when signed in.
    pub fn viewer(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The viewer, or a 401 that sends the visitor to sign in.
    pub fn require_session(&self) -> Result<&Session, AppError> {
        self.session
            .as_ref()
            .ok_or_else(|| AppError::unauthorized("sign_in_required", "sign in to do this"))
    }

    /// Makes sure an anonymous visitor has a CSRF token for a form (sign-in, sign-up);
    /// [`Web::finish`] then sets its cookie.
    pub fn ensure_pre_session_token(&mut self) -> Result<(), AppError> {
        if self.session.is_none() && self.pre_session_token.is_none() {
            self.pre_session_token = Some(auth_service::random_secret()?);
            self.new_pre_session_cookie = true;
        }
        Ok(())
    }

    /// The token forms on this page carry.
    pub fn csrf_token(&self) -> &str {
        match &self.session {
            Some(session) => session.token.csrf_token.as_deref().unwrap_or_default(),
            None => self.pre_session_token.as_deref().unwrap_or_default(),
        }
    }

    /// True when `presented` is this visitor's CSRF token.
    fn csrf_matches(&self, presented: &str) -> bool {
        let expected = self.csrf_token();
        !expected.is_empty() && constant_time_eq(presented.as_bytes(), expected.as_bytes())
    }

    /// The layout of a page titled `title`.
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        let settings = &self.ctx.settings;
        Layout {
            title: title.into(),
            instance: settings.domain.clone(),
            viewer: self.session.as_ref().map(|s| ViewerInfo {
                name: s.person.name.clone(),
                display_name: s
                    .person
                    .display_name
                    .clone()
                    .filter(|d| !d.trim().is_empty())
                    .unwrap_or_else(|| s.person.name.clone()),
                is_admin: s.is_admin(),
                is_staff: s.is_staff(),
            }),
            csrf_token: self.csrf_token().to_owned(),
            css_url: assets::STYLESHEET.url.as_str(),
            js_url: assets::SCRIPT.url.as_str(),
            sign_up_open: settings.registration.mode != RegistrationMode::Closed,
            search_q: String::new(),
            current_path: self.current_path.clone(),
        }
    }

    /// Renders `template` as this page's answer with `status`.
    pub fn render(&self, status: StatusCode, template: &impl Template) -> Response {
        let mut response = match template.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(err) => {
                tracing::error!(error = %err, "a page template failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><p>This page could not be shown; the error has been logged.</p>"),
                )
                    .into_response()
            }
        };
        self.finish(&mut response);
        response
    }

    /// Headers every page answer carries: the pre-session cookie when one was drawn, and
    /// the security headers.
    pub fn finish(&self, response: &mut Response) {
        if self.new_pre_session_cookie
            && let Some(token) = &self.pre_session_token
        {
            let cookie = cookie::Cookie::build((PRE_SESSION_COOKIE, token.clone()))
                .path("/")
                .http_only(true)
                .same_site(cookie::SameSite::Lax)
                .secure(self.ctx.public_url().starts_with("https://"))
                .build();
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        page_headers(response);
    }

    /// A 303 to `to` (the Post/Redirect/Get answer to a form).
    pub fn see_other(&self, to: &str) -> Response {
        let mut response = Redirect::to(to).into_response();
        self.finish(&mut response);
        response
    }
}

/// Security headers of every HTML answer. Stored HTML is sanitized already; the policy
/// is the second wall: no inline script runs, forms post only here, no framing.
fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; \
             script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
             object-src 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
}

impl FromRequestParts<AppContext> for Web {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, WebError> {
        // A form extractor needs the viewer too; read the session once per request.
        if let Some(web) = parts.extensions.get::<Web>() {
            return Ok(web.clone());
        }
        let web = Web::from_headers(ctx, &parts.headers, &parts.uri).await?;
        parts.extensions.insert(web.clone());
        Ok(web)
    }
}

/// The signed-in viewer as the header shows them.
#[derive(Debug, Clone)]
pub struct ViewerInfo {
    pub name: String,
    pub display_name: String,
    pub is_admin: bool,
    pub is_staff: bool,
}

/// What `base.html` needs; every page template has it as its `layout` field.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// The instance's domain, shown as its name.
    pub instance: String,
    pub viewer: Option<ViewerInfo>,
    /// The hidden `csrf_token` value of this page's forms.
    pub csrf_token: String,
    pub css_url: &'static str,
    pub js_url: &'static str,
    /// Whether to offer "Sign up" (not when registration is closed).
    pub sign_up_open: bool,
    /// The search box's value.
    pub search_q: String,
    /// This page's path and query, where "Sign in" comes back to.
    pub current_path: String,
}

impl Layout {
    /// The sign-in link, returning here afterwards.
    pub fn login_url(&self) -> String {
        let here = &self.current_path;
        if here.is_empty()
            || here == "/"
            || here.starts_with("/login")
            || here.starts_with("/signup")
        {
            "/login".to_owned()
        } else {
            format!("/login?next={}", url_encode(&self.current_path))
        }
    }
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default()
}

/// Percent-encodes a query value.
pub fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A place to go back to after signing in: only a path on this site, never `//host` or
/// anything a browser would read as another origin.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A failure in a page handler, shown as an error page in the layout by [`error_pages`].
pub struct WebError(pub AppError);

pub type WebResult = Result<Response, WebError>;

impl From<AppError> for WebError {
    fn from(err: AppError) -> Self {
        WebError(err)
    }
}

/// What [`error_pages`] needs to draw the page, carried on the response: the handler does
/// not have the layout at hand when `?` returns early.
#[derive(Debug, Clone)]
struct PendingErrorPage {
    kind: ErrorKind,
    code: &'static str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let err = self.0;
        if err.status().is_server_error() {
            tracing::error!(error = %err, "page failed");
        } else {
            tracing::debug!(error = %err, "page refused");
        }
        let mut response = err.status().into_response();
        response.extensions_mut().insert(PendingErrorPage {
            kind: err.kind,
            code: err.code,
            message: err.message,
        });
        response
    }
}

/// Middleware of the page routes: turns a [`WebError`] answer into the error page, and a
/// rate limiter's JSON 429 into a page too.
pub async fn error_pages(State(ctx): State<AppContext>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let mut response = next.run(request).await;
    let pending = response.extensions_mut().remove::<PendingErrorPage>();
    let pending = match pending {
        Some(p) => p,
        None if response.status() == StatusCode::TOO_MANY_REQUESTS => PendingErrorPage {
            kind: ErrorKind::TooManyRequests,
            code: "rate_limited",
            message: "too many attempts from this address; wait a minute and try again".to_owned(),
        },
        None => return response,
    };
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let mut page = error_page(&ctx, &headers, &method, &uri, pending).await;
    if let Some(value) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, value);
    }
    page
}

/// Renders `err` as a page for a request made with `headers` (used by pages outside the
/// page router: the object URLs).
pub async fn app_error_page(
    ctx: &AppContext,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    err: AppError,
) -> Response {
    let response = WebError(err).into_response();
    let pending = response
        .extensions()
        .get::<PendingErrorPage>()
        .cloned()
        .unwrap_or(PendingErrorPage {
            kind: ErrorKind::Internal,
            code: "internal_error",
            message: String::new(),
        });
    error_page(ctx, headers, method, uri, pending).await
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: String,
    code: &'static str,
}

async fn error_page(
    ctx: &AppContext,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    pending: PendingErrorPage,
) -> Response {
    // The viewer is read again: the handler's copy is gone with its future. A database
    // that is not answering still gets a page, for an anonymous visitor.
    let web = match Web::from_headers(ctx, headers, uri).await {
        Ok(web) => web,
        Err(_) => Web {
            ctx: ctx.clone(),
            session: None,
            pre_session_token: None,
            new_pre_session_cookie: false,
            current_path: path_and_query(uri),
        },
    };
    let status = pending.kind.status();
    let layout = web.layout(String::new());
    if status == StatusCode::UNAUTHORIZED && *method == Method::GET && web.session.is_none() {
        return web.see_other(&layout.login_url());
    }
    let (heading, message) = match pending.kind {
        ErrorKind::NotFound => (
            "Page not found",
            if pending.code == "not_found" {
                "There is nothing at this address. It may have been moved or deleted, or the link may be mistyped.".to_owned()
            } else {
                capitalized(&pending.message)
            },
        ),
        ErrorKind::Forbidden if pending.code == "csrf_failed" => (
            "Form expired",
            "This form could not be accepted because it did not come from a page of this site, or your session changed since it was shown. Go back, reload the page and try again.".to_owned(),
        ),
        ErrorKind::Forbidden => ("Not allowed", capitalized(&pending.message)),
        ErrorKind::Unauthorized => ("Sign in required", capitalized(&pending.message)),
        ErrorKind::Gone => ("Gone", capitalized(&pending.message)),
        ErrorKind::TooManyRequests => ("Too many attempts", capitalized(&pending.message)),
        ErrorKind::Internal => (
            "Something went wrong",
            "The server failed to answer this request. The error has been logged; try again in a moment.".to_owned(),
        ),
        ErrorKind::ServiceUnavailable | ErrorKind::BadGateway => {
            ("Temporarily unavailable", capitalized(&pending.message))
        }
        _ => ("This request could not be completed", capitalized(&pending.message)),
    };
    let mut layout = layout;
    layout.title = heading.to_owned();
    let template = ErrorTemplate {
        layout,
        status: status.as_u16(),
        heading,
        message,
        code: pending.code,
    };
    web.render(status, &template)
}

/// Service messages are sentence fragments ("no thread has this id"); a page shows them as
/// sentences.
pub fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A form posted from one of our pages: its `csrf_token` field must equal the visitor's
/// token (the session's, or the pre-session cookie's before signing in), or the request is
/// refused with a 403 page before the handler runs.
pub struct WebForm<T>(pub T);

impl<T> FromRequest<AppContext> for WebForm<T>
where
    T: DeserializeOwned,
{
    type Rejection = WebError;

    async fn from_request(request: Request, ctx: &AppContext) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        let web = Web::from_request_parts(&mut parts, ctx).await?;
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, ctx)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::new(
                        ErrorKind::PayloadTooLarge,
                        "payload_too_large",
                        "the form is too large",
                    )
                } else {
                    AppError::bad_request("unreadable_form", "the form could not be read")
                }
            })?;
        #[derive(serde::Deserialize)]
        struct Token {
            #[serde(default)]
            csrf_token: String,
        }
        let token: Token = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| AppError::bad_request("unreadable_form", "the form could not be read"))?;
        if !web.csrf_matches(&token.csrf_token) {
            return Err(AppError::forbidden(
                "csrf_failed",
                "the form's CSRF token is missing or wrong",
            )
            .into());
        }
        let value = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            AppError::bad_request("invalid_form", format!("the form does not fit: {e}"))
        })?;
        Ok(WebForm(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/t/5#r7")), "/t/5#r7");
        assert_eq!(
            safe_next(Some("/ask?community=rust")),
            "/ask?community=rust"
        );
        for hostile in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            capitalized("no thread has this id"),
            "No thread has this id."
        );
        assert_eq!(capitalized("Done!"), "Done!");
        assert_eq!(capitalized(""), "");
    }
}
