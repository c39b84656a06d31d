//! Sign-up, the registration rules, and the signed-in account (`/me`): profile, password,
//! deletion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::auth::Auth;
use crate::context::AppContext;
use crate::db::local_account::LocalAccount;
use crate::db::person::Person;
use crate::db::types::{AccountRole, AccountStatus};
use crate::error::{AppResult, ErrorBody};
use crate::service::accounts::{
    self as accounts_service, ContentOnDeletion, ProfileChanges, Registration,
};
use crate::settings::RegistrationMode;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Lower-case letters, digits and underscores, 2-20 characters; shared namespace with
    /// communities.
    pub username: String,
    /// 10-256 characters.
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Required when the registration mode is `invite`.
    #[serde(default)]
    pub invite_code: Option<String>,
    /// Required when the registration mode is `approval`: the answer to the question from
    /// `GET /registration`.
    #[serde(default)]
    pub application_answer: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountCreated {
    /// The person id of the account.
    pub id: i64,
    pub username: String,
    /// `active`, or `pending` until an admin approves the application.
    pub status: AccountStatus,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationInfo {
    pub mode: RegistrationMode,
    /// Asked of applicants in `approval` mode.
    pub application_question: Option<String>,
}

/// A local account as its owner (or an admin) sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// The person id; content refers to its author by this id.
    pub id: i64,
    pub username: String,
    pub ap_id: String,
    pub display_name: Option<String>,
    /// Markdown source.
    pub bio: Option<String>,
    /// Sanitized HTML rendered from `bio`.
    pub bio_html: Option<String>,
    pub avatar_url: Option<String>,
    pub email: Option<String>,
    pub role: AccountRole,
    pub status: AccountStatus,
    pub application_answer: Option<String>,
    pub rejection_reason: Option<String>,
    pub created_at: NaiveDateTime,
}

impl AccountView {
    pub fn new(account: LocalAccount, person: Person) -> AccountView {
        AccountView {
            id: person.id,
            username: person.name,
            ap_id: person.ap_id,
            display_name: person.display_name,
            bio: person.bio,
            bio_html: person.bio_html,
            avatar_url: person.avatar_url,
            email: account.email,
            role: account.role,
            status: account.status,
            application_answer: account.application_answer,
            rejection_reason: account.rejection_reason,
            created_at: account.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Up to 50 characters; empty clears it.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Markdown, up to 5,000 characters; empty clears it.
    #[serde(default)]
    pub bio: Option<String>,
    /// An http(s) image URL; empty clears it.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeletedContent {
    /// Threads and answers stay, shown as by a deleted user.
    Keep,
    /// Threads and answers are deleted (tombstones keep the thread structure).
    Remove,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDeletion {
    pub password: String,
    pub content: DeletedContent,
}

/// Routes that take passwords from anyone: rate limited per client address.
pub fn limited_routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new().routes(routes!(register))
}

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(registration_info))
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(change_password))
}

/// Sign up, under the instance's registration mode.
#[utoipa::path(post, path = "/accounts", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created (`pending` in approval mode)", body = AccountCreated),
        (status = 403, description = "Registration is closed", body = ErrorBody),
        (status = 409, description = "Username or email taken", body = ErrorBody),
        (status = 422, description = "A field is invalid or missing (the code names it)", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn register(
    State(ctx): State<AppContext>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> AppResult<(StatusCode, Json<AccountCreated>)> {
    let created = accounts_service::register(
        &ctx.db,
        &ctx.settings,
        Registration {
            username: req.username,
            password: req.password,
            email: req.email,
            invite_code: req.invite_code,
            application_answer: req.application_answer,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountCreated {
            id: created.person.id,
            username: created.person.name,
            status: created.account.status,
        }),
    ))
}

/// How this instance takes sign-ups.
#[utoipa::path(get, path = "/registration", tag = "accounts",
    responses((status = 200, body = RegistrationInfo)))]
async fn registration_info(State(ctx): State<AppContext>) -> Json<RegistrationInfo> {
    let registration = &ctx.settings.registration;
    Json(RegistrationInfo {
        mode: registration.mode,
        application_question: (registration.mode == RegistrationMode::Approval)
            .then(|| registration.application_question.clone()),
    })
}

/// The signed-in account.
#[utoipa::path(get, path = "/me", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = AccountView),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn me(Auth(session): Auth) -> Json<AccountView> {
    Json(AccountView::new(session.account, session.person))
}

/// Edit the profile: display name, bio (Markdown), avatar URL.
#[utoipa::path(patch, path = "/me", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    request_body = ProfileUpdate,
    responses(
        (status = 200, body = AccountView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "A field is invalid (the code names it)", body = ErrorBody),
    ))]
async fn update_me(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> AppResult<Json<AccountView>> {
    let person = accounts_service::update_profile(
        &ctx.db,
        &session,
        ProfileChanges {
            display_name: req.display_name,
            bio: req.bio,
            avatar_url: req.avatar_url,
        },
    )
    .await?;
    Ok(Json(AccountView::new(session.account, person)))
}

/// Change the password; every other token and session of the account is revoked.
#[utoipa::path(post, path = "/me/password", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "current_password is wrong", body = ErrorBody),
        (status = 422, description = "new_password is invalid", body = ErrorBody),
    ))]
async fn change_password(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<PasswordChange>,
) -> AppResult<StatusCode> {
    accounts_service::change_password(&ctx.db, &session, &req.current_password, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete the signed-in account, keeping or removing its threads and answers.
#[utoipa::path(delete, path = "/me", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    request_body = AccountDeletion,
    responses(
        (status = 204, description = "Deleted; every token is revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "password is wrong", body = ErrorBody),
        (status = 409, description = "The last admin cannot leave", body = ErrorBody),
    ))]
async fn delete_me(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<AccountDeletion>,
) -> AppResult<StatusCode> {
    let content = match req.content {
        DeletedContent::Keep => ContentOnDeletion::Keep,
        DeletedContent::Remove => ContentOnDeletion::Remove,
    };
    accounts_service::delete_account(&ctx.db, &session, &req.password, content).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use crate::db::types::{AccountRole, ActorKind};
    use crate::settings::RegistrationMode;
    use crate::testing::{TEST_PASSWORD, TestApi, execute_sql, for_each_backend, test_settings};
    use serde_json::json;

    fn settings(mode: RegistrationMode) -> crate::settings::Settings {
        let mut settings = test_settings();
        settings.registration.mode = mode;
        settings
    }

    fn signup(name: &str) -> serde_json::Value {
        json!({"username": name, "password": TEST_PASSWORD})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_registration_creates_active_accounts() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), settings(RegistrationMode::Open)).await;
            let info = api.call("GET", "/api/v1/registration", None, None).await;
            assert_eq!(
                info.body,
                json!({"mode": "open", "application_question": null})
            );

            let created = api
                .call("POST", "/api/v1/accounts", None, Some(signup("alice")))
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            assert_eq!(created.body["username"], "alice");
            assert_eq!(created.body["status"], "active");
            assert!(created.body["id"].as_i64().is_some());
            api.login("alice").await;

            let taken = api
                .call("POST", "/api/v1/accounts", None, Some(signup("alice")))
                .await;
            assert_eq!(
                (taken.status.as_u16(), taken.code()),
                (409, "username_taken")
            );

            // Persons and communities share one namespace.
            (async {
                crate::with_conn!(&db, |conn| crate::db::actor_name::reserve_actor_name(
                    &mut conn,
                    "rust",
                    ActorKind::Community
                )
                .await
                .map_err(crate::db::DbError::from))
            })
            .await
            .expect("reserve");
            let community = api
                .call("POST", "/api/v1/accounts", None, Some(signup("rust")))
                .await;
            assert_eq!(
                (community.status.as_u16(), community.code()),
                (409, "username_taken")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_sign_ups_name_the_field() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, settings(RegistrationMode::Open)).await;
            let cases = [
                (
                    json!({"username": "A", "password": TEST_PASSWORD}),
                    422,
                    "invalid_username",
                ),
                (
                    json!({"username": "has space", "password": TEST_PASSWORD}),
                    422,
                    "invalid_username",
                ),
                (
                    json!({"username": "alice", "password": "short"}),
                    422,
                    "invalid_password",
                ),
                (
                    json!({"username": "alice", "password": "x".repeat(257)}),
                    422,
                    "invalid_password",
                ),
                (
                    json!({"username": "alice", "password": TEST_PASSWORD, "email": "nope"}),
                    422,
                    "invalid_email",
                ),
                (json!({"username": "alice"}), 422, "invalid_fields"),
                (
                    json!({"username": "alice", "password": TEST_PASSWORD, "admin": true}),
                    422,
                    "invalid_fields",
                ),
            ];
            for (body, status, code) in cases {
                let response = api
                    .call("POST", "/api/v1/accounts", None, Some(body.clone()))
                    .await;
                assert_eq!(
                    (response.status.as_u16(), response.code()),
                    (status, code),
                    "{body}"
                );
            }
            let malformed = api
                .send(
                    axum::http::Request::post("/api/v1/accounts")
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from("{\"username\":"))
                        .expect("request"),
                )
                .await;
            assert_eq!(
                (malformed.status.as_u16(), malformed.code()),
                (400, "malformed_json")
            );
            // None of these left an account behind.
            let created = api
                .call("POST", "/api/v1/accounts", None, Some(signup("alice")))
                .await;
            assert_eq!(created.status, 201);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn approval_mode_keeps_applicants_pending_until_an_admin_decides() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, settings(RegistrationMode::Approval)).await;
            let info = api.call("GET", "/api/v1/registration", None, None).await;
            assert_eq!(info.body["mode"], "approval");
            assert!(
                info.body["application_question"]
                    .as_str()
                    .is_some_and(|q| !q.is_empty())
            );

            let no_answer = api
                .call("POST", "/api/v1/accounts", None, Some(signup("carol")))
                .await;
            assert_eq!(
                (no_answer.status.as_u16(), no_answer.code()),
                (422, "application_answer_required")
            );

            let applied = api
                .call(
                    "POST",
                    "/api/v1/accounts",
                    None,
                    Some(json!({
                        "username": "carol", "password": TEST_PASSWORD,
                        "application_answer": "I run the platform team and want to share runbooks."
                    })),
                )
                .await;
            assert_eq!(applied.status, 201, "{:?}", applied.body);
            assert_eq!(applied.body["status"], "pending");
            let carol = applied.body["id"].as_i64().expect("id");
            let pending_login = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "carol", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(
                (pending_login.status.as_u16(), pending_login.code()),
                (403, "account_pending")
            );

            api.create_user("root", AccountRole::Admin).await;
            let admin = api.login("root").await;
            let queue = api
                .call(
                    "GET",
                    "/api/v1/admin/accounts?status=pending",
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(queue.status, 200, "{:?}", queue.body);
            let queue = queue.body.as_array().expect("list").clone();
            assert_eq!(queue.len(), 1);
            assert_eq!(queue[0]["username"], "carol");
            assert!(
                queue[0]["application_answer"]
                    .as_str()
                    .expect("answer")
                    .contains("runbooks")
            );

            let approved = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{carol}/approve"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(approved.status, 200, "{:?}", approved.body);
            assert_eq!(approved.body["status"], "active");
            api.login("carol").await;
            let twice = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{carol}/approve"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(
                (twice.status.as_u16(), twice.code()),
                (409, "wrong_account_status")
            );

            let dave = api
                .call(
                    "POST",
                    "/api/v1/accounts",
                    None,
                    Some(json!({
                        "username": "dave", "password": TEST_PASSWORD, "application_answer": "spam"
                    })),
                )
                .await;
            let dave = dave.body["id"].as_i64().expect("id");
            let rejected = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{dave}/reject"),
                    Some(&admin),
                    Some(json!({"reason": "looks like spam"})),
                )
                .await;
            assert_eq!(rejected.body["status"], "rejected");
            assert_eq!(rejected.body["rejection_reason"], "looks like spam");
            let refused = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "dave", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "application_rejected")
            );

            let member = api.login("carol").await;
            let not_admin = api
                .call(
                    "GET",
                    "/api/v1/admin/accounts?status=pending",
                    Some(&member),
                    None,
                )
                .await;
            assert_eq!(
                (not_admin.status.as_u16(), not_admin.code()),
                (403, "admin_required")
            );
            let bad_filter = api
                .call(
                    "GET",
                    "/api/v1/admin/accounts?status=sleeping",
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(
                (bad_filter.status.as_u16(), bad_filter.code()),
                (400, "invalid_query")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invite_mode_needs_a_live_code() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), settings(RegistrationMode::Invite)).await;
            api.create_user("root", AccountRole::Admin).await;
            api.create_user("mod", AccountRole::Moderator).await;
            api.create_user("member", AccountRole::Member).await;
            let admin = api.login("root").await;
            let moderator = api.login("mod").await;
            let member = api.login("member").await;

            let missing = api.call("POST", "/api/v1/accounts", None, Some(signup("erin"))).await;
            assert_eq!((missing.status.as_u16(), missing.code()), (422, "invite_required"));
            let bogus = api
                .call("POST", "/api/v1/accounts", None,
                    Some(json!({"username": "erin", "password": TEST_PASSWORD, "invite_code": "nope"})))
                .await;
            assert_eq!((bogus.status.as_u16(), bogus.code()), (422, "invalid_invite"));

            let refused = api.call("POST", "/api/v1/admin/invites", Some(&member), Some(json!({}))).await;
            assert_eq!((refused.status.as_u16(), refused.code()), (403, "moderator_required"));
            let invite = api
                .call("POST", "/api/v1/admin/invites", Some(&moderator),
                    Some(json!({"max_uses": 1, "expires_in_hours": 24})))
                .await;
            assert_eq!(invite.status, 201, "{:?}", invite.body);
            let code = invite.body["code"].as_str().expect("code").to_owned();
            let with_code = |name: &str| json!({"username": name, "password": TEST_PASSWORD, "invite_code": code});

            // A sign-up that fails for another reason does not use the invite up.
            let taken = api.call("POST", "/api/v1/accounts", None, Some(with_code("member"))).await;
            assert_eq!(taken.status, 409);
            let used = api.call("POST", "/api/v1/accounts", None, Some(with_code("erin"))).await;
            assert_eq!(used.status, 201, "{:?}", used.body);
            assert_eq!(used.body["status"], "active");
            let again = api.call("POST", "/api/v1/accounts", None, Some(with_code("frank"))).await;
            assert_eq!((again.status.as_u16(), again.code()), (422, "invalid_invite"));

            let listed = api.call("GET", "/api/v1/admin/invites", Some(&moderator), None).await;
            assert_eq!(listed.body[0]["uses"], 1);

            // Unlimited invite, revoked by an admin.
            let open_invite = api.call("POST", "/api/v1/admin/invites", Some(&admin), Some(json!({}))).await;
            let open_code = open_invite.body["code"].as_str().expect("code").to_owned();
            let open_id = open_invite.body["id"].as_i64().expect("id");
            let not_theirs = api
                .call("DELETE", &format!("/api/v1/admin/invites/{open_id}"), Some(&moderator), None)
                .await;
            assert_eq!((not_theirs.status.as_u16(), not_theirs.code()), (403, "not_your_invite"));
            let revoked = api
                .call("DELETE", &format!("/api/v1/admin/invites/{open_id}"), Some(&admin), None)
                .await;
            assert_eq!(revoked.body["revoked"], true);
            let after_revoke = api
                .call("POST", "/api/v1/accounts", None,
                    Some(json!({"username": "gina", "password": TEST_PASSWORD, "invite_code": open_code})))
                .await;
            assert_eq!(after_revoke.code(), "invalid_invite");

            let bad = api
                .call("POST", "/api/v1/admin/invites", Some(&admin), Some(json!({"max_uses": 0})))
                .await;
            assert_eq!((bad.status.as_u16(), bad.code()), (422, "invalid_max_uses"));
            let bad = api
                .call("POST", "/api/v1/admin/invites", Some(&admin), Some(json!({"expires_in_hours": -1})))
                .await;
            assert_eq!((bad.status.as_u16(), bad.code()), (422, "invalid_expires_in_hours"));

            // An expired invite is refused.
            let short = api
                .call("POST", "/api/v1/admin/invites", Some(&admin), Some(json!({"expires_in_hours": 1})))
                .await;
            let short_code = short.body["code"].as_str().expect("code").to_owned();
            let sql = format!(
                "UPDATE invites SET expires_at = '2000-01-01 00:00:00' WHERE code = '{short_code}'"
            );
            assert_eq!(execute_sql(&db, &sql).await, 1);
            let expired = api
                .call("POST", "/api/v1/accounts", None,
                    Some(json!({"username": "hank", "password": TEST_PASSWORD, "invite_code": short_code})))
                .await;
            assert_eq!(expired.code(), "invalid_invite");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_registration_refuses_sign_ups_but_admins_still_create_accounts() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, settings(RegistrationMode::Closed)).await;
            let refused = api
                .call("POST", "/api/v1/accounts", None, Some(signup("ivan")))
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "registration_closed")
            );
            api.create_user("ivan", AccountRole::Member).await;
            api.login("ivan").await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn profile_edits_are_validated_and_bios_sanitized() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let token = api.login("alice").await;
            let edited = api
                .call(
                    "PATCH",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({
                        "display_name": "Alice Liddell",
                        "bio": "I **teach** Rust <script>alert(1)</script>",
                        "avatar_url": "https://img.example/alice.png"
                    })),
                )
                .await;
            assert_eq!(edited.status, 200, "{:?}", edited.body);
            assert_eq!(edited.body["display_name"], "Alice Liddell");
            let html = edited.body["bio_html"].as_str().expect("html");
            assert!(
                html.contains("<strong>teach</strong>") && !html.contains("script"),
                "{html}"
            );
            assert_eq!(edited.body["avatar_url"], "https://img.example/alice.png");

            for (body, code) in [
                (
                    json!({"display_name": "x".repeat(51)}),
                    "invalid_display_name",
                ),
                (json!({"bio": "x".repeat(5001)}), "invalid_bio"),
                (
                    json!({"avatar_url": "javascript:alert(1)"}),
                    "invalid_avatar_url",
                ),
                (json!({"avatar_url": "not a url"}), "invalid_avatar_url"),
            ] {
                let response = api
                    .call("PATCH", "/api/v1/me", Some(&token), Some(body.clone()))
                    .await;
                assert_eq!(
                    (response.status.as_u16(), response.code()),
                    (422, code),
                    "{body}"
                );
            }
            let cleared = api
                .call(
                    "PATCH",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({"display_name": "", "bio": ""})),
                )
                .await;
            assert_eq!(cleared.body["display_name"], serde_json::Value::Null);
            assert_eq!(cleared.body["bio_html"], serde_json::Value::Null);
            assert_eq!(
                cleared.body["avatar_url"], "https://img.example/alice.png",
                "untouched"
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_change_revokes_every_other_token() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let phone = api.login("alice").await;
            let laptop = api.login("alice").await;
            let new_password = "an entirely new passphrase";

            let wrong = api
                .call("POST", "/api/v1/me/password", Some(&laptop),
                    Some(json!({"current_password": "guess guess guess", "new_password": new_password})))
                .await;
            assert_eq!((wrong.status.as_u16(), wrong.code()), (403, "wrong_password"));
            let short = api
                .call("POST", "/api/v1/me/password", Some(&laptop),
                    Some(json!({"current_password": TEST_PASSWORD, "new_password": "short"})))
                .await;
            assert_eq!((short.status.as_u16(), short.code()), (422, "invalid_password"));

            let changed = api
                .call("POST", "/api/v1/me/password", Some(&laptop),
                    Some(json!({"current_password": TEST_PASSWORD, "new_password": new_password})))
                .await;
            assert_eq!(changed.status, 204, "{:?}", changed.body);
            assert_eq!(api.call("GET", "/api/v1/me", Some(&laptop), None).await.status, 200);
            assert_eq!(api.call("GET", "/api/v1/me", Some(&phone), None).await.status, 401);
            let old = api
                .call("POST", "/api/v1/auth/login", None,
                    Some(json!({"username": "alice", "password": TEST_PASSWORD})))
                .await;
            assert_eq!(old.status, 401);
            let new = api
                .call("POST", "/api/v1/auth/login", None,
                    Some(json!({"username": "alice", "password": new_password})))
                .await;
            assert_eq!(new.status, 200);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_delete_their_account_keeping_or_removing_content() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), test_settings()).await;
            let keeper = api.create_user("keeper", AccountRole::Member).await;
            let leaver = api.create_user("leaver", AccountRole::Member).await;
            insert_thread_and_answer(&db, keeper, "keeper").await;
            insert_thread_and_answer(&db, leaver, "leaver").await;

            let token = api.login("keeper").await;
            let wrong = api
                .call(
                    "DELETE",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({"password": "nope nope nope", "content": "keep"})),
                )
                .await;
            assert_eq!(
                (wrong.status.as_u16(), wrong.code()),
                (403, "wrong_password")
            );
            let bad = api
                .call(
                    "DELETE",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({"password": TEST_PASSWORD, "content": "shred"})),
                )
                .await;
            assert_eq!(bad.status, 422);
            let deleted = api
                .call(
                    "DELETE",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({"password": TEST_PASSWORD, "content": "keep"})),
                )
                .await;
            assert_eq!(deleted.status, 204, "{:?}", deleted.body);
            assert_eq!(
                api.call("GET", "/api/v1/me", Some(&token), None)
                    .await
                    .status,
                401
            );
            let login = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "keeper", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(login.status, 401);
            let reuse = api
                .call("POST", "/api/v1/accounts", None, Some(signup("keeper")))
                .await;
            assert_eq!(
                reuse.code(),
                "username_taken",
                "a deleted user's name stays reserved"
            );

            let token = api.login("leaver").await;
            let removed = api
                .call(
                    "DELETE",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({"password": TEST_PASSWORD, "content": "remove"})),
                )
                .await;
            assert_eq!(removed.status, 204);

            let bodies = thread_and_answer_bodies(&db).await;
            assert_eq!(
                bodies,
                vec![
                    (
                        "keeper thread".to_owned(),
                        "keeper answer".to_owned(),
                        false
                    ),
                    ("".to_owned(), "".to_owned(), true),
                ]
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_last_admin_cannot_delete_their_account() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("root", AccountRole::Admin).await;
            let token = api.login("root").await;
            let refused = api
                .call(
                    "DELETE",
                    "/api/v1/me",
                    Some(&token),
                    Some(json!({"password": TEST_PASSWORD, "content": "keep"})),
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (409, "last_admin")
            );
        })
        .await;
    }

    /// Content rows written directly: the service for them arrives with communities.
    async fn insert_thread_and_answer(db: &crate::db::Db, author: i64, label: &str) {
        let statements = [
            format!(
                "INSERT INTO communities (ap_id, local, instance_id, name, name_lower, title, kind, visibility, inbox_url, public_key_pem, published, last_refreshed_at)
                 SELECT 'http://localhost:8541/c/{label}', TRUE, id, '{label}', '{label}', 'T', 'qa', 'public', 'http://localhost:8541/c/{label}/inbox', 'key', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM instances WHERE local"
            ),
            format!(
                "INSERT INTO threads (ap_id, local, community_id, author_id, kind, title, body, body_html, last_activity_at, published)
                 SELECT 'http://localhost:8541/t/{label}', TRUE, id, {author}, 'question', '{label} thread', '{label} thread', '<p>x</p>', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM communities WHERE name = '{label}'"
            ),
            format!(
                "INSERT INTO answers (ap_id, local, thread_id, author_id, body, body_html, published)
                 SELECT 'http://localhost:8541/r/{label}', TRUE, id, {author}, '{label} answer', '<p>x</p>', '2026-01-01 00:00:00' FROM threads WHERE ap_id = 'http://localhost:8541/t/{label}'"
            ),
        ];
        for sql in statements {
            assert_eq!(execute_sql(db, &sql).await, 1, "{sql}");
        }
    }

    /// (thread body, answer body, deleted) per thread, ordered by thread id.
    async fn thread_and_answer_bodies(db: &crate::db::Db) -> Vec<(String, String, bool)> {
        use crate::db::schema::{answers, threads};
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        (async {
            crate::with_conn!(db, |conn| Ok::<_, crate::db::DbError>(crate::on_conn!(
                &mut conn,
                |c| {
                    threads::table
                        .inner_join(answers::table)
                        .order_by(threads::id)
                        .select((threads::body, answers::body, threads::deleted))
                        .load::<(String, String, bool)>(c)
                        .await?
                }
            )))
        })
        .await
        .expect("bodies")
    }
}
