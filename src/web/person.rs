//! A local person's page (`/u/{name}`).

use askama::Template;
use axum::http::StatusCode;

use super::page::{Layout, Web, WebResult};
use super::views::date;
use crate::db::person::Person;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::service::people::{self, Profile};

#[derive(Template)]
#[template(path = "person.html")]
struct PersonTemplate {
    layout: Layout,
    person: Person,
    shown_name: String,
    joined: String,
    profile: Profile,
}

async fn read_local(db: &crate::db::Db, name: &str) -> AppResult<Option<Person>> {
    crate::with_conn!(db, |conn| crate::db::person::read_local_by_name(
        &mut conn,
        &name.to_ascii_lowercase()
    )
    .await
    .map_err(AppError::from))
}

pub async fn page(web: &Web, name: &str) -> WebResult {
    let found = read_local(&web.ctx.db, name)
        .await?
        .ok_or_else(|| AppError::not_found("person_not_found", "nobody has this name here"))?;
    if found.deleted {
        return Err(AppError::new(ErrorKind::Gone, "gone", "this account was deleted").into());
    }
    let shown_name = found
        .display_name
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| found.name.clone());
    // Counts and expertise cover only what this viewer may see.
    let profile =
        people::profile(&web.ctx.db, &web.ctx.settings, web.viewer(), &found.name).await?;
    let template = PersonTemplate {
        layout: web.layout(shown_name.clone()),
        joined: date(&found.published),
        profile,
        shown_name,
        person: found,
    };
    Ok(web.render(StatusCode::OK, &template))
}
