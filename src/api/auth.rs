//! Sign-in endpoints (tokens and web sessions) and the extractor that authenticates a
//! request by bearer token or by session cookie plus CSRF header.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiPath};
use crate::context::AppContext;
use crate::db::auth_token::AuthToken;
use crate::db::types::TokenKind;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::service::auth::{self as auth_service, Session};

/// Name of the web session cookie.
pub const SESSION_COOKIE: &str = "lyceum_session";
/// Header a cookie-authenticated write must carry, equal to the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in caller. Rejects with 401 when no valid credential is presented.
pub struct Auth(pub Session);

/// The caller when signed in, `None` for anonymous requests (a bad credential still fails).
pub struct MaybeAuth(pub Option<Session>);

impl FromRequestParts<AppContext> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, AppError> {
        match MaybeAuth::from_request_parts(parts, ctx).await? {
            MaybeAuth(Some(session)) => Ok(Auth(session)),
            MaybeAuth(None) => Err(AppError::unauthorized(
                "not_authenticated",
                "sign in: send `Authorization: Bearer <token>` or the session cookie",
            )),
        }
    }
}

impl FromRequestParts<AppContext> for MaybeAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, AppError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let secret = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.split_once(' ')
                        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                })
                .map(|(_, token)| token.trim())
                .filter(|token| !token.is_empty())
                .ok_or_else(|| {
                    AppError::unauthorized(
                        "invalid_authorization_header",
                        "the Authorization header must be `Bearer <token>`",
                    )
                })?;
            let session = auth_service::authenticate(&ctx.db, secret, TokenKind::Api).await?;
            return Ok(MaybeAuth(Some(session)));
        }
        let Some(secret) = session_cookie(&parts.headers) else {
            return Ok(MaybeAuth(None));
        };
        let session = auth_service::authenticate(&ctx.db, &secret, TokenKind::Session).await?;
        // A cookie is sent by the browser on any site's form post; a write must also prove
        // it came from our own page by echoing the session's CSRF token in a header.
        if !parts.method.is_safe() {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let expected = session.token.csrf_token.as_deref().unwrap_or_default();
            if expected.is_empty() || !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
                return Err(AppError::forbidden(
                    "csrf_failed",
                    "a write with the session cookie needs the X-CSRF-Token header from sign-in",
                ));
            }
        }
        Ok(MaybeAuth(Some(session)))
    }
}

/// The session cookie's value, if the request carries a non-empty one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the cookie `name`, if the request carries a non-empty one.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// Compares secrets without revealing through timing how much of them matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Set-Cookie` for a new session (or, with `None`, one that removes it).
pub(crate) fn session_set_cookie(
    ctx: &AppContext,
    session: Option<(&str, i64)>,
) -> Option<HeaderValue> {
    let secure = ctx.public_url().starts_with("https://");
    let (value, max_age) = match session {
        Some((secret, max_age)) => (secret.to_owned(), cookie::time::Duration::seconds(max_age)),
        None => (String::new(), cookie::time::Duration::ZERO),
    };
    let cookie = cookie::Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// A name for this token in the token list, e.g. the client's name.
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`. Shown only now.
    pub token: String,
    pub token_id: i64,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// Echo in the `X-CSRF-Token` header on every write made with the session cookie.
    pub csrf_token: String,
    pub token_id: i64,
    pub expires_at: NaiveDateTime,
}

/// A token or session of the signed-in account (never the secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub kind: TokenKind,
    pub label: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// True for the credential this request was made with.
    pub current: bool,
}

impl TokenView {
    fn new(token: AuthToken, current_id: i64) -> TokenView {
        TokenView {
            current: token.id == current_id,
            id: token.id,
            kind: token.kind,
            label: token.label,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            expires_at: token.expires_at,
        }
    }
}

/// Routes that take passwords: rate limited per client address.
pub fn limited_routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(create_session))
}

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(list_tokens))
        .routes(routes!(revoke_token))
}

/// Sign in for an API token.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = ErrorBody),
        (status = 403, description = "Account pending, rejected or suspended", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(ctx): State<AppContext>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    let issued = auth_service::login(
        &ctx.db,
        &ctx.settings.auth,
        &req.username,
        &req.password,
        TokenKind::Api,
        req.label,
    )
    .await?;
    Ok(Json(LoginResponse {
        token: issued.secret,
        token_id: issued.token.id,
        expires_at: issued.token.expires_at,
    }))
}

/// Sign in for a web session: sets an HttpOnly, SameSite=Lax cookie (Secure on https).
#[utoipa::path(post, path = "/auth/session", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = SessionResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 403, description = "Account pending, rejected or suspended", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn create_session(
    State(ctx): State<AppContext>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<Response> {
    let issued = auth_service::login(
        &ctx.db,
        &ctx.settings.auth,
        &req.username,
        &req.password,
        TokenKind::Session,
        req.label,
    )
    .await?;
    let max_age = i64::from(ctx.settings.auth.session_ttl_days) * 24 * 3600;
    let body = SessionResponse {
        csrf_token: issued.token.csrf_token.clone().unwrap_or_default(),
        token_id: issued.token.id,
        expires_at: issued.token.expires_at,
    };
    let mut response = Json(body).into_response();
    if let Some(cookie) = session_set_cookie(&ctx, Some((&issued.secret, max_age))) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Sign out: revokes the token or session this request is made with.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn logout(State(ctx): State<AppContext>, Auth(session): Auth) -> AppResult<Response> {
    auth_service::logout(&ctx.db, &session).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if session.token.kind == TokenKind::Session
        && let Some(cookie) = session_set_cookie(&ctx, None)
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The signed-in account's live tokens and sessions.
#[utoipa::path(get, path = "/auth/tokens", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Vec<TokenView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn list_tokens(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<Vec<TokenView>>> {
    let tokens = auth_service::list_tokens(&ctx.db, &session).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView::new(t, session.token.id))
            .collect(),
    ))
}

/// Revokes one of the signed-in account's tokens or sessions.
#[utoipa::path(delete, path = "/auth/tokens/{id}", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No live token of yours has this id", body = ErrorBody),
    ))]
async fn revoke_token(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    auth_service::revoke_token(&ctx.db, &session, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::AccountRole;
    use crate::testing::{TEST_PASSWORD, TestApi, execute_sql, for_each_backend, test_settings};
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::json;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn login_gives_a_token_that_signs_requests() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let token = api.login("alice").await;
            let me = api.call("GET", "/api/v1/me", Some(&token), None).await;
            assert_eq!(me.status, 200, "{:?}", me.body);
            assert_eq!(me.body["username"], "alice");
            assert_eq!(me.body["role"], "member");
            assert_eq!(me.body["ap_id"], "http://localhost:8541/u/alice");

            // Usernames are case-insensitive at sign-in.
            let upper = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "Alice", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(upper.status, 200);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_password_and_unknown_user_look_the_same() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let wrong = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "alice", "password": "not the password"})),
                )
                .await;
            let unknown = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "nobody", "password": "not the password"})),
                )
                .await;
            assert_eq!(wrong.status, 401);
            assert_eq!(wrong.status, unknown.status);
            assert_eq!(wrong.body, unknown.body);
            assert_eq!(wrong.code(), "invalid_credentials");

            let missing = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "alice"})),
                )
                .await;
            assert_eq!(missing.status, 422);
            assert_eq!(missing.code(), "invalid_fields");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_unknown_and_malformed_credentials_get_401() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let none = api.call("GET", "/api/v1/me", None, None).await;
            assert_eq!(
                (none.status.as_u16(), none.code()),
                (401, "not_authenticated")
            );
            let unknown = api.call("GET", "/api/v1/me", Some("0123abcd"), None).await;
            assert_eq!(
                (unknown.status.as_u16(), unknown.code()),
                (401, "invalid_token")
            );
            let malformed = api
                .send(
                    Request::get("/api/v1/me")
                        .header("authorization", "Basic YWxpY2U6eA==")
                        .body(Body::empty())
                        .expect("request"),
                )
                .await;
            assert_eq!(
                (malformed.status.as_u16(), malformed.code()),
                (401, "invalid_authorization_header")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logout_revokes_only_its_own_token() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let first = api.login("alice").await;
            let second = api.login("alice").await;

            let listed = api
                .call("GET", "/api/v1/auth/tokens", Some(&second), None)
                .await;
            assert_eq!(listed.body.as_array().expect("list").len(), 2);
            assert_eq!(
                listed.body[0]["current"], true,
                "newest first, and it is this one"
            );
            assert_eq!(listed.body[1]["current"], false);

            let out = api
                .call("POST", "/api/v1/auth/logout", Some(&first), None)
                .await;
            assert_eq!(out.status, 204);
            let gone = api.call("GET", "/api/v1/me", Some(&first), None).await;
            assert_eq!((gone.status.as_u16(), gone.code()), (401, "invalid_token"));
            let still = api.call("GET", "/api/v1/me", Some(&second), None).await;
            assert_eq!(still.status, 200, "the second login survives");
            let listed = api
                .call("GET", "/api/v1/auth/tokens", Some(&second), None)
                .await;
            assert_eq!(listed.body.as_array().expect("list").len(), 1);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tokens_are_revoked_by_id_only_by_their_owner() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            api.create_user("bob", AccountRole::Member).await;
            let alice = api.login("alice").await;
            let bob = api.login("bob").await;
            let bobs = api
                .call("GET", "/api/v1/auth/tokens", Some(&bob), None)
                .await;
            let bob_token_id = bobs.body[0]["id"].as_i64().expect("id");

            let path = format!("/api/v1/auth/tokens/{bob_token_id}");
            let refused = api.call("DELETE", &path, Some(&alice), None).await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (404, "token_not_found")
            );
            assert_eq!(
                api.call("GET", "/api/v1/me", Some(&bob), None).await.status,
                200
            );

            let revoked = api.call("DELETE", &path, Some(&bob), None).await;
            assert_eq!(revoked.status, 204);
            assert_eq!(
                api.call("GET", "/api/v1/me", Some(&bob), None).await.status,
                401
            );

            let bad_id = api
                .call("DELETE", "/api/v1/auth/tokens/abc", Some(&alice), None)
                .await;
            assert_eq!(
                (bad_id.status.as_u16(), bad_id.code()),
                (400, "invalid_path")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_tokens_are_refused() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let token = api.login("alice").await;
            let expired = execute_sql(
                &db,
                "UPDATE auth_tokens SET expires_at = '2000-01-01 00:00:00'",
            )
            .await;
            assert_eq!(expired, 1);
            let refused = api.call("GET", "/api/v1/me", Some(&token), None).await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (401, "invalid_token")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn session_cookie_needs_the_csrf_header_for_writes() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let signed_in = api
                .call(
                    "POST",
                    "/api/v1/auth/session",
                    None,
                    Some(json!({"username": "alice", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
            let set_cookie = signed_in.headers["set-cookie"]
                .to_str()
                .expect("ascii")
                .to_owned();
            assert!(set_cookie.starts_with("lyceum_session="), "{set_cookie}");
            assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
            assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
            assert!(
                !set_cookie.contains("Secure"),
                "plain http localhost: {set_cookie}"
            );
            let cookie = set_cookie.split(';').next().expect("pair").to_owned();
            let csrf = signed_in.body["csrf_token"]
                .as_str()
                .expect("csrf")
                .to_owned();

            let with_cookie = |method: &str, path: &str, csrf: Option<&str>, body: &str| {
                let mut request = Request::builder()
                    .method(method)
                    .uri(path)
                    .header("cookie", &cookie)
                    .header("content-type", "application/json");
                if let Some(token) = csrf {
                    request = request.header(CSRF_HEADER, token);
                }
                request.body(Body::from(body.to_owned())).expect("request")
            };
            let me = api.send(with_cookie("GET", "/api/v1/me", None, "")).await;
            assert_eq!(me.status, 200, "reads need no CSRF token");
            let forged = api
                .send(with_cookie(
                    "PATCH",
                    "/api/v1/me",
                    None,
                    r#"{"display_name":"Mallory"}"#,
                ))
                .await;
            assert_eq!(
                (forged.status.as_u16(), forged.code()),
                (403, "csrf_failed")
            );
            let wrong = api
                .send(with_cookie(
                    "PATCH",
                    "/api/v1/me",
                    Some("00"),
                    r#"{"display_name":"Mallory"}"#,
                ))
                .await;
            assert_eq!(wrong.status, 403);
            let edited = api
                .send(with_cookie(
                    "PATCH",
                    "/api/v1/me",
                    Some(&csrf),
                    r#"{"display_name":"Alice"}"#,
                ))
                .await;
            assert_eq!(edited.status, 200, "{:?}", edited.body);
            assert_eq!(edited.body["display_name"], "Alice");

            // A session secret is not a bearer token.
            let secret = cookie.trim_start_matches("lyceum_session=");
            assert_eq!(
                api.call("GET", "/api/v1/me", Some(secret), None)
                    .await
                    .status,
                401
            );

            let out = api
                .send(with_cookie("POST", "/api/v1/auth/logout", Some(&csrf), ""))
                .await;
            assert_eq!(out.status, 204);
            let cleared = out.headers["set-cookie"].to_str().expect("ascii");
            assert!(cleared.contains("Max-Age=0"), "{cleared}");
            let after = api.send(with_cookie("GET", "/api/v1/me", None, "")).await;
            assert_eq!(after.status, 401);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn session_cookie_is_secure_on_https_domains() {
        for_each_backend(async |db| {
            // The database's local instance is TEST_DOMAIN; cookies only read the settings.
            let mut settings = test_settings();
            settings.domain = "learn.acme.example".into();
            let api = TestApi::new(db, settings).await;
            let http_api = TestApi::new(api.db.clone(), test_settings()).await;
            http_api.create_user("alice", AccountRole::Member).await;
            let signed_in = api
                .call(
                    "POST",
                    "/api/v1/auth/session",
                    None,
                    Some(json!({"username": "alice", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(signed_in.status, 200);
            let set_cookie = signed_in.headers["set-cookie"].to_str().expect("ascii");
            assert!(set_cookie.contains("Secure"), "{set_cookie}");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_sign_in_attempts_are_rate_limited() {
        for_each_backend(async |db| {
            let mut settings = test_settings();
            settings.rate_limit.auth_burst = 3;
            settings.rate_limit.auth_period_secs = 60;
            let api = TestApi::new(db, settings).await;
            let attempt = || {
                api.call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "alice", "password": "wrong password"})),
                )
            };
            for _ in 0..3 {
                assert_eq!(attempt().await.status, 401);
            }
            let limited = attempt().await;
            assert_eq!(
                (limited.status.as_u16(), limited.code()),
                (429, "rate_limited")
            );
            let retry: u64 = limited.headers["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry), "{retry}");
            // Sign-up shares the limit; reading does not.
            let signup = api
                .call(
                    "POST",
                    "/api/v1/accounts",
                    None,
                    Some(json!({"username": "bob", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(signup.status, 429);
            assert_eq!(
                api.call("GET", "/api/v1/registration", None, None)
                    .await
                    .status,
                200
            );
        })
        .await;
    }
}
