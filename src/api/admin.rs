//! Instance administration under `/admin`: applications, accounts, roles, invites.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::AccountView;
use super::auth::Auth;
use super::{ApiJson, ApiPath, ApiQuery};
use crate::context::AppContext;
use crate::db::domain_block::DomainBlock;
use crate::db::invite::Invite;
use crate::db::local_account::AccountRow;
use crate::db::outbox::InstanceDeliveries;
use crate::db::types::{AccountRole, AccountStatus};
use crate::error::{AppResult, ErrorBody};
use crate::service::admin::{self as admin_service, NewInvite};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    /// Only accounts in this status; `pending` lists the applications.
    pub status: Option<AccountStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Kept with the account for the record.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: AccountRole,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// How many sign-ups the code allows (1-10,000); absent: unlimited.
    #[serde(default)]
    pub max_uses: Option<i64>,
    /// Hours until the code expires (1-8,760); absent: never.
    #[serde(default)]
    pub expires_in_hours: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteView {
    pub id: i64,
    /// Give this to the person invited; they send it as `invite_code` when signing up.
    pub code: String,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked: bool,
    pub created_at: NaiveDateTime,
}

impl From<Invite> for InviteView {
    fn from(invite: Invite) -> InviteView {
        InviteView {
            id: invite.id,
            code: invite.code,
            max_uses: invite.max_uses,
            uses: invite.uses,
            expires_at: invite.expires_at,
            revoked: invite.revoked_at.is_some(),
            created_at: invite.created_at,
        }
    }
}

fn view((account, person): AccountRow) -> Json<AccountView> {
    Json(AccountView::new(account, person))
}

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(suspend))
        .routes(routes!(unsuspend))
        .routes(routes!(set_role))
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(list_domain_blocks))
        .routes(routes!(federation_instances))
        .routes(routes!(block_domain, unblock_domain))
}

/// Local accounts, newest first (admins). `?status=pending` lists the applications.
#[utoipa::path(get, path = "/admin/accounts", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(AccountFilter),
    responses(
        (status = 200, body = Vec<AccountView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_accounts(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiQuery(filter): ApiQuery<AccountFilter>,
) -> AppResult<Json<Vec<AccountView>>> {
    let rows = admin_service::list_accounts(&ctx.db, &session, filter.status).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(account, person)| AccountView::new(account, person))
            .collect(),
    ))
}

/// Approve a pending application.
#[utoipa::path(post, path = "/admin/accounts/{id}/approve", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "the account's person id")),
    responses(
        (status = 200, body = AccountView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The account is not pending", body = ErrorBody),
    ))]
async fn approve(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AccountView>> {
    Ok(view(
        admin_service::approve_application(&ctx.db, &session, id).await?,
    ))
}

/// Reject a pending application.
#[utoipa::path(post, path = "/admin/accounts/{id}/reject", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "the account's person id")),
    request_body = Rejection,
    responses(
        (status = 200, body = AccountView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The account is not pending", body = ErrorBody),
    ))]
async fn reject(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<Rejection>,
) -> AppResult<Json<AccountView>> {
    Ok(view(
        admin_service::reject_application(&ctx.db, &session, id, req.reason).await?,
    ))
}

/// Suspend an account: it cannot sign in or act; its tokens are revoked.
#[utoipa::path(post, path = "/admin/accounts/{id}/suspend", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "the account's person id")),
    responses(
        (status = 200, body = AccountView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not active, or the admin's own account", body = ErrorBody),
    ))]
async fn suspend(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AccountView>> {
    Ok(view(admin_service::suspend(&ctx.db, &session, id).await?))
}

/// Lift a suspension.
#[utoipa::path(post, path = "/admin/accounts/{id}/unsuspend", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "the account's person id")),
    responses(
        (status = 200, body = AccountView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The account is not suspended", body = ErrorBody),
    ))]
async fn unsuspend(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AccountView>> {
    Ok(view(admin_service::unsuspend(&ctx.db, &session, id).await?))
}

/// Change an account's instance-wide role.
#[utoipa::path(put, path = "/admin/accounts/{id}/role", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "the account's person id")),
    request_body = RoleChange,
    responses(
        (status = 200, body = AccountView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "It would leave the instance without an admin", body = ErrorBody),
    ))]
async fn set_role(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RoleChange>,
) -> AppResult<Json<AccountView>> {
    Ok(view(
        admin_service::set_role(&ctx.db, &session, id, req.role).await?,
    ))
}

/// Invites: all of them for admins, their own for moderators.
#[utoipa::path(get, path = "/admin/invites", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Vec<InviteView>),
        (status = 403, description = "Not an admin or moderator", body = ErrorBody),
    ))]
async fn list_invites(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<Vec<InviteView>>> {
    let invites = admin_service::list_invites(&ctx.db, &session).await?;
    Ok(Json(invites.into_iter().map(InviteView::from).collect()))
}

/// Create an invite code (admins and moderators).
#[utoipa::path(post, path = "/admin/invites", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    request_body = InviteRequest,
    responses(
        (status = 201, body = InviteView),
        (status = 403, description = "Not an admin or moderator", body = ErrorBody),
        (status = 422, description = "max_uses or expires_in_hours out of range", body = ErrorBody),
    ))]
async fn create_invite(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<InviteRequest>,
) -> AppResult<(StatusCode, Json<InviteView>)> {
    let invite = admin_service::create_invite(
        &ctx.db,
        &session,
        NewInvite {
            max_uses: req.max_uses,
            expires_in_hours: req.expires_in_hours,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(invite.into())))
}

/// Revoke an invite (admins any, moderators their own).
#[utoipa::path(delete, path = "/admin/invites/{id}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "invite id")),
    responses(
        (status = 200, body = InviteView),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn revoke_invite(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<InviteView>> {
    Ok(Json(
        admin_service::revoke_invite(&ctx.db, &session, id)
            .await?
            .into(),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Why; shown to admins.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DomainBlockView {
    pub domain: String,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

impl From<DomainBlock> for DomainBlockView {
    fn from(block: DomainBlock) -> DomainBlockView {
        DomainBlockView {
            domain: block.domain,
            reason: block.reason,
            created_at: block.created_at,
        }
    }
}

/// Blocked domains (admins and instance moderators).
#[utoipa::path(get, path = "/admin/federation/blocks", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Vec<DomainBlockView>),
        (status = 403, description = "Not staff", body = ErrorBody),
    ))]
async fn list_domain_blocks(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<Vec<DomainBlockView>>> {
    let blocks = crate::service::federation_policy::list_domain_blocks(&ctx.db, &session).await?;
    Ok(Json(blocks.into_iter().map(Into::into).collect()))
}

/// Block a domain and its subdomains: no fetches, no deliveries, its activities refused.
#[utoipa::path(put, path = "/admin/federation/blocks/{domain}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("domain" = String, Path, description = "a host name, e.g. `spam.example`")),
    request_body = BlockRequest,
    responses(
        (status = 200, body = DomainBlockView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Not a host name", body = ErrorBody),
    ))]
async fn block_domain(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(domain): ApiPath<String>,
    ApiJson(req): ApiJson<BlockRequest>,
) -> AppResult<Json<DomainBlockView>> {
    let block = crate::service::federation_policy::block_domain(
        &ctx.db,
        &session,
        &domain,
        req.reason.as_deref(),
    )
    .await?;
    Ok(Json(block.into()))
}

/// Lift a domain block.
#[utoipa::path(delete, path = "/admin/federation/blocks/{domain}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("domain" = String, Path, description = "a blocked host name")),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Not blocked", body = ErrorBody),
    ))]
async fn unblock_domain(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(domain): ApiPath<String>,
) -> AppResult<StatusCode> {
    crate::service::federation_policy::unblock_domain(&ctx.db, &session, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstanceDeliveriesView {
    pub domain: String,
    /// Not yet delivered: waiting for their first attempt, in flight, or retrying.
    pub pending: i64,
    /// Of the pending ones, those a worker is sending right now.
    pub in_flight: i64,
    /// Confirmed (2xx); pruned after `federation.delivered_retention_days`.
    pub delivered: i64,
    /// Refused for good (a final 4xx) or given up after two days of retries.
    pub failed: i64,
    pub last_success_at: Option<NaiveDateTime>,
    pub dead_since: Option<NaiveDateTime>,
    /// Why it is behind: the error of the latest failed attempt among its pending
    /// deliveries.
    pub last_error: Option<String>,
}

impl From<InstanceDeliveries> for InstanceDeliveriesView {
    fn from(d: InstanceDeliveries) -> InstanceDeliveriesView {
        InstanceDeliveriesView {
            domain: d.domain,
            pending: d.pending,
            in_flight: d.in_flight,
            delivered: d.delivered,
            failed: d.failed,
            last_success_at: d.last_success_at,
            dead_since: d.dead_since,
            last_error: d.last_error,
        }
    }
}

/// Outgoing deliveries per remote instance (admins and instance moderators).
#[utoipa::path(get, path = "/admin/federation/instances", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Vec<InstanceDeliveriesView>),
        (status = 403, description = "Not staff", body = ErrorBody),
    ))]
async fn federation_instances(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<Vec<InstanceDeliveriesView>>> {
    let rows = admin_service::federation_status(&ctx.db, &session).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

#[cfg(test)]
mod tests {
    use crate::db::types::AccountRole;
    use crate::testing::{TEST_PASSWORD, TestApi, for_each_backend, test_settings};
    use serde_json::json;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admins_change_roles_but_never_remove_the_last_admin() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let root = api.create_user("root", AccountRole::Admin).await;
            let alice = api.create_user("alice", AccountRole::Member).await;
            let admin = api.login("root").await;
            let member = api.login("alice").await;

            let refused = api
                .call(
                    "PUT",
                    &format!("/api/v1/admin/accounts/{root}/role"),
                    Some(&member),
                    Some(json!({"role": "member"})),
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "admin_required")
            );

            let last = api
                .call(
                    "PUT",
                    &format!("/api/v1/admin/accounts/{root}/role"),
                    Some(&admin),
                    Some(json!({"role": "member"})),
                )
                .await;
            assert_eq!((last.status.as_u16(), last.code()), (409, "last_admin"));

            let promoted = api
                .call(
                    "PUT",
                    &format!("/api/v1/admin/accounts/{alice}/role"),
                    Some(&admin),
                    Some(json!({"role": "moderator"})),
                )
                .await;
            assert_eq!(promoted.body["role"], "moderator");
            // Roles are read per request: the existing token now acts as a moderator.
            let invite = api
                .call(
                    "POST",
                    "/api/v1/admin/invites",
                    Some(&member),
                    Some(json!({})),
                )
                .await;
            assert_eq!(invite.status, 201);
            let accounts = api
                .call("GET", "/api/v1/admin/accounts", Some(&member), None)
                .await;
            assert_eq!(
                accounts.status, 403,
                "moderators do not administer accounts"
            );

            let unknown_role = api
                .call(
                    "PUT",
                    &format!("/api/v1/admin/accounts/{alice}/role"),
                    Some(&admin),
                    Some(json!({"role": "owner"})),
                )
                .await;
            assert_eq!(unknown_role.status, 422);
            let nobody = api
                .call(
                    "PUT",
                    "/api/v1/admin/accounts/999999/role",
                    Some(&admin),
                    Some(json!({"role": "admin"})),
                )
                .await;
            assert_eq!(
                (nobody.status.as_u16(), nobody.code()),
                (404, "account_not_found")
            );

            api.call(
                "PUT",
                &format!("/api/v1/admin/accounts/{alice}/role"),
                Some(&admin),
                Some(json!({"role": "admin"})),
            )
            .await;
            let stepped_down = api
                .call(
                    "PUT",
                    &format!("/api/v1/admin/accounts/{root}/role"),
                    Some(&admin),
                    Some(json!({"role": "member"})),
                )
                .await;
            assert_eq!(stepped_down.body["role"], "member", "another admin remains");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn suspension_signs_out_and_blocks_sign_in_until_lifted() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let root = api.create_user("root", AccountRole::Admin).await;
            let alice = api.create_user("alice", AccountRole::Member).await;
            let admin = api.login("root").await;
            let member = api.login("alice").await;

            let forbidden = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{root}/suspend"),
                    Some(&member),
                    None,
                )
                .await;
            assert_eq!(forbidden.status, 403);
            let own = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{root}/suspend"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(
                (own.status.as_u16(), own.code()),
                (409, "cannot_suspend_self")
            );

            let suspended = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{alice}/suspend"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(suspended.body["status"], "suspended");
            assert_eq!(
                api.call("GET", "/api/v1/me", Some(&member), None)
                    .await
                    .status,
                401
            );
            let login = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "alice", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(
                (login.status.as_u16(), login.code()),
                (403, "account_suspended")
            );

            let lifted = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{alice}/unsuspend"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(lifted.body["status"], "active");
            api.login("alice").await;
            let again = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/accounts/{alice}/unsuspend"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(
                (again.status.as_u16(), again.code()),
                (409, "wrong_account_status")
            );
        })
        .await;
    }
}
