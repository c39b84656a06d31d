//! Instance administration: applications, invites, roles and suspensions.

use chrono::{NaiveDateTime, TimeDelta};

use crate::db::Db;
use crate::db::auth_token;
use crate::db::invite::{self, Invite, InviteInsertForm};
use crate::db::local_account::{self, AccountRow};
use crate::db::outbox::InstanceDeliveries;
use crate::db::types::{AccountRole, AccountStatus};
use crate::error::{AppError, AppResult};
use crate::service::auth::{Session, random_secret};

/// Most accounts one listing returns.
pub const LIST_LIMIT: i64 = 500;
/// Longest invite validity an admin can choose, and the largest use count.
pub const INVITE_MAX_DAYS: i64 = 365;
pub const INVITE_MAX_USES: i64 = 10_000;
pub const REASON_MAX_CHARS: usize = 1_000;

fn account_not_found() -> AppError {
    AppError::not_found("account_not_found", "no local account has this id")
}

async fn read_account(db: &Db, person_id: i64) -> AppResult<AccountRow> {
    crate::with_conn!(db, |conn| {
        local_account::read_by_person(&mut conn, person_id)
            .await
            .map_err(|e| match e {
                diesel::result::Error::NotFound => account_not_found(),
                other => AppError::from(other),
            })
    })
}

/// Accounts (admins only), newest first, optionally by status (`pending` = applications).
pub async fn list_accounts(
    db: &Db,
    session: &Session,
    status: Option<AccountStatus>,
) -> AppResult<Vec<AccountRow>> {
    session.require_admin()?;
    crate::with_conn!(db, |conn| local_account::list(
        &mut conn, status, LIST_LIMIT
    )
    .await
    .map_err(AppError::from))
}

/// Approves a pending application: the account becomes active.
pub async fn approve_application(
    db: &Db,
    session: &Session,
    person_id: i64,
) -> AppResult<AccountRow> {
    session.require_admin()?;
    let (account, _) = read_account(db, person_id).await?;
    decide(
        db,
        account.id,
        AccountStatus::Pending,
        AccountStatus::Active,
        None,
    )
    .await?;
    read_account(db, person_id).await
}

/// Rejects a pending application, with an optional reason kept for the record.
pub async fn reject_application(
    db: &Db,
    session: &Session,
    person_id: i64,
    reason: Option<String>,
) -> AppResult<AccountRow> {
    session.require_admin()?;
    let reason = clean_reason(reason)?;
    let (account, _) = read_account(db, person_id).await?;
    decide(
        db,
        account.id,
        AccountStatus::Pending,
        AccountStatus::Rejected,
        reason.as_deref(),
    )
    .await?;
    read_account(db, person_id).await
}

fn clean_reason(reason: Option<String>) -> AppResult<Option<String>> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > REASON_MAX_CHARS)
    {
        return Err(AppError::unprocessable(
            "invalid_reason",
            format!("reason must be at most {REASON_MAX_CHARS} characters"),
        ));
    }
    Ok(reason)
}

async fn decide(
    db: &Db,
    account_id: i64,
    from: AccountStatus,
    to: AccountStatus,
    reason: Option<&str>,
) -> AppResult<()> {
    let now = crate::db::now();
    let changed = crate::transaction!(db, |conn| {
        let changed = local_account::change_status(&mut conn, account_id, from, to, reason).await?;
        if changed && to != AccountStatus::Active {
            auth_token::revoke_all(&mut conn, account_id, None, now).await?;
        }
        Ok::<_, AppError>(changed)
    })?;
    if changed {
        Ok(())
    } else {
        Err(AppError::conflict(
            "wrong_account_status",
            format!("only a {from} account can become {to}"),
        ))
    }
}

/// Suspends an active account: it cannot sign in or act, and its tokens are revoked.
pub async fn suspend(db: &Db, session: &Session, person_id: i64) -> AppResult<AccountRow> {
    session.require_admin()?;
    if person_id == session.person.id {
        return Err(AppError::conflict(
            "cannot_suspend_self",
            "admins cannot suspend their own account",
        ));
    }
    let (account, _) = read_account(db, person_id).await?;
    decide(
        db,
        account.id,
        AccountStatus::Active,
        AccountStatus::Suspended,
        None,
    )
    .await?;
    read_account(db, person_id).await
}

pub async fn unsuspend(db: &Db, session: &Session, person_id: i64) -> AppResult<AccountRow> {
    session.require_admin()?;
    let (account, _) = read_account(db, person_id).await?;
    decide(
        db,
        account.id,
        AccountStatus::Suspended,
        AccountStatus::Active,
        None,
    )
    .await?;
    read_account(db, person_id).await
}

/// Changes an account's instance-wide role. The last active admin cannot be demoted, so the
/// instance always keeps someone who can administer it.
pub async fn set_role(
    db: &Db,
    session: &Session,
    person_id: i64,
    role: AccountRole,
) -> AppResult<AccountRow> {
    session.require_admin()?;
    let (account, _) = read_account(db, person_id).await?;
    crate::transaction!(db, |conn| {
        if account.role == AccountRole::Admin
            && role != AccountRole::Admin
            && account.status == AccountStatus::Active
            && local_account::count_active_admins(&mut conn).await? <= 1
        {
            return Err(AppError::conflict(
                "last_admin",
                "this is the last admin; make someone else admin first",
            ));
        }
        local_account::set_role(&mut conn, account.id, role).await?;
        Ok::<_, AppError>(())
    })?;
    read_account(db, person_id).await
}

/// What an invite allows.
#[derive(Debug, Clone, Default)]
pub struct NewInvite {
    /// `None`: unlimited uses.
    pub max_uses: Option<i64>,
    /// `None`: never expires.
    pub expires_in_hours: Option<i64>,
}

/// Creates an invite code (admins and instance moderators).
pub async fn create_invite(db: &Db, session: &Session, new: NewInvite) -> AppResult<Invite> {
    session.require_staff()?;
    if let Some(uses) = new.max_uses
        && !(1..=INVITE_MAX_USES).contains(&uses)
    {
        return Err(AppError::unprocessable(
            "invalid_max_uses",
            format!("max_uses must be between 1 and {INVITE_MAX_USES}"),
        ));
    }
    let now = crate::db::now();
    let expires_at: Option<NaiveDateTime> = match new.expires_in_hours {
        Some(hours) if (1..=INVITE_MAX_DAYS * 24).contains(&hours) => {
            Some(now + TimeDelta::hours(hours))
        }
        Some(_) => {
            return Err(AppError::unprocessable(
                "invalid_expires_in_hours",
                format!(
                    "expires_in_hours must be between 1 and {}",
                    INVITE_MAX_DAYS * 24
                ),
            ));
        }
        None => None,
    };
    // 128 bits are plenty for a code people paste into a form.
    let code = random_secret()?[..32].to_owned();
    let form = InviteInsertForm {
        code,
        created_by: Some(session.account.id),
        max_uses: new.max_uses,
        expires_at,
        created_at: now,
    };
    crate::with_conn!(db, |conn| invite::insert(&mut conn, &form)
        .await
        .map_err(AppError::from))
}

/// Admins see every invite; moderators the ones they made.
pub async fn list_invites(db: &Db, session: &Session) -> AppResult<Vec<Invite>> {
    session.require_staff()?;
    let created_by = if session.is_admin() {
        None
    } else {
        Some(session.account.id)
    };
    crate::with_conn!(db, |conn| invite::list(&mut conn, created_by)
        .await
        .map_err(AppError::from))
}

/// Revokes an invite: admins any, moderators their own.
pub async fn revoke_invite(db: &Db, session: &Session, invite_id: i64) -> AppResult<Invite> {
    session.require_staff()?;
    let now = crate::db::now();
    crate::with_conn!(db, |conn| {
        let found = invite::read(&mut conn, invite_id)
            .await
            .map_err(|e| match e {
                diesel::result::Error::NotFound => {
                    AppError::not_found("invite_not_found", "no invite has this id")
                }
                other => AppError::from(other),
            })?;
        if !session.is_admin() && found.created_by != Some(session.account.id) {
            return Err(AppError::forbidden(
                "not_your_invite",
                "moderators may revoke only the invites they created",
            ));
        }
        invite::revoke(&mut conn, invite_id, now).await?;
        Ok(invite::read(&mut conn, invite_id).await?)
    })
}
/// Delivery counts and health per remote instance (staff only).
pub async fn federation_status(db: &Db, session: &Session) -> AppResult<Vec<InstanceDeliveries>> {
    session.require_staff()?;
    delivery_status(db).await
}

/// Delivery counts and health per remote instance, for `lyceum admin federation`.
pub async fn delivery_status(db: &Db) -> AppResult<Vec<InstanceDeliveries>> {
    let now = crate::db::now();
    crate::with_conn!(db, |conn| crate::db::outbox::per_instance(&mut conn, now)
        .await
        .map_err(AppError::from))
}
