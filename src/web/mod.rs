//! The server-rendered web interface: pages in a shared layout (askama templates in
//! `templates/`), forms that post back with a CSRF token, and embedded static assets.
//!
//! Handlers are thin like the API's: read the viewer ([`page::Web`]), call a service,
//! render. The object URLs (`/c/`, `/u/`, `/t/`, `/r/`) are routed by the federation
//! module, which hands browsers to the `*_page` functions here.

mod admin;
mod ask;
pub mod assets;
mod auth;
mod community;
mod edit;
mod follow;
mod home;
mod knowledge;
mod moderation;
pub mod page;
pub mod page_cache;
mod person;
mod search;
mod settings;
#[cfg(test)]
pub(crate) mod tests;
mod thread;
pub mod views;

use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::rate_limit::AuthLimitLayer;
use crate::context::AppContext;
use crate::error::AppError;
use page::{Web, app_error_page};

/// The page routes (the object URLs are added by `federation::http`).
pub fn routes(ctx: &AppContext, auth_limit: AuthLimitLayer) -> Router<AppContext> {
    Router::new()
        .route("/", get(home::home))
        .route(
            "/login",
            // A method router's layer covers only the methods added before it: the forms
            // can be read freely, only posting passwords is limited.
            post(auth::login)
                .layer(auth_limit.clone())
                .get(auth::login_form),
        )
        .route("/logout", post(auth::logout))
        .route(
            "/signup",
            post(auth::signup).layer(auth_limit).get(auth::signup_form),
        )
        .route("/ask", get(ask::form).post(ask::submit))
        .route(
            "/communities/new",
            get(community::new_form).post(community::create),
        )
        .route(
            "/communities/follow",
            get(follow::form).post(follow::submit),
        )
        .route("/c/{name}/join", post(community::join))
        .route("/c/{name}/leave", post(community::leave))
        .route("/t/{id}/answers", post(thread::answer))
        .route("/t/{id}/vote", post(thread::vote_thread))
        .route("/r/{id}/vote", post(thread::vote_answer))
        .route("/r/{id}/accept", post(thread::accept))
        .route("/r/{id}/unaccept", post(thread::unaccept))
        .route(
            "/t/{id}/edit",
            get(edit::edit_thread_form).post(edit::edit_thread),
        )
        .route(
            "/t/{id}/delete",
            get(edit::delete_thread_form).post(edit::delete_thread),
        )
        .route("/t/{id}/lock", post(edit::lock))
        .route("/t/{id}/pin", post(edit::pin))
        .route("/t/{id}/revisions", get(edit::thread_revisions))
        .route(
            "/r/{id}/edit",
            get(edit::edit_answer_form).post(edit::edit_answer),
        )
        .route(
            "/r/{id}/delete",
            get(edit::delete_answer_form).post(edit::delete_answer),
        )
        .route("/r/{id}/revisions", get(edit::answer_revisions))
        .route("/admin", get(admin::page))
        .route("/admin/applications/{id}/approve", post(admin::approve))
        .route("/admin/applications/{id}/reject", post(admin::reject))
        .route("/admin/invites", post(admin::create_invite))
        .route("/admin/invites/{id}/revoke", post(admin::revoke_invite))
        .route("/admin/accounts/{id}/role", post(admin::set_role))
        .route("/admin/accounts/{id}/suspend", post(admin::suspend))
        .route("/admin/accounts/{id}/unsuspend", post(admin::unsuspend))
        .route("/admin/domains", post(admin::block))
        .route("/admin/domains/unblock", post(admin::unblock))
        .route("/admin/federation/mode", post(admin::set_federation_mode))
        .route("/admin/partners", post(admin::add_partner))
        .route("/admin/bans", post(admin::ban_from_instance))
        .route("/admin/bans/lift", post(admin::lift_instance_ban))
        .route("/admin/partners/remove", post(admin::remove_partner))
        .route("/admin/federation/import", post(admin::import_list))
        .route("/settings", get(settings::page))
        .route("/settings/profile", post(settings::update_profile))
        .route("/settings/password", post(settings::change_password))
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/settings/delete", post(settings::delete_account))
        .route("/search", get(search::page))
        .route("/kb", get(knowledge::kb))
        .route("/unanswered", get(knowledge::unanswered))
        .route("/tags", get(knowledge::tags))
        .route("/tags/{tag}", get(knowledge::tag))
        .route("/t/{id}/report", post(moderation::report_thread))
        .route("/r/{id}/report", post(moderation::report_answer))
        .route("/t/{id}/remove", post(moderation::remove_thread))
        .route("/t/{id}/purge", post(moderation::purge_thread))
        .route("/r/{id}/purge", post(moderation::purge_answer))
        .route("/t/{id}/restore", post(moderation::restore_thread))
        .route("/r/{id}/remove", post(moderation::remove_answer))
        .route("/r/{id}/restore", post(moderation::restore_answer))
        .route("/mod", get(moderation::page))
        .route(
            "/mod/reports/{id}/resolve",
            post(moderation::resolve_report),
        )
        .route(
            "/mod/reports/{id}/dismiss",
            post(moderation::dismiss_report),
        )
        .route("/mod/bans", post(moderation::ban))
        .route("/mod/bans/lift", post(moderation::lift_ban))
        .route("/modlog", get(moderation::mod_log))
        .route("/static/{file}", get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            page::error_pages,
        ))
}

/// True when the client prefers a page: browsers list `text/html` in `Accept`.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// The pages at the object URLs, which the federation module hands to browsers.
#[derive(Clone, Copy)]
enum ObjectPage<'a> {
    /// `/c/{name}` or `/c/{name}@{domain}`.
    Community(&'a str),
    /// `/u/{name}`.
    Person(&'a str),
    /// `/t/{id}`.
    Thread(i64),
    /// `/r/{id}`: the answer's place in its thread.
    Answer(i64),
}

/// Runs a page outside the page router, rendering its error as a page. A visitor who is not
/// signed in and holds no pre-session token may be served the page another such visitor
/// was ([`page_cache`]).
async fn object_page(
    ctx: &AppContext,
    headers: &HeaderMap,
    uri: &Uri,
    page: ObjectPage<'_>,
) -> Response {
    let web = match Web::from_headers(ctx, headers, uri).await {
        Ok(web) => web,
        Err(err) => return app_error_page(ctx, headers, &Method::GET, uri, err).await,
    };
    if web.sees_the_public_page() {
        let path = web.current_path().to_owned();
        let render = render_object_page(&web, headers, uri, page);
        if let Some(response) = ctx.anonymous_pages.page(path, headers, render).await {
            return response;
        }
    }
    render_object_page(&web, headers, uri, page).await
}

async fn render_object_page(
    web: &Web,
    headers: &HeaderMap,
    uri: &Uri,
    page: ObjectPage<'_>,
) -> Response {
    let result = match page {
        ObjectPage::Community(handle) => match Query::try_from_uri(uri) {
            Ok(Query(query)) => community::page(web, handle, query).await,
            Err(_) => Err(AppError::bad_request(
                "invalid_query",
                "the address has a malformed query",
            )
            .into()),
        },
        ObjectPage::Person(name) => person::page(web, name).await,
        ObjectPage::Thread(id) => thread::page(web, id).await,
        ObjectPage::Answer(id) => {
            match crate::service::threads::get_answer(&web.ctx.db, web.viewer(), id).await {
                Ok(node) => Ok(
                    Redirect::to(&format!("/t/{}#r{}", node.answer.thread_id, id)).into_response(),
                ),
                Err(err) => Err(err.into()),
            }
        }
    };
    match result {
        Ok(response) => response,
        Err(err) => app_error_page(&web.ctx, headers, &Method::GET, uri, err.0).await,
    }
}

/// `/c/{name}` or `/c/{name}@{domain}` for a browser.
pub async fn community_page(
    ctx: &AppContext,
    headers: &HeaderMap,
    uri: &Uri,
    handle: &str,
) -> Response {
    object_page(ctx, headers, uri, ObjectPage::Community(handle)).await
}

/// `/u/{name}` for a browser.
pub async fn person_page(ctx: &AppContext, headers: &HeaderMap, uri: &Uri, name: &str) -> Response {
    object_page(ctx, headers, uri, ObjectPage::Person(name)).await
}

/// `/t/{id}` for a browser.
pub async fn thread_page(ctx: &AppContext, headers: &HeaderMap, uri: &Uri, id: i64) -> Response {
    object_page(ctx, headers, uri, ObjectPage::Thread(id)).await
}

/// An answer's page is its place in the thread.
pub async fn answer_page(ctx: &AppContext, headers: &HeaderMap, uri: &Uri, id: i64) -> Response {
    object_page(ctx, headers, uri, ObjectPage::Answer(id)).await
}

/// The 404 page for a path nothing answers, when a browser asked.
pub async fn not_found_page(ctx: &AppContext, headers: &HeaderMap, uri: &Uri) -> Response {
    app_error_page(
        ctx,
        headers,
        &Method::GET,
        uri,
        AppError::not_found("not_found", "nothing here"),
    )
    .await
}
