//! Server-rendered pages for the object URLs (`/c/`, `/u/`, `/t/`, `/r/`) when a browser,
//! not a server, asks. Plain, escaped HTML; the full web interface builds on these routes.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::service::{communities, threads};

/// Escapes text for HTML element content and quoted attribute values.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} · Lyceum</title>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n",
        text(title)
    );
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    response
}

pub async fn community_page(ctx: &AppContext, name: &str) -> AppResult<Response> {
    let found = communities::get(&ctx.db, &ctx.settings, None, name).await?;
    let c = &found.community;
    let body = format!(
        "<h1>{}</h1>\n<p>!{}@{} · {} members · {} threads</p>\n<section>{}</section>",
        text(&c.title),
        text(&c.name),
        text(&ctx.settings.domain),
        found.member_count,
        found.thread_count,
        c.description_html.as_deref().unwrap_or_default()
    );
    Ok(page(&c.title, &body))
}

pub async fn person_page(ctx: &AppContext, name: &str) -> AppResult<Response> {
    let found = crate::with_conn!(&ctx.db, |conn| crate::db::person::read_local_by_name(
        &mut conn,
        &name.to_ascii_lowercase()
    )
    .await
    .map_err(AppError::from))?
    .ok_or_else(|| AppError::not_found("not_found", "no person here"))?;
    if found.deleted {
        return Ok((
            StatusCode::GONE,
            page("Deleted user", "<h1>Deleted user</h1>"),
        )
            .into_response());
    }
    let shown = found.display_name.as_deref().unwrap_or(&found.name);
    let body = format!(
        "<h1>{}</h1>\n<p>@{}@{}</p>\n<section>{}</section>",
        text(shown),
        text(&found.name),
        text(&ctx.settings.domain),
        found.bio_html.as_deref().unwrap_or_default()
    );
    Ok(page(shown, &body))
}

pub async fn thread_page(ctx: &AppContext, id: i64) -> AppResult<Response> {
    let (thread, answers) = threads::get_thread(&ctx.db, None, id).await?;
    let t = &thread.thread;
    let mut body = format!(
        "<article>\n<h1>{}</h1>\n<p>{} · in {} · {} answers{}</p>\n<div>{}</div>\n</article>\n",
        text(&t.title),
        text(&thread.author_handle),
        text(&thread.community_handle),
        t.answer_count,
        if thread.accepted_answer_ids.is_empty() {
            ""
        } else {
            " · solved"
        },
        t.body_html
    );
    fn render(nodes: &[threads::AnswerNode], out: &mut String) {
        out.push_str("<ol>\n");
        for node in nodes {
            let a = &node.answer;
            out.push_str(&format!(
                "<li id=\"r{}\"><p>{}{}</p>{}",
                a.id,
                text(&node.author_handle),
                if a.accepted {
                    " · accepted answer"
                } else {
                    ""
                },
                if a.deleted {
                    "<p><em>deleted</em></p>"
                } else {
                    &a.body_html
                }
            ));
            if !node.children.is_empty() {
                render(&node.children, out);
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    if !answers.is_empty() {
        render(&answers, &mut body);
    }
    Ok(page(&t.title, &body))
}

/// An answer's page is its place in the thread.
pub async fn answer_page(ctx: &AppContext, id: i64) -> AppResult<Response> {
    let node = threads::get_answer(&ctx.db, None, id).await?;
    Ok(Redirect::to(&format!("/t/{}#r{}", node.answer.thread_id, id)).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            super::text("<script>\"x\" & 'y'</script> ok"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt; ok"
        );
    }
}
