//! The ask form (`/ask?community={handle}`): title, Markdown body and tags; with
//! JavaScript, similar questions appear while the title is typed.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::FieldErrors;
use super::page::{Layout, Web, WebForm, WebResult, url_encode};
use crate::db::types::{CommunityKind, ThreadKind};
use crate::service::communities::{self, CommunityDetails};
use crate::service::threads::{self, NewThread};

#[derive(Debug, Default, Deserialize)]
pub struct AskQuery {
    community: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    pub community: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub kind: String,
}

#[derive(Template)]
#[template(path = "ask.html")]
struct AskTemplate {
    layout: Layout,
    c: CommunityDetails,
    form: AskForm,
    errors: FieldErrors,
}

impl AskTemplate {
    fn similar_url(&self) -> String {
        format!("/api/v1/communities/{}/similar", url_encode(&self.c.handle))
    }

    fn is_question(&self) -> bool {
        self.form.kind != "discussion"
    }
}

/// Without a community: where to ask.
#[derive(Template)]
#[template(path = "ask_choose.html")]
struct ChooseTemplate {
    layout: Layout,
    communities: Vec<CommunityDetails>,
}

pub async fn form(web: Web, Query(query): Query<AskQuery>) -> WebResult {
    web.require_session()?;
    let ctx = &web.ctx;
    let Some(handle) = query.community.filter(|h| !h.trim().is_empty()) else {
        let communities = communities::list(&ctx.db, &ctx.settings, web.viewer())
            .await?
            .into_iter()
            .filter(|c| !c.community.deleted)
            .collect();
        let template = ChooseTemplate {
            layout: web.layout("Ask a question"),
            communities,
        };
        return Ok(web.render(StatusCode::OK, &template));
    };
    let c = communities::get(&ctx.db, &ctx.settings, web.viewer(), &handle).await?;
    let kind = match c.community.kind {
        CommunityKind::Qa => "question",
        CommunityKind::Discussion => "discussion",
    };
    let template = AskTemplate {
        layout: web.layout(format!("Ask in {}", c.community.title)),
        form: AskForm {
            community: c.handle.clone(),
            kind: kind.to_owned(),
            ..AskForm::default()
        },
        c,
        errors: FieldErrors::default(),
    };
    Ok(web.render(StatusCode::OK, &template))
}

/// Tags as typed: separated by commas.
pub(super) fn split_tags(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn ask_field(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_title" => "title",
        "empty_body" | "body_too_long" => "body",
        "invalid_tag" | "invalid_tags" | "too_many_tags" => "tags",
        _ => return None,
    })
}

pub async fn submit(web: Web, WebForm(form): WebForm<AskForm>) -> WebResult {
    let session = web.require_session()?;
    let ctx = &web.ctx;
    let new = NewThread {
        title: form.title.clone(),
        body: form.body.clone(),
        kind: Some(match form.kind.as_str() {
            "discussion" => ThreadKind::Discussion,
            _ => ThreadKind::Question,
        }),
        tags: split_tags(&form.tags),
    };
    match threads::create_thread(&ctx.db, &ctx.settings, session, &form.community, new).await {
        Ok(created) => Ok(web.see_other(&format!("/t/{}", created.thread.id))),
        Err(err) if matches!(err.status().as_u16(), 403 | 409 | 422) => {
            let c = communities::get(&ctx.db, &ctx.settings, web.viewer(), &form.community).await?;
            let template = AskTemplate {
                layout: web.layout(format!("Ask in {}", c.community.title)),
                errors: FieldErrors::from_error(&err, ask_field),
                form,
                c,
            };
            Ok(web.render(err.status(), &template))
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_are_split_on_commas() {
        assert_eq!(
            super::split_tags(" rust, async io ,, pools"),
            vec!["rust", "async io", "pools"]
        );
    }
}
