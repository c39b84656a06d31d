//! Local accounts: validation, password hashing and creation, shared by the CLI and the API.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::db::local_account::{self, LocalAccount, LocalAccountInsertForm};
use crate::db::person::{self, Person, PersonInsertForm, PersonProfileForm};
use crate::db::types::{AccountRole, AccountStatus, ActorKind};
use crate::db::{Db, actor_name, answer, auth_token, instance, invite, thread};
use crate::error::{AppError, AppResult};
use crate::service::auth::Session;
use crate::settings::{RegistrationMode, Settings};

pub const USERNAME_MIN_CHARS: usize = 2;
pub const USERNAME_MAX_CHARS: usize = 20;
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Bounds the work one sign-in can ask of the hasher.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// What a new local account starts with.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub role: AccountRole,
    pub status: AccountStatus,
    pub application_answer: Option<String>,
    /// Used once, in the same transaction, when given; an unusable code refuses the account.
    pub invite_code: Option<String>,
}

impl NewAccount {
    /// An active account made by an operator (`admin create-user`), a test or a benchmark:
    /// no application, no invite.
    pub fn active(username: &str, password: &str, role: AccountRole) -> NewAccount {
        NewAccount {
            username: username.to_owned(),
            password: password.to_owned(),
            email: None,
            role,
            status: AccountStatus::Active,
            application_answer: None,
            invite_code: None,
        }
    }
}

/// A local account with its person.
#[derive(Debug, Clone)]
pub struct AccountWithPerson {
    pub account: LocalAccount,
    pub person: Person,
}

/// Checks the username rules: lower-case `[a-z0-9_]`, 2 to 20 characters.
pub fn validate_username(name: &str) -> AppResult<()> {
    let chars = name.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&chars) {
        return Err(AppError::unprocessable(
            "invalid_username",
            format!(
                "username must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long"
            ),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(AppError::unprocessable(
            "invalid_username",
            "username may contain only lower-case letters a-z, digits and underscores",
        ));
    }
    Ok(())
}

pub fn validate_password(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(AppError::unprocessable(
            "invalid_password",
            format!("password must be at least {PASSWORD_MIN_CHARS} characters long"),
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(AppError::unprocessable(
            "invalid_password",
            format!("password must be at most {PASSWORD_MAX_CHARS} characters long"),
        ));
    }
    Ok(())
}

fn validate_email(email: &str) -> AppResult<()> {
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(AppError::unprocessable(
            "invalid_email",
            "email must look like name@example.org",
        ))
    }
}

/// Hashes with argon2id (the crate's default parameters) on the blocking pool.
pub async fn hash_password(password: &str) -> AppResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        // The salt is drawn from the operating system's random source.
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// True when `password` matches the stored hash; a malformed hash never matches.
pub async fn verify_password(password: &str, hash: &str) -> AppResult<bool> {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(AppError::internal)
}

/// Creates a local account and its `Person` actor (with a fresh RSA-2048 key pair) in one
/// transaction. The name is reserved in the namespace shared with communities.
pub async fn create_account(
    db: &Db,
    public_url: &str,
    new: NewAccount,
) -> AppResult<AccountWithPerson> {
    validate_username(&new.username)?;
    validate_password(&new.password)?;
    let email = match new
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(email) => {
            validate_email(email)?;
            Some(email.to_owned())
        }
        None => None,
    };
    let password_hash = hash_password(&new.password).await?;
    let keypair = tokio::task::spawn_blocking(
        activitypub_federation::http_signatures::generate_actor_keypair,
    )
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;

    let name = new.username.clone();
    let now = crate::db::now();
    let ap_id = format!("{public_url}/u/{name}");
    crate::transaction!(db, |conn| {
        if !actor_name::reserve_actor_name(&mut conn, &name, ActorKind::Person).await? {
            return Err(AppError::conflict(
                "username_taken",
                format!("the name `{name}` is already taken by a person or a community"),
            ));
        }
        let invite_id = match &new.invite_code {
            Some(code) => Some(
                invite::consume(&mut conn, code.trim(), now)
                    .await?
                    .ok_or_else(|| {
                        AppError::unprocessable(
                            "invalid_invite",
                            "invite_code is unknown, expired, revoked or used up",
                        )
                    })?,
            ),
            None => None,
        };
        let local = instance::read_local(&mut conn).await?;
        let person = person::insert(
            &mut conn,
            &PersonInsertForm {
                ap_id: ap_id.clone(),
                local: true,
                instance_id: local.id,
                name: name.clone(),
                name_lower: name.clone(),
                display_name: None,
                inbox_url: format!("{ap_id}/inbox"),
                shared_inbox_url: Some(format!("{public_url}/inbox")),
                public_key_pem: keypair.public_key.clone(),
                private_key_pem: Some(keypair.private_key.clone()),
                published: now,
                last_refreshed_at: now,
            },
        )
        .await?;
        let account = local_account::insert(
            &mut conn,
            &LocalAccountInsertForm {
                person_id: person.id,
                email_lower: email.as_ref().map(|e| e.to_lowercase()),
                email: email.clone(),
                password_hash: password_hash.clone(),
                role: new.role,
                status: new.status,
                application_answer: new.application_answer.clone(),
                created_at: now,
                updated_at: now,
                invite_id,
            },
        )
        .await
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::conflict("email_taken", "this email address is already in use"),
            other => AppError::from(other),
        })?;
        Ok::<_, AppError>(AccountWithPerson { account, person })
    })
}

/// Longest answer an applicant may give to the application question.
pub const APPLICATION_ANSWER_MAX_CHARS: usize = 2_000;
pub const DISPLAY_NAME_MAX_CHARS: usize = 50;
pub const BIO_MAX_CHARS: usize = 5_000;
pub const AVATAR_URL_MAX_CHARS: usize = 2_000;

/// A sign-up as a visitor submits it.
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub invite_code: Option<String>,
    pub application_answer: Option<String>,
}

/// Signs a visitor up under the instance's registration mode: `open` makes an active
/// account, `approval` a pending one with the applicant's answer, `invite` needs a live
/// invite code, `closed` refuses.
pub async fn register(
    db: &Db,
    settings: &Settings,
    registration: Registration,
) -> AppResult<AccountWithPerson> {
    let mode = settings.registration.mode;
    let mut new = NewAccount {
        username: registration.username,
        password: registration.password,
        email: registration.email,
        role: AccountRole::Member,
        status: AccountStatus::Active,
        application_answer: None,
        invite_code: None,
    };
    match mode {
        RegistrationMode::Closed => {
            return Err(AppError::forbidden(
                "registration_closed",
                "this instance does not take sign-ups; ask an admin for an account",
            ));
        }
        RegistrationMode::Open => {}
        RegistrationMode::Approval => {
            let answer = registration
                .application_answer
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    AppError::unprocessable(
                        "application_answer_required",
                        format!(
                            "application_answer is required: {}",
                            settings.registration.application_question
                        ),
                    )
                })?;
            if answer.chars().count() > APPLICATION_ANSWER_MAX_CHARS {
                return Err(AppError::unprocessable(
                    "invalid_application_answer",
                    format!(
                        "application_answer must be at most {APPLICATION_ANSWER_MAX_CHARS} characters"
                    ),
                ));
            }
            new.status = AccountStatus::Pending;
            new.application_answer = Some(answer);
        }
        RegistrationMode::Invite => {
            let code = registration
                .invite_code
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    AppError::unprocessable(
                        "invite_required",
                        "invite_code is required: this instance takes sign-ups by invitation",
                    )
                })?;
            new.invite_code = Some(code);
        }
    }
    create_account(db, &settings.public_url(), new).await
}

/// Profile changes; `None` leaves a field as it is, an empty string clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
}

pub async fn update_profile(
    db: &Db,
    session: &Session,
    changes: ProfileChanges,
) -> AppResult<Person> {
    let mut form = PersonProfileForm::default();
    if let Some(name) = changes.display_name {
        let name = name.trim().to_owned();
        if name.chars().count() > DISPLAY_NAME_MAX_CHARS || name.chars().any(char::is_control) {
            return Err(AppError::unprocessable(
                "invalid_display_name",
                format!(
                    "display_name must be at most {DISPLAY_NAME_MAX_CHARS} characters, without control characters"
                ),
            ));
        }
        form.display_name = Some(Some(name).filter(|n| !n.is_empty()));
    }
    if let Some(bio) = changes.bio {
        if bio.chars().count() > BIO_MAX_CHARS {
            return Err(AppError::unprocessable(
                "invalid_bio",
                format!("bio must be at most {BIO_MAX_CHARS} characters"),
            ));
        }
        let bio = Some(bio).filter(|b| !b.trim().is_empty());
        form.bio_html = Some(bio.as_deref().map(crate::content::markdown_to_html));
        form.bio = Some(bio);
    }
    if let Some(url) = changes.avatar_url {
        let url = url.trim().to_owned();
        if !url.is_empty() {
            let parsed = url::Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if parsed.is_none() || url.chars().count() > AVATAR_URL_MAX_CHARS {
                return Err(AppError::unprocessable(
                    "invalid_avatar_url",
                    "avatar_url must be an http(s) URL",
                ));
            }
        }
        form.avatar_url = Some(Some(url).filter(|u| !u.is_empty()));
    }
    form.updated = Some(crate::db::now());
    crate::with_conn!(db, |conn| person::update_profile(
        &mut conn,
        session.person.id,
        &form
    )
    .await
    .map_err(AppError::from))
}

/// Changes the password after checking the current one, and signs out every other token
/// and session of the account (the one making the change stays signed in).
pub async fn change_password(
    db: &Db,
    session: &Session,
    current_password: &str,
    new_password: &str,
) -> AppResult<()> {
    if !verify_password(current_password, &session.account.password_hash).await? {
        return Err(AppError::forbidden(
            "wrong_password",
            "current_password is not this account's password",
        ));
    }
    validate_password(new_password)?;
    let hash = hash_password(new_password).await?;
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        local_account::set_password_hash(&mut conn, session.account.id, &hash).await?;
        auth_token::revoke_all(&mut conn, session.account.id, Some(session.token.id), now).await?;
        Ok::<_, AppError>(())
    })
}

/// What happens to a leaving member's threads and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentOnDeletion {
    /// Stay, shown as written by a deleted user.
    Keep,
    /// Soft-deleted: tombstones keep thread structure, the text is gone.
    Remove,
}

/// Deletes the member's own account after checking the password: the sign-in side and all
/// tokens are removed, the person is marked deleted (the name stays reserved), and the
/// content is kept or removed as chosen.
pub async fn delete_account(
    db: &Db,
    session: &Session,
    password: &str,
    content: ContentOnDeletion,
) -> AppResult<()> {
    if !verify_password(password, &session.account.password_hash).await? {
        return Err(AppError::forbidden(
            "wrong_password",
            "password is not this account's password",
        ));
    }
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        if session.is_admin() && local_account::count_active_admins(&mut conn).await? <= 1 {
            return Err(AppError::conflict(
                "last_admin",
                "the last admin cannot delete their account; make someone else admin first",
            ));
        }
        if content == ContentOnDeletion::Remove {
            thread::delete_all_by_author(&mut conn, session.person.id, now).await?;
            answer::delete_all_by_author(&mut conn, session.person.id, now).await?;
        }
        person::mark_deleted(&mut conn, session.person.id, now).await?;
        local_account::delete(&mut conn, session.account.id).await?;
        Ok::<_, AppError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TEST_PUBLIC_URL, for_each_backend};
    use axum::http::StatusCode;

    fn new_account(name: &str) -> NewAccount {
        NewAccount {
            username: name.to_owned(),
            password: "correct horse battery".to_owned(),
            email: None,
            role: AccountRole::Member,
            status: AccountStatus::Active,
            application_answer: None,
            invite_code: None,
        }
    }

    #[test]
    fn username_rules() {
        for good in ["ab", "alice", "a_1", "abcdefghijklmnopqrst"] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in [
            "a",
            "Alice",
            "al ice",
            "al-ice",
            "abcdefghijklmnopqrstu",
            "élise",
            "",
        ] {
            let err = validate_username(bad).expect_err(bad);
            assert_eq!(err.code, "invalid_username", "{bad}");
            assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("0123456789").is_ok());
        assert_eq!(
            validate_password("short").expect_err("short").code,
            "invalid_password"
        );
        assert!(validate_password(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }

    #[tokio::test]
    async fn password_hashes_verify_and_are_argon2id() {
        let hash = hash_password("correct horse battery").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify_password("correct horse battery", &hash)
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("wrong horse battery", &hash)
                .await
                .expect("verify")
        );
        assert!(!verify_password("x", "not a hash").await.expect("verify"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_account_makes_a_person_with_keys_and_refuses_a_taken_name() {
        for_each_backend(async |db| {
            let created = create_account(
                &db,
                TEST_PUBLIC_URL,
                NewAccount {
                    email: Some("Alice@Example.org".into()),
                    ..new_account("alice")
                },
            )
            .await
            .expect("created");
            assert_eq!(created.person.ap_id, format!("{TEST_PUBLIC_URL}/u/alice"));
            assert!(created.person.local);
            assert!(created.person.public_key_pem.contains("BEGIN PUBLIC KEY"));
            assert!(
                created
                    .person
                    .private_key_pem
                    .as_deref()
                    .is_some_and(|k| k.contains("PRIVATE KEY"))
            );
            assert_eq!(
                created.account.email_lower.as_deref(),
                Some("alice@example.org")
            );
            assert!(created.account.password_hash.starts_with("$argon2id$"));

            let err = create_account(&db, TEST_PUBLIC_URL, new_account("alice"))
                .await
                .expect_err("taken");
            assert_eq!(err.code, "username_taken");
            assert_eq!(err.status(), StatusCode::CONFLICT);

            // A failure after the name was reserved leaves nothing behind: the email clash
            // rolls back the name reservation and the person.
            let err = create_account(
                &db,
                TEST_PUBLIC_URL,
                NewAccount {
                    email: Some("alice@example.org".into()),
                    ..new_account("bob")
                },
            )
            .await
            .expect_err("email taken");
            assert_eq!(err.code, "email_taken");
            create_account(&db, TEST_PUBLIC_URL, new_account("bob"))
                .await
                .expect("bob is free again");
        })
        .await;
    }
}
