//! Signing in and out: API bearer tokens and web sessions, both random secrets stored only
//! as SHA-256 hashes, revocable and expiring.

use chrono::TimeDelta;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::db::auth_token::{self, AuthToken, AuthTokenInsertForm};
use crate::db::local_account::{self, LocalAccount};
use crate::db::person::Person;
use crate::db::types::{AccountRole, AccountStatus, TokenKind};
use crate::db::{Db, DbError};
use crate::error::{AppError, AppResult};
use crate::service::accounts::{hash_password, verify_password};
use crate::settings::AuthSettings;

/// A token's last-use time is written at most this often, so reads stay reads.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(5);
/// Longest label a client may give a token.
pub const TOKEN_LABEL_MAX_CHARS: usize = 100;

/// Who is making a request, and through which credential.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: AuthToken,
    pub account: LocalAccount,
    pub person: Person,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.account.role == AccountRole::Admin
    }

    /// Admins and instance-wide moderators.
    pub fn is_staff(&self) -> bool {
        matches!(
            self.account.role,
            AccountRole::Admin | AccountRole::Moderator
        )
    }

    pub fn require_admin(&self) -> AppResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "admin_required",
                "only instance admins may do this",
            ))
        }
    }

    pub fn require_staff(&self) -> AppResult<()> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "moderator_required",
                "only instance admins and moderators may do this",
            ))
        }
    }
}

/// A credential just issued: the secret is shown to the client once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub secret: String,
    pub token: AuthToken,
}

/// A random 256-bit secret, hex-encoded.
pub fn random_secret() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::internal(format!("no randomness from the OS: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "the username or password is wrong")
}

/// A hash to verify against when the user does not exist, so that a wrong name takes as
/// long as a wrong password and does not reveal which names exist.
async fn decoy_hash() -> AppResult<&'static str> {
    static DECOY: OnceCell<String> = OnceCell::const_new();
    DECOY
        .get_or_try_init(|| hash_password("decoy password for unknown users"))
        .await
        .map(String::as_str)
}

/// Refuses accounts that may not sign in or act, with a reason the user can act on.
pub fn ensure_active(account: &LocalAccount) -> AppResult<()> {
    match account.status {
        AccountStatus::Active => Ok(()),
        AccountStatus::Pending => Err(AppError::forbidden(
            "account_pending",
            "this account is waiting for an admin to approve the application",
        )),
        AccountStatus::Rejected => Err(AppError::forbidden(
            "application_rejected",
            "the application for this account was rejected",
        )),
        AccountStatus::Suspended => Err(AppError::forbidden(
            "account_suspended",
            "this account is suspended",
        )),
    }
}

/// Checks a username and password and issues a credential of `kind`.
pub async fn login(
    db: &Db,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    kind: TokenKind,
    label: Option<String>,
) -> AppResult<IssuedToken> {
    let name = username.trim().to_ascii_lowercase();
    let found = crate::with_conn!(db, |conn| {
        match local_account::read_by_name(&mut conn, &name).await {
            Ok(row) => Ok(Some(row)),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(e) => Err(AppError::from(e)),
        }
    })?;
    let Some((account, _person)) = found else {
        verify_password(password, decoy_hash().await?).await?;
        return Err(invalid_credentials());
    };
    if !verify_password(password, &account.password_hash).await? {
        return Err(invalid_credentials());
    }
    ensure_active(&account)?;
    let label = clean_label(label)?;
    let ttl_days = match kind {
        TokenKind::Api => settings.token_ttl_days,
        TokenKind::Session => settings.session_ttl_days,
    };
    issue(
        db,
        account.id,
        kind,
        label,
        TimeDelta::days(i64::from(ttl_days)),
    )
    .await
}

fn clean_label(label: Option<String>) -> AppResult<Option<String>> {
    let label = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > TOKEN_LABEL_MAX_CHARS)
    {
        return Err(AppError::unprocessable(
            "invalid_label",
            format!("label must be at most {TOKEN_LABEL_MAX_CHARS} characters"),
        ));
    }
    Ok(label)
}

async fn issue(
    db: &Db,
    account_id: i64,
    kind: TokenKind,
    label: Option<String>,
    ttl: TimeDelta,
) -> AppResult<IssuedToken> {
    let secret = random_secret()?;
    let csrf_token = match kind {
        TokenKind::Session => Some(random_secret()?),
        TokenKind::Api => None,
    };
    let now = crate::db::now();
    let form = AuthTokenInsertForm {
        account_id,
        token_hash: hash_secret(&secret),
        kind,
        label,
        csrf_token,
        created_at: now,
        last_used_at: now,
        expires_at: now + ttl,
    };
    let token = crate::with_conn!(db, |conn| auth_token::insert(&mut conn, &form)
        .await
        .map_err(AppError::from))?;
    Ok(IssuedToken { secret, token })
}

/// Resolves a presented secret to a session: 401 when unknown, revoked or expired, 403
/// when the account may not act.
pub async fn authenticate(db: &Db, secret: &str, kind: TokenKind) -> AppResult<Session> {
    let now = crate::db::now();
    let hash = hash_secret(secret);
    let found = crate::with_conn!(db, |conn| {
        let found = auth_token::read_live(&mut conn, &hash, kind, now).await?;
        if let Some((token, _, _)) = &found
            && token.last_used_at + TOUCH_INTERVAL < now
        {
            auth_token::touch(&mut conn, token.id, now).await?;
        }
        Ok::<_, DbError>(found)
    })?;
    let Some((token, account, person)) = found else {
        return Err(AppError::unauthorized(
            "invalid_token",
            "the token or session is unknown, revoked or expired; sign in again",
        ));
    };
    ensure_active(&account)?;
    Ok(Session {
        token,
        account,
        person,
    })
}

/// Revokes the credential the session was made with.
pub async fn logout(db: &Db, session: &Session) -> AppResult<()> {
    revoke_token(db, session, session.token.id).await
}

pub async fn list_tokens(db: &Db, session: &Session) -> AppResult<Vec<AuthToken>> {
    let now = crate::db::now();
    crate::with_conn!(db, |conn| auth_token::list_live(
        &mut conn,
        session.account.id,
        now
    )
    .await
    .map_err(AppError::from))
}

/// Revokes one of the session owner's own tokens; 404 for anything else.
pub async fn revoke_token(db: &Db, session: &Session, token_id: i64) -> AppResult<()> {
    let now = crate::db::now();
    let revoked = crate::with_conn!(db, |conn| auth_token::revoke(
        &mut conn,
        session.account.id,
        token_id,
        now
    )
    .await
    .map_err(AppError::from))?;
    if revoked {
        Ok(())
    } else {
        Err(AppError::not_found(
            "token_not_found",
            "no live token of yours has this id",
        ))
    }
}
