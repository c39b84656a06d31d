//! The federation policy under `/admin/federation`: the mode, partner domains, and the
//! domain lists as Mastodon-format CSV (domain blocks themselves live in `admin`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::{ApiJson, ApiPath};
use crate::context::AppContext;
use crate::db::federation_policy::{DomainAllow, FederationMode};
use crate::error::{AppResult, ErrorBody};
use crate::service::federation_policy::{self as policy, DomainList, ImportReport, PolicyView};

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(read_policy, set_policy))
        .routes(routes!(list_allows))
        .routes(routes!(allow_domain, disallow_domain))
        .routes(routes!(export_list))
        .routes(routes!(import_list))
}

/// The federation mode and how many domains each list holds.
#[utoipa::path(get, path = "/admin/federation/policy", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = PolicyView),
        (status = 403, description = "Not staff", body = ErrorBody),
    ))]
async fn read_policy(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<PolicyView>> {
    Ok(Json(policy::policy_view(&ctx.db, &session).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// `blocklist`: federate with every domain not blocked (the default). `allowlist`:
    /// only with partner domains.
    pub mode: FederationMode,
}

/// Switch between federating with everyone not blocked and only with partner domains.
#[utoipa::path(put, path = "/admin/federation/policy", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    request_body = PolicyRequest,
    responses(
        (status = 200, body = PolicyView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Not a mode", body = ErrorBody),
    ))]
async fn set_policy(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<PolicyRequest>,
) -> AppResult<Json<PolicyView>> {
    Ok(Json(policy::set_mode(&ctx.db, &session, req.mode).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DomainAllowView {
    pub domain: String,
    pub comment: Option<String>,
    pub created_at: NaiveDateTime,
}

impl From<DomainAllow> for DomainAllowView {
    fn from(allow: DomainAllow) -> DomainAllowView {
        DomainAllowView {
            domain: allow.domain,
            comment: allow.comment,
            created_at: allow.created_at,
        }
    }
}

/// Partner domains: the only ones federated with in allowlist mode, and the only ones
/// that may read and follow `partners` communities.
#[utoipa::path(get, path = "/admin/federation/allows", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Vec<DomainAllowView>),
        (status = 403, description = "Not staff", body = ErrorBody),
    ))]
async fn list_allows(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<Vec<DomainAllowView>>> {
    let allows = policy::list_domain_allows(&ctx.db, &session).await?;
    Ok(Json(allows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowRequest {
    /// A note for admins, e.g. the partner organization's name.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Make a domain a partner (exactly that domain; `host:port` names one port only).
#[utoipa::path(put, path = "/admin/federation/allows/{domain}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("domain" = String, Path, description = "a host name, e.g. `learn.partner.example`")),
    request_body = AllowRequest,
    responses(
        (status = 200, body = DomainAllowView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Not a host name", body = ErrorBody),
    ))]
async fn allow_domain(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(domain): ApiPath<String>,
    ApiJson(req): ApiJson<AllowRequest>,
) -> AppResult<Json<DomainAllowView>> {
    let allow = policy::allow_domain(&ctx.db, &session, &domain, req.comment.as_deref()).await?;
    Ok(Json(allow.into()))
}

/// Stop treating a domain as a partner.
#[utoipa::path(delete, path = "/admin/federation/allows/{domain}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("domain" = String, Path, description = "a partner host name")),
    responses(
        (status = 204, description = "No longer a partner"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Not a partner", body = ErrorBody),
    ))]
async fn disallow_domain(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(domain): ApiPath<String>,
) -> AppResult<StatusCode> {
    policy::disallow_domain(&ctx.db, &session, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The list as CSV in Mastodon's format (`#domain,#severity,...`), which Mastodon and
/// GoToSocial import; blocks have severity `suspend`, partners `noop`.
#[utoipa::path(get, path = "/admin/federation/export/{list}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("list" = DomainList, Path, description = "`blocks` or `allows`")),
    responses(
        (status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 403, description = "Not staff", body = ErrorBody),
    ))]
async fn export_list(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(list): ApiPath<DomainList>,
) -> AppResult<Response> {
    let csv = policy::export_csv(&ctx.db, &session, list).await?;
    let name = match list {
        DomainList::Blocks => "domain_blocks.csv",
        DomainList::Allows => "domain_allows.csv",
    };
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Add every domain of a CSV list (Mastodon's or GoToSocial's export, or one domain per
/// line). Lines that cannot be imported are reported with their line number; entries not
/// in the file stay.
#[utoipa::path(post, path = "/admin/federation/import/{list}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("list" = DomainList, Path, description = "`blocks` or `allows`")),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, body = ImportReport),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Not CSV, or too many rows", body = ErrorBody),
    ))]
async fn import_list(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(list): ApiPath<DomainList>,
    body: String,
) -> AppResult<Json<ImportReport>> {
    Ok(Json(
        policy::import_csv(&ctx.db, &session, list, &body).await?,
    ))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::json;

    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, TestResponse, execute_sql, for_each_backend, test_settings};

    async fn csv_call(
        api: &TestApi,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> TestResponse {
        api.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "text/csv")
                .body(Body::from(body.to_owned()))
                .expect("request"),
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admins_set_the_mode_keep_partners_and_share_lists_as_csv() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("root", AccountRole::Admin).await;
            api.create_user("ann", AccountRole::Member).await;
            let root = api.login("root").await;
            let ann = api.login("ann").await;

            let policy = api.call("GET", "/api/v1/admin/federation/policy", Some(&root), None).await;
            assert_eq!(policy.body["mode"], "blocklist", "{:?}", policy.body);
            let refused = api
                .call("PUT", "/api/v1/admin/federation/policy", Some(&ann), Some(json!({"mode": "allowlist"})))
                .await;
            assert_eq!(refused.status, 403);
            let bad = api
                .call("PUT", "/api/v1/admin/federation/policy", Some(&root), Some(json!({"mode": "closed"})))
                .await;
            assert!(bad.status.is_client_error(), "{:?}", bad.body);
            let set = api
                .call("PUT", "/api/v1/admin/federation/policy", Some(&root), Some(json!({"mode": "allowlist"})))
                .await;
            assert_eq!(set.body["mode"], "allowlist");

            let added = api
                .call(
                    "PUT",
                    "/api/v1/admin/federation/allows/Learn.Partner.Example",
                    Some(&root),
                    Some(json!({"comment": "Partner, Inc."})),
                )
                .await;
            assert_eq!(added.status, 200, "{:?}", added.body);
            assert_eq!(added.body["domain"], "learn.partner.example");
            let invalid = api
                .call("PUT", "/api/v1/admin/federation/allows/not%20a%20host", Some(&root), Some(json!({})))
                .await;
            assert_eq!((invalid.status.as_u16(), invalid.code()), (422, "invalid_domain"));

            let imported = csv_call(
                &api,
                "POST",
                "/api/v1/admin/federation/import/blocks",
                &root,
                "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
                 spam.example,suspend,false,false,Spam,false\n\
                 noisy.example,silence,false,false,,false\n",
            )
            .await;
            assert_eq!(imported.status, 200, "{:?}", imported.body);
            assert_eq!(imported.body["imported"], json!(["spam.example"]));
            assert_eq!(imported.body["skipped"][0]["value"], "noisy.example");
            let huge = "x.example\n".repeat(10_001);
            let broken = csv_call(&api, "POST", "/api/v1/admin/federation/import/blocks", &root, &huge).await;
            assert_eq!((broken.status.as_u16(), broken.code()), (422, "too_many_rows"));
            let by_member = csv_call(&api, "POST", "/api/v1/admin/federation/import/allows", &ann, "x.example\n").await;
            assert_eq!(by_member.status, 403);

            let exported = api.call("GET", "/api/v1/admin/federation/export/blocks", Some(&root), None).await;
            assert_eq!(exported.status, 200);
            assert!(exported.headers["content-type"].to_str().unwrap_or_default().starts_with("text/csv"));
            assert_eq!(
                exported.body.as_str(),
                Some("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nspam.example,suspend,false,false,Spam,false\n")
            );
            let partners = api.call("GET", "/api/v1/admin/federation/export/allows", Some(&root), None).await;
            assert!(
                partners.body.as_str().unwrap_or_default().contains("learn.partner.example,noop,false,false,\"Partner, Inc.\",false"),
                "{:?}",
                partners.body
            );
            let policy = api.call("GET", "/api/v1/admin/federation/policy", Some(&root), None).await;
            assert_eq!((policy.body["blocked_domains"].as_i64(), policy.body["partner_domains"].as_i64()), (Some(1), Some(1)));

            let removed = api.call("DELETE", "/api/v1/admin/federation/allows/learn.partner.example", Some(&root), None).await;
            assert_eq!(removed.status, 204);
            let again = api.call("DELETE", "/api/v1/admin/federation/allows/learn.partner.example", Some(&root), None).await;
            assert_eq!((again.status.as_u16(), again.code()), (404, "not_a_partner"));
        })
        .await;
    }

    /// What a blocked domain's people wrote, and the communities it hosts, disappear with
    /// the block and come back when it is lifted, except what a moderator removed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_block_hides_what_is_stored_from_the_domain_until_it_is_lifted() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), test_settings()).await;
            api.create_user("root", AccountRole::Admin).await;
            let root = api.login("root").await;
            api.call(
                "POST",
                "/api/v1/communities",
                Some(&root),
                Some(json!({"name": "rust", "title": "Rust", "kind": "qa"})),
            )
            .await;
            let statements = [
                "INSERT INTO instances (domain, local, created_at, updated_at) VALUES ('social.far.example', FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                "INSERT INTO communities (ap_id, local, instance_id, name, name_lower, title, kind, visibility, inbox_url, public_key_pem, published, last_refreshed_at)
                 SELECT 'https://social.far.example/c/ops', FALSE, id, 'ops', 'ops', 'Far ops', 'qa', 'public', 'https://social.far.example/c/ops/inbox', 'key', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM instances WHERE domain = 'social.far.example'",
                "INSERT INTO persons (ap_id, local, instance_id, name, name_lower, inbox_url, public_key_pem, published, last_refreshed_at)
                 SELECT 'https://social.far.example/u/zed', FALSE, id, 'zed', 'zed', 'https://social.far.example/u/zed/inbox', 'key', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM instances WHERE domain = 'social.far.example'",
                "INSERT INTO threads (ap_id, local, community_id, author_id, kind, title, body, body_html, last_activity_at, published)
                 SELECT 'https://social.far.example/post/9', FALSE, c.id, p.id, 'question', 'Remote question', 'x', '<p>x</p>', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM communities c, persons p WHERE c.name = 'rust' AND p.name = 'zed'",
            ];
            for sql in statements {
                assert_eq!(execute_sql(&db, sql).await, 1, "{sql}");
            }
            let listed = async || {
                let page = api.call("GET", "/api/v1/communities/rust/threads", Some(&root), None).await;
                page.body["threads"].as_array().map_or(0, Vec::len)
            };
            let community = async || {
                api.call("GET", "/api/v1/communities/ops@social.far.example", Some(&root), None)
                    .await
                    .status
                    .as_u16()
            };
            assert_eq!((listed().await, community().await), (1, 200));

            let blocked = api
                .call("PUT", "/api/v1/admin/federation/blocks/far.example", Some(&root), Some(json!({"reason": "spam"})))
                .await;
            assert_eq!(blocked.status, 200, "{:?}", blocked.body);
            assert_eq!((listed().await, community().await), (0, 404));

            let lifted = api.call("DELETE", "/api/v1/admin/federation/blocks/far.example", Some(&root), None).await;
            assert_eq!(lifted.status, 204);
            assert_eq!((listed().await, community().await), (1, 200));
        })
        .await;
    }
}
