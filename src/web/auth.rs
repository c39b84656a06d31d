//! Signing in, signing out and signing up from the browser, through the same services as
//! the API; the session cookie is the one `POST /api/v1/auth/session` sets.

use askama::Template;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::page::{Layout, Web, WebForm, WebResult, capitalized, safe_next};
use crate::api::auth::session_set_cookie;
use crate::db::types::{AccountStatus, TokenKind};
use crate::error::AppError;
use crate::service::accounts::{self, Registration};
use crate::service::auth as auth_service;
use crate::settings::RegistrationMode;

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    layout: Layout,
    username: String,
    next: String,
    error: Option<String>,
}

pub async fn login_form(mut web: Web, Query(query): Query<NextQuery>) -> WebResult {
    let next = safe_next(query.next.as_deref());
    if web.viewer().is_some() {
        return Ok(web.see_other(&next));
    }
    web.ensure_pre_session_token()?;
    let template = LoginTemplate {
        layout: web.layout("Sign in"),
        username: String::new(),
        next,
        error: None,
    };
    Ok(web.render(StatusCode::OK, &template))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(web: Web, WebForm(form): WebForm<LoginForm>) -> WebResult {
    let next = safe_next(form.next.as_deref());
    let ctx = &web.ctx;
    match auth_service::login(
        &ctx.db,
        &ctx.settings.auth,
        &form.username,
        &form.password,
        TokenKind::Session,
        None,
    )
    .await
    {
        Ok(issued) => Ok(signed_in(&web, &issued.secret, &next)),
        Err(err) if err.status().is_client_error() => {
            let template = LoginTemplate {
                layout: web.layout("Sign in"),
                username: form.username,
                next,
                error: Some(capitalized(&err.message)),
            };
            Ok(web.render(err.status(), &template))
        }
        Err(err) => Err(err.into()),
    }
}

/// A redirect to `next` that sets the new session's cookie.
fn signed_in(web: &Web, secret: &str, next: &str) -> Response {
    let max_age = i64::from(web.ctx.settings.auth.session_ttl_days) * 24 * 3600;
    let mut response = web.see_other(next);
    if let Some(cookie) = session_set_cookie(&web.ctx, Some((secret, max_age))) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

pub async fn logout(web: Web, WebForm(_): WebForm<EmptyForm>) -> WebResult {
    let mut response = web.see_other("/");
    if let Some(session) = web.viewer() {
        auth_service::logout(&web.ctx.db, session).await?;
        if let Some(cookie) = session_set_cookie(&web.ctx, None) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    Ok(response)
}

/// Which mode's fields the sign-up form shows.
#[derive(Template)]
#[template(path = "signup.html")]
struct SignupTemplate {
    layout: Layout,
    mode: &'static str,
    question: String,
    form: SignupForm,
    errors: FieldErrors,
    /// Set once an application was received (approval mode).
    applied: bool,
}

/// A message per form field, and one for the whole form.
#[derive(Debug, Default)]
pub struct FieldErrors {
    pub general: Option<String>,
    pub fields: Vec<(&'static str, String)>,
}

impl FieldErrors {
    /// The message for `field`, if any (templates call this).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// Puts `err` next to the field its code names, or at the top of the form.
    pub fn from_error(err: &AppError, field_of: impl Fn(&str) -> Option<&'static str>) -> Self {
        let message = capitalized(&err.message);
        match field_of(err.code) {
            Some(field) => FieldErrors {
                general: None,
                fields: vec![(field, message)],
            },
            None => FieldErrors {
                general: Some(message),
                fields: Vec::new(),
            },
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub invite_code: String,
    #[serde(default)]
    pub application_answer: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SignupQuery {
    /// An invite link's code, filled into the form.
    invite: Option<String>,
}

pub(super) fn mode_name(mode: RegistrationMode) -> &'static str {
    match mode {
        RegistrationMode::Open => "open",
        RegistrationMode::Approval => "approval",
        RegistrationMode::Invite => "invite",
        RegistrationMode::Closed => "closed",
    }
}

fn signup_template(web: &Web, form: SignupForm, errors: FieldErrors) -> SignupTemplate {
    let registration = &web.ctx.settings.registration;
    SignupTemplate {
        layout: web.layout("Sign up"),
        mode: mode_name(registration.mode),
        question: registration.application_question.clone(),
        form,
        errors,
        applied: false,
    }
}

pub async fn signup_form(mut web: Web, Query(query): Query<SignupQuery>) -> WebResult {
    if web.viewer().is_some() {
        return Ok(web.see_other("/"));
    }
    web.ensure_pre_session_token()?;
    let form = SignupForm {
        invite_code: query.invite.unwrap_or_default(),
        ..SignupForm::default()
    };
    let template = signup_template(&web, form, FieldErrors::default());
    Ok(web.render(StatusCode::OK, &template))
}

fn signup_field(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_username" | "username_taken" => "username",
        "invalid_password" => "password",
        "invalid_email" | "email_taken" => "email",
        "invalid_invite" | "invite_required" => "invite_code",
        "application_answer_required" | "invalid_application_answer" => "application_answer",
        _ => return None,
    })
}

pub async fn signup(web: Web, WebForm(form): WebForm<SignupForm>) -> WebResult {
    let ctx = &web.ctx;
    let registration = Registration {
        username: form.username.trim().to_owned(),
        password: form.password.clone(),
        email: Some(form.email.clone()),
        invite_code: Some(form.invite_code.clone()),
        application_answer: Some(form.application_answer.clone()),
    };
    let created = match accounts::register(&ctx.db, &ctx.settings, registration).await {
        Ok(created) => created,
        Err(err) if err.status().is_client_error() => {
            let errors = FieldErrors::from_error(&err, signup_field);
            // The password is not sent back into the page.
            let form = SignupForm {
                password: String::new(),
                ..form
            };
            let template = signup_template(&web, form, errors);
            return Ok(web.render(err.status(), &template));
        }
        Err(err) => return Err(err.into()),
    };
    if created.account.status == AccountStatus::Pending {
        let mut template = signup_template(&web, SignupForm::default(), FieldErrors::default());
        template.applied = true;
        template.layout.title = "Application received".to_owned();
        return Ok(web.render(StatusCode::OK, &template));
    }
    let issued = auth_service::login(
        &ctx.db,
        &ctx.settings.auth,
        &created.person.name,
        &form.password,
        TokenKind::Session,
        None,
    )
    .await?;
    Ok(signed_in(&web, &issued.secret, "/"))
}
