//! Communities: create, browse, settings, joining, moderators, tags, and their threads.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Auth, MaybeAuth};
use super::threads::{ThreadPageView, ThreadView};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::context::AppContext;
use crate::db::person::Person;
use crate::db::thread::ThreadSort;
use crate::db::types::{CommunityKind, FollowState, ThreadKind, Visibility};
use crate::error::{AppResult, ErrorBody};
use crate::service::communities::{
    self as communities_service, CommunityChanges, CommunityDetails, NewCommunity,
};
use crate::service::threads::{self as threads_service, NewThread, ThreadListRequest};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommunityView {
    pub id: i64,
    /// `name` here, `name@domain` for remote communities.
    pub handle: String,
    pub name: String,
    pub ap_id: String,
    pub title: String,
    /// Markdown source.
    pub description: Option<String>,
    pub description_html: Option<String>,
    pub rules: Option<String>,
    pub kind: CommunityKind,
    pub visibility: Visibility,
    pub posting_restricted_to_mods: bool,
    pub local: bool,
    /// The followers collection URL.
    pub followers: Option<String>,
    pub member_count: i64,
    pub thread_count: i64,
    /// The caller's membership: `none`, `pending` or `accepted`.
    pub follow_state: FollowStateView,
    /// Whether the caller may moderate this community.
    pub can_moderate: bool,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
}

/// A follow state including "not following".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FollowStateView {
    None,
    Pending,
    Accepted,
}

impl From<Option<FollowState>> for FollowStateView {
    fn from(state: Option<FollowState>) -> FollowStateView {
        match state {
            None => FollowStateView::None,
            Some(FollowState::Pending) => FollowStateView::Pending,
            Some(FollowState::Accepted) => FollowStateView::Accepted,
        }
    }
}

impl From<CommunityDetails> for CommunityView {
    fn from(d: CommunityDetails) -> CommunityView {
        let c = d.community;
        CommunityView {
            id: c.id,
            handle: d.handle,
            name: c.name,
            ap_id: c.ap_id,
            title: c.title,
            description: c.description,
            description_html: c.description_html,
            rules: c.rules,
            kind: c.kind,
            visibility: c.visibility,
            posting_restricted_to_mods: c.posting_restricted_to_mods,
            local: c.local,
            followers: c.followers_url,
            member_count: d.member_count,
            thread_count: d.thread_count,
            follow_state: d.follow_state.into(),
            can_moderate: d.viewer_moderates,
            published: c.published,
            updated: c.updated,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommunity {
    /// Lower-case letters, digits and underscores, 2-20 characters; shared namespace with
    /// people.
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub rules: Option<String>,
    pub kind: CommunityKind,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    #[serde(default)]
    pub posting_restricted_to_mods: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCommunity {
    #[serde(default)]
    pub title: Option<String>,
    /// Empty clears it.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub rules: Option<String>,
    #[serde(default)]
    pub kind: Option<CommunityKind>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    #[serde(default)]
    pub posting_restricted_to_mods: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowView {
    pub follow_state: FollowStateView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PersonRef {
    pub id: i64,
    /// `name` here, `name@domain` for remote people.
    pub handle: String,
    pub display_name: Option<String>,
    pub ap_id: String,
}

impl PersonRef {
    fn new((person, handle): (Person, String)) -> PersonRef {
        PersonRef {
            id: person.id,
            handle,
            display_name: person.display_name,
            ap_id: person.ap_id,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddModerator {
    /// A local member's username.
    pub username: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortParam {
    #[default]
    New,
    Active,
    Top,
    Unanswered,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadListParams {
    /// `new` (default), `active` (latest answer), `top` (score) or `unanswered`.
    #[serde(default)]
    #[param(inline)]
    pub sort: SortParam,
    /// Only threads with this tag.
    pub tag: Option<String>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// Threads per page, 1-100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateThread {
    /// 3-200 characters.
    pub title: String,
    /// Markdown, up to 100,000 characters.
    #[serde(default)]
    pub body: String,
    /// Defaults to `question` in Q&A communities and `discussion` elsewhere.
    #[serde(default)]
    pub kind: Option<ThreadKind>,
    /// Up to 5; normalized to lower-case `a-z0-9-`.
    #[serde(default)]
    pub tags: Vec<String>,
}

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(list_communities, create_community))
        .routes(routes!(get_community, update_community))
        .routes(routes!(follow, unfollow))
        .routes(routes!(list_threads, create_thread))
        .routes(routes!(tags))
        .routes(routes!(moderators, add_moderator))
        .routes(routes!(remove_moderator))
}

/// Communities the caller may see (internal ones only when signed in).
#[utoipa::path(get, path = "/communities", tag = "communities",
    responses((status = 200, body = Vec<CommunityView>)))]
async fn list_communities(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
) -> AppResult<Json<Vec<CommunityView>>> {
    let list = communities_service::list(&ctx.db, &ctx.settings, viewer.as_ref()).await?;
    Ok(Json(list.into_iter().map(CommunityView::from).collect()))
}

/// Create a community; the creator becomes its first moderator and member.
#[utoipa::path(post, path = "/communities", tag = "communities",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateCommunity,
    responses(
        (status = 201, body = CommunityView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "The name is taken by a person or community", body = ErrorBody),
        (status = 422, description = "A field is invalid (the code names it)", body = ErrorBody),
    ))]
async fn create_community(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<CreateCommunity>,
) -> AppResult<(StatusCode, Json<CommunityView>)> {
    let created = communities_service::create(
        &ctx.db,
        &ctx.settings,
        &session,
        NewCommunity {
            name: req.name,
            title: req.title,
            description: req.description,
            rules: req.rules,
            kind: req.kind,
            visibility: req.visibility.unwrap_or(Visibility::Public),
            posting_restricted_to_mods: req.posting_restricted_to_mods,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// A community by handle: `name` (local) or `name@domain` (remote).
#[utoipa::path(get, path = "/communities/{handle}", tag = "communities",
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    responses(
        (status = 200, body = CommunityView),
        (status = 401, description = "An internal community, and not signed in", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_community(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<CommunityView>> {
    let found = communities_service::get(&ctx.db, &ctx.settings, viewer.as_ref(), &handle).await?;
    Ok(Json(found.into()))
}

/// Moderators edit the community's settings.
#[utoipa::path(patch, path = "/communities/{handle}", tag = "communities",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    request_body = UpdateCommunity,
    responses(
        (status = 200, body = CommunityView),
        (status = 403, description = "Not a moderator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn update_community(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateCommunity>,
) -> AppResult<Json<CommunityView>> {
    let updated = communities_service::update(
        &ctx.db,
        &ctx.settings,
        &session,
        &handle,
        CommunityChanges {
            title: req.title,
            description: req.description,
            rules: req.rules,
            kind: req.kind,
            visibility: req.visibility,
            posting_restricted_to_mods: req.posting_restricted_to_mods,
        },
    )
    .await?;
    Ok(Json(updated.into()))
}

/// Join (follow) a community.
#[utoipa::path(post, path = "/communities/{handle}/follow", tag = "communities",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    responses(
        (status = 200, body = FollowView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn follow(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<FollowView>> {
    let state = communities_service::follow(&ctx.db, &ctx.settings, &session, &handle).await?;
    Ok(Json(FollowView {
        follow_state: Some(state).into(),
    }))
}

/// Leave a community.
#[utoipa::path(delete, path = "/communities/{handle}/follow", tag = "communities",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    responses(
        (status = 200, body = FollowView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn unfollow(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<FollowView>> {
    communities_service::unfollow(&ctx.db, &ctx.settings, &session, &handle).await?;
    Ok(Json(FollowView {
        follow_state: FollowStateView::None,
    }))
}

/// A page of the community's threads.
#[utoipa::path(get, path = "/communities/{handle}/threads", tag = "threads",
    params(("handle" = String, Path, description = "`name` or `name@domain`"), ThreadListParams),
    responses(
        (status = 200, body = ThreadPageView),
        (status = 400, description = "Bad sort, cursor, tag or limit", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn list_threads(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(params): ApiQuery<ThreadListParams>,
) -> AppResult<Json<ThreadPageView>> {
    let sort = match params.sort {
        SortParam::New => ThreadSort::New,
        SortParam::Active => ThreadSort::Active,
        SortParam::Top => ThreadSort::Top,
        SortParam::Unanswered => ThreadSort::Unanswered,
    };
    let page = threads_service::list_threads(
        &ctx.db,
        &ctx.settings,
        viewer.as_ref(),
        &handle,
        ThreadListRequest {
            sort,
            tag: params.tag.as_deref(),
            cursor: params.cursor.as_deref(),
            limit: params.limit,
        },
    )
    .await?;
    Ok(Json(ThreadPageView {
        threads: page.threads.into_iter().map(ThreadView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Ask a question or start a discussion.
#[utoipa::path(post, path = "/communities/{handle}/threads", tag = "threads",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    request_body = CreateThread,
    responses(
        (status = 201, body = ThreadView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Posting is restricted to moderators", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A field is invalid (the code names it)", body = ErrorBody),
    ))]
async fn create_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
    ApiJson(req): ApiJson<CreateThread>,
) -> AppResult<(StatusCode, Json<ThreadView>)> {
    let created = threads_service::create_thread(
        &ctx.db,
        &ctx.settings,
        &session,
        &handle,
        NewThread {
            title: req.title,
            body: req.body,
            kind: req.kind,
            tags: req.tags,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Tags used in the community, most used first.
#[utoipa::path(get, path = "/communities/{handle}/tags", tag = "communities",
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    responses((status = 200, body = Vec<TagCount>), (status = 404, body = ErrorBody)))]
async fn tags(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<Vec<TagCount>>> {
    let counts =
        communities_service::tag_counts(&ctx.db, &ctx.settings, viewer.as_ref(), &handle).await?;
    Ok(Json(
        counts
            .into_iter()
            .map(|(tag, count)| TagCount { tag, count })
            .collect(),
    ))
}

/// The community's moderators, longest-serving first.
#[utoipa::path(get, path = "/communities/{handle}/moderators", tag = "communities",
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    responses((status = 200, body = Vec<PersonRef>), (status = 404, body = ErrorBody)))]
async fn moderators(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<Vec<PersonRef>>> {
    let list =
        communities_service::moderators(&ctx.db, &ctx.settings, viewer.as_ref(), &handle).await?;
    Ok(Json(list.into_iter().map(PersonRef::new).collect()))
}

/// Moderators add a local member as moderator.
#[utoipa::path(post, path = "/communities/{handle}/moderators", tag = "communities",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path, description = "`name` or `name@domain`")),
    request_body = AddModerator,
    responses(
        (status = 200, body = Vec<PersonRef>),
        (status = 403, description = "Not a moderator", body = ErrorBody),
        (status = 422, description = "No such local member", body = ErrorBody),
    ))]
async fn add_moderator(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
    ApiJson(req): ApiJson<AddModerator>,
) -> AppResult<Json<Vec<PersonRef>>> {
    let list = communities_service::add_moderator(
        &ctx.db,
        &ctx.settings,
        &session,
        &handle,
        &req.username,
    )
    .await?;
    Ok(Json(list.into_iter().map(PersonRef::new).collect()))
}

/// Moderators remove a moderator; a community keeps at least one.
#[utoipa::path(delete, path = "/communities/{handle}/moderators/{username}", tag = "communities",
    security(("bearer" = []), ("session" = [])),
    params(
        ("handle" = String, Path, description = "`name` or `name@domain`"),
        ("username" = String, Path, description = "the moderator to remove"),
    ),
    responses(
        (status = 200, body = Vec<PersonRef>),
        (status = 403, description = "Not a moderator", body = ErrorBody),
        (status = 404, description = "Not a moderator of this community", body = ErrorBody),
        (status = 409, description = "The last moderator", body = ErrorBody),
    ))]
async fn remove_moderator(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath((handle, username)): ApiPath<(String, String)>,
) -> AppResult<Json<Vec<PersonRef>>> {
    let list =
        communities_service::remove_moderator(&ctx.db, &ctx.settings, &session, &handle, &username)
            .await?;
    Ok(Json(list.into_iter().map(PersonRef::new).collect()))
}

#[cfg(test)]
mod tests {
    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, for_each_backend, test_settings};
    use serde_json::json;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn communities_are_created_joined_and_listed() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("ada", AccountRole::Member).await;
            api.create_user("bob", AccountRole::Member).await;
            let ada = api.login("ada").await;
            let bob = api.login("bob").await;

            let created = api
                .call("POST", "/api/v1/communities", Some(&ada), Some(json!({
                    "name": "rust", "title": "Rust", "kind": "qa",
                    "description": "All things <b onclick=x>Rust</b>", "rules": "Be kind."
                })))
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            assert_eq!(created.body["handle"], "rust");
            assert_eq!(created.body["ap_id"], "http://localhost:8541/c/rust");
            assert_eq!(created.body["followers"], "http://localhost:8541/c/rust/followers");
            assert_eq!(created.body["visibility"], "public");
            assert_eq!(created.body["member_count"], 1, "the creator joins");
            assert_eq!(created.body["follow_state"], "accepted");
            assert_eq!(created.body["can_moderate"], true);
            assert!(!created.body["description_html"].as_str().expect("html").contains("onclick"));

            let seen_by_bob = api.call("GET", "/api/v1/communities/rust", Some(&bob), None).await;
            assert_eq!(seen_by_bob.body["follow_state"], "none");
            assert_eq!(seen_by_bob.body["can_moderate"], false);
            let joined = api.call("POST", "/api/v1/communities/rust/follow", Some(&bob), None).await;
            assert_eq!(joined.body, json!({"follow_state": "accepted"}));
            let again = api.call("POST", "/api/v1/communities/rust/follow", Some(&bob), None).await;
            assert_eq!(again.status, 200, "joining twice is harmless");
            let counted = api.call("GET", "/api/v1/communities/!rust@localhost:8541", None, None).await;
            assert_eq!(counted.body["member_count"], 2);
            let left = api.call("DELETE", "/api/v1/communities/rust/follow", Some(&bob), None).await;
            assert_eq!(left.body, json!({"follow_state": "none"}));
            let counted = api.call("GET", "/api/v1/communities/rust", None, None).await;
            assert_eq!(counted.body["member_count"], 1);

            for (body, status, code) in [
                (json!({"name": "rust", "title": "Again", "kind": "qa"}), 409, "name_taken"),
                (json!({"name": "bob", "title": "A person's name", "kind": "qa"}), 409, "name_taken"),
                (json!({"name": "Bad Name", "title": "T", "kind": "qa"}), 422, "invalid_name"),
                (json!({"name": "ok_name", "title": "", "kind": "qa"}), 422, "invalid_title"),
                (json!({"name": "ok_name", "title": "T", "kind": "forum"}), 422, "invalid_fields"),
            ] {
                let response = api.call("POST", "/api/v1/communities", Some(&bob), Some(body.clone())).await;
                assert_eq!((response.status.as_u16(), response.code()), (status, code), "{body}");
            }
            // A community name is taken for people too.
            let person = api
                .call("POST", "/api/v1/accounts", None,
                    Some(json!({"username": "rust", "password": crate::testing::TEST_PASSWORD})))
                .await;
            assert_eq!(person.code(), "username_taken");

            api.call("POST", "/api/v1/communities", Some(&bob), Some(json!({
                "name": "staff", "title": "Staff room", "kind": "discussion", "visibility": "internal"
            }))).await;
            let public_list = api.call("GET", "/api/v1/communities", None, None).await;
            let handles: Vec<&str> = public_list.body.as_array().expect("list").iter()
                .map(|c| c["handle"].as_str().expect("handle")).collect();
            assert_eq!(handles, vec!["rust"], "internal communities are hidden from visitors");
            let member_list = api.call("GET", "/api/v1/communities", Some(&ada), None).await;
            assert_eq!(member_list.body.as_array().expect("list").len(), 2);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn internal_communities_are_for_signed_in_members() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("ada", AccountRole::Member).await;
            let ada = api.login("ada").await;
            api.call(
                "POST",
                "/api/v1/communities",
                Some(&ada),
                Some(json!({
                    "name": "staff", "title": "Staff room", "kind": "qa", "visibility": "internal"
                })),
            )
            .await;
            let asked = api
                .call(
                    "POST",
                    "/api/v1/communities/staff/threads",
                    Some(&ada),
                    Some(json!({"title": "Internal question"})),
                )
                .await;
            let thread = asked.body["id"].as_i64().expect("id");
            for path in [
                "/api/v1/communities/staff".to_owned(),
                "/api/v1/communities/staff/threads".to_owned(),
                format!("/api/v1/threads/{thread}"),
            ] {
                let anonymous = api.call("GET", &path, None, None).await;
                assert_eq!(
                    (anonymous.status.as_u16(), anonymous.code()),
                    (401, "sign_in_required"),
                    "{path}"
                );
                assert_eq!(
                    api.call("GET", &path, Some(&ada), None).await.status,
                    200,
                    "{path}"
                );
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moderators_run_the_community() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            for name in ["ada", "bob", "cyd"] {
                api.create_user(name, AccountRole::Member).await;
            }
            api.create_user("staffer", AccountRole::Moderator).await;
            let ada = api.login("ada").await;
            let bob = api.login("bob").await;
            let staffer = api.login("staffer").await;
            api.call("POST", "/api/v1/communities", Some(&ada), Some(json!({
                "name": "news", "title": "News", "kind": "discussion"
            }))).await;

            let refused = api.call("PATCH", "/api/v1/communities/news", Some(&bob), Some(json!({"title": "Mine"}))).await;
            assert_eq!((refused.status.as_u16(), refused.code()), (403, "moderator_required"));
            let restricted = api
                .call("PATCH", "/api/v1/communities/news", Some(&ada),
                    Some(json!({"posting_restricted_to_mods": true, "title": "Announcements", "rules": "Mods post."})))
                .await;
            assert_eq!(restricted.status, 200, "{:?}", restricted.body);
            assert_eq!(restricted.body["posting_restricted_to_mods"], true);
            assert_eq!(restricted.body["title"], "Announcements");

            let refused = api
                .call("POST", "/api/v1/communities/news/threads", Some(&bob), Some(json!({"title": "Bob's news"})))
                .await;
            assert_eq!((refused.status.as_u16(), refused.code()), (403, "posting_restricted"));
            let posted = api
                .call("POST", "/api/v1/communities/news/threads", Some(&ada), Some(json!({"title": "Ada's news"})))
                .await;
            assert_eq!(posted.status, 201);
            assert_eq!(posted.body["kind"], "discussion");
            let by_staff = api
                .call("POST", "/api/v1/communities/news/threads", Some(&staffer), Some(json!({"title": "Instance news"})))
                .await;
            assert_eq!(by_staff.status, 201, "instance moderators moderate every community");

            let refused = api.call("POST", "/api/v1/communities/news/moderators", Some(&bob), Some(json!({"username": "bob"}))).await;
            assert_eq!(refused.status, 403);
            let added = api.call("POST", "/api/v1/communities/news/moderators", Some(&ada), Some(json!({"username": "bob"}))).await;
            let handles: Vec<&str> = added.body.as_array().expect("list").iter().map(|p| p["handle"].as_str().expect("h")).collect();
            assert_eq!(handles, vec!["ada", "bob"]);
            let unknown = api.call("POST", "/api/v1/communities/news/moderators", Some(&ada), Some(json!({"username": "zed"}))).await;
            assert_eq!((unknown.status.as_u16(), unknown.code()), (422, "unknown_user"));
            let removed = api.call("DELETE", "/api/v1/communities/news/moderators/ada", Some(&bob), None).await;
            assert_eq!(removed.body.as_array().expect("list").len(), 1);
            let last = api.call("DELETE", "/api/v1/communities/news/moderators/bob", Some(&bob), None).await;
            assert_eq!((last.status.as_u16(), last.code()), (409, "last_moderator"));
            let not_mod = api.call("DELETE", "/api/v1/communities/news/moderators/cyd", Some(&bob), None).await;
            assert_eq!(not_mod.status, 404);
            let listed = api.call("GET", "/api/v1/communities/news/moderators", None, None).await;
            assert_eq!(listed.body[0]["handle"], "bob");
        })
        .await;
    }
}
