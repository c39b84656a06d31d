//! The instance admin page (`/admin`): registration mode, applications, invites, accounts
//! and roles, blocked domains and delivery status, through `service::admin` like
//! `/api/v1/admin`.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::EmptyForm;
use super::page::{Layout, Web, WebForm, WebResult};
use super::views;
use crate::db::federation_policy::FederationMode;
use crate::db::types::{AccountRole, AccountStatus};
use crate::error::AppError;
use crate::service::admin::{self, NewInvite};
use crate::service::federation_policy::{self, DomainList};

pub struct AccountRowView {
    pub person_id: i64,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub status: &'static str,
    pub application_answer: String,
    pub created: String,
    pub is_self: bool,
}

impl AccountRowView {
    pub fn is_role(&self, role: &str) -> bool {
        self.role == role
    }
}

pub struct InviteView {
    pub id: i64,
    pub code: String,
    pub uses: String,
    pub expires: String,
    pub revoked: bool,
}

pub struct InstanceBanRow {
    pub person: String,
    pub reason: String,
    pub until: String,
    pub banned_by: String,
}

pub struct BlockView {
    pub domain: String,
    pub reason: String,
    pub created: String,
}

pub struct InstanceView {
    pub domain: String,
    pub pending: i64,
    pub in_flight: i64,
    pub delivered: i64,
    pub failed: i64,
    pub last_success: String,
    pub dead_since: String,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminTemplate {
    layout: Layout,
    mode: &'static str,
    applications: Vec<AccountRowView>,
    accounts: Vec<AccountRowView>,
    invites: Vec<InviteView>,
    blocks: Vec<BlockView>,
    /// `blocklist` or `allowlist`.
    federation_mode: &'static str,
    partners: Vec<BlockView>,
    instance_bans: Vec<InstanceBanRow>,
    instances: Vec<InstanceView>,
    notice: Option<&'static str>,
}

impl AdminTemplate {
    fn roles(&self) -> [&'static str; 3] {
        ["member", "moderator", "admin"]
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "approved" => "The application was approved.",
        "rejected" => "The application was rejected.",
        "invite" => "The invite was created.",
        "invite_revoked" => "The invite was revoked.",
        "role" => "The role was changed.",
        "suspended" => "The account was suspended.",
        "unsuspended" => "The account was unsuspended.",
        "blocked" => "The domain was blocked.",
        "unblocked" => "The domain was unblocked.",
        "mode" => "The federation mode was changed.",
        "partner" => "The domain is now a partner.",
        "partner_removed" => "The domain is no longer a partner.",
        "instance_ban" => "The person is banned from every community here.",
        "instance_unban" => "The ban was lifted.",
        _ => return None,
    })
}

fn when(at: Option<&chrono::NaiveDateTime>) -> String {
    at.map(views::date).unwrap_or_default()
}

pub async fn page(web: Web, Query(query): Query<DoneQuery>) -> WebResult {
    let session = web.require_session()?;
    session.require_admin()?;
    let db = &web.ctx.db;
    let view = |(account, person): crate::db::local_account::AccountRow| AccountRowView {
        person_id: person.id,
        is_self: person.id == session.person.id,
        name: person.name,
        email: account.email.unwrap_or_default(),
        role: account.role.as_str(),
        status: account.status.as_str(),
        application_answer: account.application_answer.unwrap_or_default(),
        created: views::date(&account.created_at),
    };
    let applications = admin::list_accounts(db, session, Some(AccountStatus::Pending))
        .await?
        .into_iter()
        .map(view)
        .collect();
    let accounts = admin::list_accounts(db, session, None)
        .await?
        .into_iter()
        .filter(|(a, _)| matches!(a.status, AccountStatus::Active | AccountStatus::Suspended))
        .map(view)
        .collect();
    let now = crate::db::now();
    let invites = admin::list_invites(db, session)
        .await?
        .into_iter()
        .map(|i| InviteView {
            id: i.id,
            uses: match i.max_uses {
                Some(max) => format!("{} of {max}", i.uses),
                None => format!("{} (no limit)", i.uses),
            },
            expires: match i.expires_at {
                Some(at) if at <= now => format!("expired {}", views::date(&at)),
                Some(at) => views::date(&at),
                None => "never".to_owned(),
            },
            revoked: i.revoked_at.is_some(),
            code: i.code,
        })
        .collect();
    let blocks = federation_policy::list_domain_blocks(db, session)
        .await?
        .into_iter()
        .map(|b| BlockView {
            created: views::date(&b.created_at),
            domain: b.domain,
            reason: b.reason.unwrap_or_default(),
        })
        .collect();
    let partners = federation_policy::list_domain_allows(db, session)
        .await?
        .into_iter()
        .map(|a| BlockView {
            created: views::date(&a.created_at),
            domain: a.domain,
            reason: a.comment.unwrap_or_default(),
        })
        .collect();
    let federation_mode = federation_policy::policy_view(db, session)
        .await?
        .mode
        .as_str();
    let instance_bans = crate::service::instance_moderation::bans(db, &web.ctx.settings, session)
        .await?
        .into_iter()
        .map(|b| InstanceBanRow {
            until: b
                .ban
                .expires_at
                .as_ref()
                .map_or_else(|| "until lifted".to_owned(), views::date),
            person: b.person,
            reason: b.ban.reason,
            banned_by: b.banned_by.unwrap_or_default(),
        })
        .collect();
    let instances = admin::federation_status(db, session)
        .await?
        .into_iter()
        .map(|d| InstanceView {
            last_success: when(d.last_success_at.as_ref()),
            dead_since: when(d.dead_since.as_ref()),
            domain: d.domain,
            pending: d.pending,
            in_flight: d.in_flight,
            delivered: d.delivered,
            failed: d.failed,
            last_error: d.last_error.unwrap_or_default(),
        })
        .collect();
    let template = AdminTemplate {
        layout: web.layout("Administration"),
        mode: super::auth::mode_name(web.ctx.settings.registration.mode),
        applications,
        accounts,
        invites,
        blocks,
        federation_mode,
        partners,
        instance_bans,
        instances,
        notice: notice(query.done.as_deref()),
    };
    Ok(web.render(StatusCode::OK, &template))
}

fn done(web: &Web, what: &str) -> WebResult {
    Ok(web.see_other(&format!("/admin?done={what}")))
}

pub async fn approve(web: Web, Path(id): Path<i64>, WebForm(_): WebForm<EmptyForm>) -> WebResult {
    admin::approve_application(&web.ctx.db, web.require_session()?, id).await?;
    done(&web, "approved")
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub async fn reject(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    admin::reject_application(&web.ctx.db, web.require_session()?, id, Some(form.reason)).await?;
    done(&web, "rejected")
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    expires_in_days: String,
}

/// An optional whole number field: empty means none.
fn optional_number(value: &str, code: &'static str, what: &str) -> Result<Option<i64>, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| AppError::unprocessable(code, format!("{what} must be a whole number")))
}

pub async fn create_invite(web: Web, WebForm(form): WebForm<InviteForm>) -> WebResult {
    let session = web.require_session()?;
    let max_uses = optional_number(&form.max_uses, "invalid_max_uses", "uses")?;
    let days = optional_number(&form.expires_in_days, "invalid_expiry", "days")?;
    let new = NewInvite {
        max_uses,
        expires_in_hours: days.map(|d| d.saturating_mul(24)),
    };
    admin::create_invite(&web.ctx.db, session, new).await?;
    done(&web, "invite")
}

pub async fn revoke_invite(
    web: Web,
    Path(id): Path<i64>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    admin::revoke_invite(&web.ctx.db, web.require_session()?, id).await?;
    done(&web, "invite_revoked")
}

#[derive(Debug, Default, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn set_role(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<RoleForm>,
) -> WebResult {
    let role = match form.role.as_str() {
        "admin" => AccountRole::Admin,
        "moderator" => AccountRole::Moderator,
        "member" => AccountRole::Member,
        _ => {
            return Err(AppError::unprocessable(
                "invalid_role",
                "role must be member, moderator or admin",
            )
            .into());
        }
    };
    admin::set_role(&web.ctx.db, web.require_session()?, id, role).await?;
    done(&web, "role")
}

pub async fn suspend(web: Web, Path(id): Path<i64>, WebForm(_): WebForm<EmptyForm>) -> WebResult {
    admin::suspend(&web.ctx.db, web.require_session()?, id).await?;
    done(&web, "suspended")
}

pub async fn unsuspend(web: Web, Path(id): Path<i64>, WebForm(_): WebForm<EmptyForm>) -> WebResult {
    admin::unsuspend(&web.ctx.db, web.require_session()?, id).await?;
    done(&web, "unsuspended")
}

#[derive(Debug, Default, Deserialize)]
pub struct BlockForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    reason: String,
}

pub async fn block(web: Web, WebForm(form): WebForm<BlockForm>) -> WebResult {
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
    federation_policy::block_domain(&web.ctx.db, web.require_session()?, &form.domain, reason)
        .await?;
    done(&web, "blocked")
}

pub async fn unblock(web: Web, WebForm(form): WebForm<BlockForm>) -> WebResult {
    federation_policy::unblock_domain(&web.ctx.db, web.require_session()?, &form.domain).await?;
    done(&web, "unblocked")
}

#[derive(Debug, Default, Deserialize)]
pub struct InstanceBanForm {
    #[serde(default)]
    person: String,
    #[serde(default)]
    reason: String,
    /// A date (`YYYY-MM-DD`), or empty for a ban until lifted.
    #[serde(default)]
    until: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    remove_content: Option<String>,
}

pub async fn ban_from_instance(web: Web, WebForm(form): WebForm<InstanceBanForm>) -> WebResult {
    let until = super::moderation::parse_until(&form.until)?;
    crate::service::instance_moderation::ban(
        &web.ctx.db,
        &web.ctx.settings,
        web.require_session()?,
        &form.person,
        &form.reason,
        until,
        form.remove_content.is_some(),
    )
    .await?;
    done(&web, "instance_ban")
}

pub async fn lift_instance_ban(web: Web, WebForm(form): WebForm<InstanceBanForm>) -> WebResult {
    crate::service::instance_moderation::unban(
        &web.ctx.db,
        &web.ctx.settings,
        web.require_session()?,
        &form.person,
    )
    .await?;
    done(&web, "instance_unban")
}

#[derive(Debug, Default, Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    mode: String,
}

pub async fn set_federation_mode(web: Web, WebForm(form): WebForm<ModeForm>) -> WebResult {
    let mode = match form.mode.as_str() {
        "allowlist" => FederationMode::Allowlist,
        _ => FederationMode::Blocklist,
    };
    federation_policy::set_mode(&web.ctx.db, web.require_session()?, mode).await?;
    done(&web, "mode")
}

pub async fn add_partner(web: Web, WebForm(form): WebForm<BlockForm>) -> WebResult {
    let comment = Some(form.reason.trim()).filter(|r| !r.is_empty());
    federation_policy::allow_domain(&web.ctx.db, web.require_session()?, &form.domain, comment)
        .await?;
    done(&web, "partner")
}

pub async fn remove_partner(web: Web, WebForm(form): WebForm<BlockForm>) -> WebResult {
    federation_policy::disallow_domain(&web.ctx.db, web.require_session()?, &form.domain).await?;
    done(&web, "partner_removed")
}

#[derive(Debug, Default, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    list: String,
    #[serde(default)]
    csv: String,
}

/// Imports a pasted CSV list and says what was taken and what was skipped, line by line.
pub async fn import_list(web: Web, WebForm(form): WebForm<ImportForm>) -> WebResult {
    let list = match form.list.as_str() {
        "blocks" => DomainList::Blocks,
        _ => DomainList::Allows,
    };
    let report =
        federation_policy::import_csv(&web.ctx.db, web.require_session()?, list, &form.csv).await?;
    let what = match list {
        DomainList::Blocks => "blocked",
        DomainList::Allows => "made partners",
    };
    let mut message = format!("{} domains {what}.", report.imported.len());
    for skipped in &report.skipped {
        message.push_str(&format!(
            " Line {} (`{}`) skipped: {}.",
            skipped.line, skipped.value, skipped.reason
        ));
    }
    let template = super::moderation::NoticeTemplate {
        layout: web.layout("List imported"),
        message,
        back_url: "/admin#federation".to_owned(),
        back_label: "Back to administration",
    };
    Ok(web.render(StatusCode::OK, &template))
}

#[cfg(test)]
mod tests {
    use crate::db::types::{AccountRole, AccountStatus};
    use crate::service::accounts::{NewAccount, create_account};
    use crate::testing::{TEST_PASSWORD, TestApi, for_each_backend, test_settings};
    use crate::web::tests::{Browser, location, text};

    async fn applicant(api: &TestApi, name: &str) -> i64 {
        let mut new = NewAccount::active(name, TEST_PASSWORD, AccountRole::Member);
        new.status = AccountStatus::Pending;
        new.application_answer = Some(format!("{name} wants to learn"));
        create_account(&api.db, &api.settings.public_url(), new)
            .await
            .expect("applicant")
            .person
            .id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_admins_see_the_admin_page() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("root", AccountRole::Admin).await;
            api.create_user("mia", AccountRole::Moderator).await;
            api.create_user("bob", AccountRole::Member).await;

            let mut anonymous = Browser::new(&api);
            let page = anonymous.get("/admin").await;
            assert_eq!(page.status, 303);
            for name in ["mia", "bob"] {
                let mut member = Browser::new(&api);
                member.sign_in(name).await;
                let home = member.get("/").await;
                assert!(!text(&home).contains("href=\"/admin\""), "{name}");
                let page = member.get("/admin").await;
                assert_eq!(page.status, 403, "{name}");
                assert!(text(&page).contains("Not allowed"));
                let refused = member
                    .post("/admin/domains", &[("domain", "bad.example")])
                    .await;
                assert_eq!(refused.status, 403, "{name}");
            }
            let mut root = Browser::new(&api);
            root.sign_in("root").await;
            let home = root.get("/").await;
            assert!(text(&home).contains("href=\"/admin\""));
            let page = root.get("/admin").await;
            assert_eq!(page.status, 200, "{}", text(&page));
            let html = text(&page);
            assert!(html.contains("Registration mode: <strong>open</strong>"));
            assert!(html.contains("LYCEUM_REGISTRATION__MODE"));
            assert!(html.contains("No applications are waiting."));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admins_act_through_csrf_checked_forms() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("root", AccountRole::Admin).await;
            let bob = api.create_user("bob", AccountRole::Member).await;
            let ann = applicant(&api, "ann").await;
            let ned = applicant(&api, "ned").await;
            let mut root = Browser::new(&api);
            root.sign_in("root").await;
            let page = root.get("/admin").await;
            assert!(text(&page).contains("ann wants to learn"));

            // (path, form fields, what the page says afterwards)
            type AdminAction<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
            let actions: Vec<AdminAction> = vec![
                (
                    format!("/admin/applications/{ann}/approve"),
                    vec![],
                    "approved",
                ),
                (
                    format!("/admin/applications/{ned}/reject"),
                    vec![("reason", "not now")],
                    "rejected",
                ),
                (
                    "/admin/invites".to_owned(),
                    vec![("max_uses", "3"), ("expires_in_days", "7")],
                    "invite",
                ),
                (
                    format!("/admin/accounts/{bob}/role"),
                    vec![("role", "moderator")],
                    "role",
                ),
                (
                    format!("/admin/accounts/{bob}/suspend"),
                    vec![],
                    "suspended",
                ),
                (
                    format!("/admin/accounts/{bob}/unsuspend"),
                    vec![],
                    "unsuspended",
                ),
                (
                    "/admin/domains".to_owned(),
                    vec![("domain", "Bad.Example"), ("reason", "spam")],
                    "blocked",
                ),
                (
                    "/admin/domains/unblock".to_owned(),
                    vec![("domain", "bad.example")],
                    "unblocked",
                ),
            ];
            for (path, fields, done) in &actions {
                let forged = root.post_raw(path, fields).await;
                assert_eq!(forged.status, 403, "{path} without the token");
                root.get("/admin").await;
                let posted = root.post(path, fields).await;
                assert_eq!(posted.status, 303, "{path}: {}", text(&posted));
                assert_eq!(location(&posted), format!("/admin?done={done}"));
                let page = root.get(location(&posted)).await;
                assert_eq!(page.status, 200);
                let html = text(&page);
                match *done {
                    "approved" => assert!(!html.contains("ann wants to learn")),
                    "invite" => assert!(html.contains("0 of 3"), "{html}"),
                    "role" => assert!(html.contains("<option value=\"moderator\" selected>")),
                    "suspended" => assert!(html.contains("suspended</td>")),
                    "blocked" => assert!(html.contains("<td>bad.example</td>")),
                    "unblocked" => assert!(html.contains("No domain is blocked.")),
                    _ => {}
                }
            }
            // The invite created above can be revoked.
            let page = root.get("/admin").await;
            let html = text(&page).to_owned();
            let marker = "action=\"/admin/invites/";
            let at = html.find(marker).expect("revoke form") + marker.len();
            let id = &html[at..at + html[at..].find('/').expect("id")];
            let revoked = root.post(&format!("/admin/invites/{id}/revoke"), &[]).await;
            assert_eq!(location(&revoked), "/admin?done=invite_revoked");
            let page = root.get("/admin").await;
            assert!(text(&page).contains("Revoked"));

            // A refusal is an error page that says why.
            let root_id = api.create_user("zed", AccountRole::Member).await;
            let bogus = root
                .post(
                    &format!("/admin/accounts/{root_id}/role"),
                    &[("role", "bogus")],
                )
                .await;
            assert_eq!(bogus.status, 422);
            assert!(text(&bogus).contains("Role must be member, moderator or admin."));
        })
        .await;
    }
}
