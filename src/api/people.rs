//! `GET /api/v1/persons/{handle}`: a person's public profile with what they contributed and
//! the tags they are an expert in.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath;
use super::auth::MaybeAuth;
use super::knowledge::ExpertiseView;
use crate::context::AppContext;
use crate::error::{AppResult, ErrorBody};
use crate::service::people as people_service;

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new().routes(routes!(profile))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    pub id: i64,
    pub ap_id: String,
    /// `name` here, `name@domain` for people on other instances.
    pub handle: String,
    pub display_name: Option<String>,
    /// Sanitized HTML.
    pub bio_html: Option<String>,
    pub avatar_url: Option<String>,
    pub local: bool,
    pub bot: bool,
    pub published: NaiveDateTime,
    /// Live threads started, in communities the caller may see.
    pub threads: i64,
    /// Live answers written, in communities the caller may see.
    pub answers: i64,
    pub accepted_answers: i64,
    /// Tags of the threads where this person's answers were accepted, most first (at most
    /// 10).
    pub expertise: Vec<ExpertiseView>,
}

/// A person's profile: local (`name`) or remote (`name@domain`, known here once seen).
#[utoipa::path(get, path = "/persons/{handle}", tag = "knowledge",
    params(("handle" = String, Path, description = "`name`, `name@domain`, or either with a leading `@`")),
    responses(
        (status = 200, body = ProfileView),
        (status = 404, description = "Nobody by that handle is known here", body = ErrorBody),
    ))]
async fn profile(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<ProfileView>> {
    let found = people_service::profile(&ctx.db, &ctx.settings, viewer.as_ref(), &handle).await?;
    let person = found.person;
    Ok(Json(ProfileView {
        id: person.id,
        ap_id: person.ap_id,
        handle: found.handle,
        display_name: person.display_name,
        bio_html: person.bio_html,
        avatar_url: person.avatar_url,
        local: person.local,
        bot: person.bot,
        published: person.published,
        threads: found.threads,
        answers: found.answers,
        accepted_answers: found.accepted_answers,
        expertise: found
            .expertise
            .into_iter()
            .map(|e| ExpertiseView {
                tag: e.tag,
                accepted_answers: e.accepted_answers,
            })
            .collect(),
    }))
}
