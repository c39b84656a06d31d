//! `GET /api/v1/resolve`: find a remote community, person, thread or answer by handle or
//! URL, fetching and storing it when it is not known yet.

use activitypub_federation::config::Data;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiQuery;
use super::auth::Auth;
use crate::context::AppContext;
use crate::db::instance;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::federation::resolve::{Resolved, resolve};
use crate::service::communities::handle_of;

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new().routes(routes!(resolve_object))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolveQuery {
    /// `!name@domain` (community), `@name@domain` (person), or an object URL.
    pub q: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedType {
    Community,
    Person,
    Thread,
    Answer,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResolvedView {
    #[serde(rename = "type")]
    pub kind: ResolvedType,
    /// The local id: use it with `/communities/{handle}`, `/threads/{id}`, `/answers/{id}`.
    pub id: i64,
    pub ap_id: String,
    /// For communities and persons: `name` here, `name@domain` elsewhere.
    pub handle: Option<String>,
    pub local: bool,
}

/// Resolve a handle or URL, fetching it from its server when needed.
#[utoipa::path(get, path = "/resolve", tag = "federation",
    security(("bearer" = []), ("session" = [])),
    params(ResolveQuery),
    responses(
        (status = 200, body = ResolvedView),
        (status = 400, description = "`q` is not a handle or URL", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The URL is refused (not public, blocked)", body = ErrorBody),
        (status = 404, description = "Nothing found", body = ErrorBody),
        (status = 502, description = "The remote server answered badly or not at all", body = ErrorBody),
    ))]
async fn resolve_object(
    data: Data<AppContext>,
    Auth(_session): Auth,
    ApiQuery(query): ApiQuery<ResolveQuery>,
) -> AppResult<Json<ResolvedView>> {
    Ok(Json(resolve_view(&query.q, &data).await?))
}

/// What `GET /resolve` answers for `q`; the web's follow-by-handle form uses it too.
pub async fn resolve_view(q: &str, data: &Data<AppContext>) -> AppResult<ResolvedView> {
    let found = resolve(q, data).await?;
    let handle = |name: &str, local: bool, instance_id: i64| {
        let name = name.to_owned();
        let db = data.db.clone();
        async move {
            let domains =
                crate::with_conn!(&db, |conn| instance::domains(&mut conn, &[instance_id])
                    .await
                    .map_err(AppError::from))?;
            let domain = domains.get(&instance_id).cloned().unwrap_or_default();
            Ok::<_, AppError>(handle_of(&name, local, &domain))
        }
    };
    let view = match found {
        Resolved::Community(c) => ResolvedView {
            kind: ResolvedType::Community,
            id: c.id,
            handle: Some(handle(&c.name, c.local, c.instance_id).await?),
            ap_id: c.ap_id,
            local: c.local,
        },
        Resolved::Person(p) => ResolvedView {
            kind: ResolvedType::Person,
            id: p.id,
            handle: Some(handle(&p.name, p.local, p.instance_id).await?),
            ap_id: p.ap_id,
            local: p.local,
        },
        Resolved::Thread(t) => ResolvedView {
            kind: ResolvedType::Thread,
            id: t.id,
            ap_id: t.ap_id,
            handle: None,
            local: t.local,
        },
        Resolved::Answer(a) => ResolvedView {
            kind: ResolvedType::Answer,
            id: a.id,
            ap_id: a.ap_id,
            handle: None,
            local: a.local,
        },
    };
    Ok(view)
}
