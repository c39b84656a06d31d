//! The federation policy's rows: partner domains (the allowlist), the federation mode, and
//! how one remote domain stands against them and the blocks.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::DbConn;
use super::schema::{
    answers, communities, domain_allows, instance_settings, instances, mod_log, persons, threads,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = domain_allows)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DomainAllow {
    pub id: i64,
    pub domain: String,
    pub comment: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Whom the instance federates with: everyone but the blocked domains (the default), or
/// only the partner domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FederationMode {
    Blocklist,
    Allowlist,
}

impl FederationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FederationMode::Blocklist => "blocklist",
            FederationMode::Allowlist => "allowlist",
        }
    }
}

/// How a remote domain stands with this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStanding {
    /// Federates; not a partner.
    Open,
    /// Federates, and may also read and follow `partners` communities.
    Partner,
    /// Blocked by an admin.
    Blocked,
    /// Not a partner while the instance is in allowlist mode.
    NotAllowed,
}

impl DomainStanding {
    pub fn federates(self) -> bool {
        matches!(self, DomainStanding::Open | DomainStanding::Partner)
    }
}

const MODE_SETTING: &str = "federation_mode";

/// The entries that apply to `authority` (`host` or `host:port`, lower case): the
/// authority itself, its host without the port, and every parent domain of the host (a
/// block of `example.com` covers `social.example.com`; a port-less entry covers every port).
pub fn block_candidates(authority: &str) -> Vec<String> {
    let host = authority.split(':').next().unwrap_or_default();
    let mut candidates = vec![authority.to_owned()];
    if host != authority {
        candidates.push(host.to_owned());
    }
    let mut rest = host;
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.contains('.') {
            candidates.push(parent.to_owned());
        }
        rest = parent;
    }
    candidates
}

/// Partner entries name one domain exactly (a port-less one covers every port): allowing
/// `acme.example` does not make `evil.acme.example` a partner.
fn allow_candidates(authority: &str) -> Vec<String> {
    let host = authority.split(':').next().unwrap_or_default();
    let mut candidates = vec![authority.to_owned()];
    if host != authority {
        candidates.push(host.to_owned());
    }
    candidates
}

/// Makes `domain` a partner (or updates the comment of an existing entry).
pub async fn upsert_allow(
    conn: &mut DbConn<'_>,
    domain: &str,
    comment: Option<&str>,
    created_by: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<DomainAllow> {
    on_conn!(conn, |c| {
        diesel::insert_into(domain_allows::table)
            .values((
                domain_allows::domain.eq(domain),
                domain_allows::comment.eq(comment),
                domain_allows::created_by.eq(created_by),
                domain_allows::created_at.eq(now),
            ))
            .on_conflict(domain_allows::domain)
            .do_update()
            .set(domain_allows::comment.eq(comment))
            .returning(DomainAllow::as_returning())
            .get_result(c)
            .await
    })
}

/// Removes a partner; false when it was not one.
pub async fn delete_allow(conn: &mut DbConn<'_>, domain: &str) -> QueryResult<bool> {
    let removed = on_conn!(conn, |c| {
        diesel::delete(domain_allows::table.filter(domain_allows::domain.eq(domain)))
            .execute(c)
            .await
    })?;
    Ok(removed > 0)
}

pub async fn list_allows(conn: &mut DbConn<'_>) -> QueryResult<Vec<DomainAllow>> {
    on_conn!(conn, |c| {
        domain_allows::table
            .order(domain_allows::domain)
            .select(DomainAllow::as_select())
            .load(c)
            .await
    })
}

pub async fn is_partner(conn: &mut DbConn<'_>, authority: &str) -> QueryResult<bool> {
    let candidates = allow_candidates(authority);
    let found: i64 = on_conn!(conn, |c| {
        domain_allows::table
            .filter(super::text_in(domain_allows::domain, &candidates))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(found > 0)
}

pub async fn mode(conn: &mut DbConn<'_>) -> QueryResult<FederationMode> {
    let value: Option<String> = on_conn!(conn, |c| {
        instance_settings::table
            .filter(instance_settings::name.eq(MODE_SETTING))
            .select(instance_settings::value)
            .first(c)
            .await
            .optional()
    })?;
    Ok(match value.as_deref() {
        Some("allowlist") => FederationMode::Allowlist,
        _ => FederationMode::Blocklist,
    })
}

pub async fn set_mode(
    conn: &mut DbConn<'_>,
    mode: FederationMode,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::insert_into(instance_settings::table)
            .values((
                instance_settings::name.eq(MODE_SETTING),
                instance_settings::value.eq(mode.as_str()),
                instance_settings::updated_at.eq(now),
            ))
            .on_conflict(instance_settings::name)
            .do_update()
            .set((
                instance_settings::value.eq(mode.as_str()),
                instance_settings::updated_at.eq(now),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// How `authority` (`host` or `host:port`, lower case) stands: a block wins over a
/// partnership; outside allowlist mode everyone else is open.
pub async fn standing(conn: &mut DbConn<'_>, authority: &str) -> QueryResult<DomainStanding> {
    let found = standings(conn, &[authority.to_owned()]).await?;
    Ok(found.of(authority))
}

/// What [`standings`] read: the standing of each authority asked about, and that of any
/// authority no entry can name (what the mode gives the rest).
#[derive(Debug, Clone)]
pub struct Standings {
    pub by_authority: HashMap<String, DomainStanding>,
    pub otherwise: DomainStanding,
}

impl Standings {
    /// The standing of `authority`, or of the rest when it was not asked about.
    pub fn of(&self, authority: &str) -> DomainStanding {
        self.by_authority
            .get(authority)
            .copied()
            .unwrap_or(self.otherwise)
    }
}

/// Authorities per query of [`standings`]: a few candidates each, well under every
/// backend's limit on bound values.
const STANDINGS_CHUNK: usize = 500;

/// [`standing`] of each of `authorities`, in three queries for up to 500 of them: a
/// fan-out to a thousand instances asks once, not three thousand times.
pub async fn standings(conn: &mut DbConn<'_>, authorities: &[String]) -> QueryResult<Standings> {
    let mut blocked = HashSet::new();
    let mut partners = HashSet::new();
    for chunk in authorities.chunks(STANDINGS_CHUNK) {
        let candidates: Vec<String> = chunk.iter().flat_map(|a| block_candidates(a)).collect();
        blocked.extend(super::domain_block::blocked_among(conn, &candidates).await?);
        let candidates: Vec<String> = chunk.iter().flat_map(|a| allow_candidates(a)).collect();
        let found: Vec<String> = on_conn!(conn, |c| {
            domain_allows::table
                .filter(super::text_in(domain_allows::domain, &candidates))
                .select(domain_allows::domain)
                .load(c)
                .await
        })?;
        partners.extend(found);
    }
    let otherwise = match mode(conn).await? {
        FederationMode::Blocklist => DomainStanding::Open,
        FederationMode::Allowlist => DomainStanding::NotAllowed,
    };
    let by_authority = authorities
        .iter()
        .map(|authority| {
            let standing = if block_candidates(authority)
                .iter()
                .any(|d| blocked.contains(d))
            {
                DomainStanding::Blocked
            } else if allow_candidates(authority)
                .iter()
                .any(|d| partners.contains(d))
            {
                DomainStanding::Partner
            } else {
                otherwise
            };
            (authority.clone(), standing)
        })
        .collect();
    Ok(Standings {
        by_authority,
        otherwise,
    })
}

/// The remote instances an entry for `domain` covers (the domain, any port of it, its
/// subdomains).
pub async fn instances_covered(conn: &mut DbConn<'_>, domain: &str) -> QueryResult<Vec<i64>> {
    let remote: Vec<(i64, String)> = on_conn!(conn, |c| {
        instances::table
            .filter(instances::local.eq(false))
            .select((instances::id, instances::domain))
            .load(c)
            .await
    })?;
    Ok(remote
        .into_iter()
        .filter(|(_, authority)| block_candidates(authority).iter().any(|d| d == domain))
        .map(|(id, _)| id)
        .collect())
}

/// Hides (or shows again) what these instances' people wrote and the communities they
/// host. Showing again skips what a moderator removed, so lifting a block never undoes a
/// moderator's decision. Returns the threads whose answer counts need refreshing.
pub async fn set_instances_hidden(
    conn: &mut DbConn<'_>,
    instance_ids: &[i64],
    hidden: bool,
) -> QueryResult<Vec<i64>> {
    if instance_ids.is_empty() {
        return Ok(Vec::new());
    }
    on_conn!(conn, |c| {
        let authors = || {
            persons::table
                .filter(super::id_in(persons::instance_id, instance_ids))
                .select(persons::id)
        };
        let touched: Vec<i64> = answers::table
            .filter(answers::author_id.eq_any(authors()))
            .filter(answers::removed.eq(!hidden))
            .select(answers::thread_id)
            .distinct()
            .load(c)
            .await?;
        let moderated_threads = mod_log::table
            .filter(mod_log::action.eq(super::types::ModAction::RemoveThread))
            .filter(mod_log::thread_id.is_not_null())
            .select(mod_log::thread_id.assume_not_null());
        let moderated_answers = mod_log::table
            .filter(mod_log::action.eq(super::types::ModAction::RemoveAnswer))
            .filter(mod_log::answer_id.is_not_null())
            .select(mod_log::answer_id.assume_not_null());
        if hidden {
            diesel::update(threads::table.filter(threads::author_id.eq_any(authors())))
                .set(threads::removed.eq(true))
                .execute(c)
                .await?;
            diesel::update(answers::table.filter(answers::author_id.eq_any(authors())))
                .set(answers::removed.eq(true))
                .execute(c)
                .await?;
        } else {
            diesel::update(
                threads::table
                    .filter(threads::author_id.eq_any(authors()))
                    .filter(threads::id.ne_all(moderated_threads)),
            )
            .set(threads::removed.eq(false))
            .execute(c)
            .await?;
            diesel::update(
                answers::table
                    .filter(answers::author_id.eq_any(authors()))
                    .filter(answers::id.ne_all(moderated_answers)),
            )
            .set(answers::removed.eq(false))
            .execute(c)
            .await?;
        }
        diesel::update(
            communities::table
                .filter(super::id_in(communities::instance_id, instance_ids))
                .filter(communities::local.eq(false)),
        )
        .set(communities::deleted.eq(hidden))
        .execute(c)
        .await?;
        Ok(touched)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;

    #[test]
    fn blocks_cover_parents_and_ports_and_allows_only_the_domain() {
        assert_eq!(
            block_candidates("social.spam.example:8443"),
            vec![
                "social.spam.example:8443",
                "social.spam.example",
                "spam.example"
            ]
        );
        assert_eq!(block_candidates("localhost"), vec!["localhost"]);
        assert_eq!(
            allow_candidates("learn.acme.example:8443"),
            vec!["learn.acme.example:8443", "learn.acme.example"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn standing_follows_blocks_partners_and_the_mode() {
        for_each_backend(async |db| {
            let now = crate::db::now();
            let checks = async {
                crate::with_conn!(&db, |conn| {
                    let mut seen = Vec::new();
                    seen.push(standing(&mut conn, "any.example").await?);
                    upsert_allow(&mut conn, "acme.example", Some("partner"), None, now).await?;
                    upsert_allow(&mut conn, "localhost:8542", None, None, now).await?;
                    set_mode(&mut conn, FederationMode::Allowlist, now).await?;
                    for authority in [
                        "acme.example",
                        "acme.example:8443",
                        "evil.acme.example",
                        "localhost:8542",
                        "localhost:8543",
                        "any.example",
                    ] {
                        seen.push(standing(&mut conn, authority).await?);
                    }
                    crate::db::domain_block::upsert(&mut conn, "acme.example", None, None, now)
                        .await?;
                    seen.push(standing(&mut conn, "acme.example").await?);
                    set_mode(&mut conn, FederationMode::Blocklist, now).await?;
                    seen.push(standing(&mut conn, "any.example").await?);
                    let removed = delete_allow(&mut conn, "localhost:8542").await?;
                    let allows = list_allows(&mut conn).await?;
                    Ok::<_, crate::db::DbError>((seen, removed, allows))
                })
            };
            let standings = checks.await.expect("queries");
            use DomainStanding::*;
            assert_eq!(
                standings.0,
                vec![
                    Open, Partner, Partner, NotAllowed, Partner, NotAllowed, NotAllowed, Blocked,
                    Open
                ]
            );
            assert!(standings.1);
            assert_eq!(standings.2.len(), 1);
            assert_eq!(standings.2[0].comment.as_deref(), Some("partner"));
        })
        .await;
    }

    /// Many authorities in one call, past a chunk: each gets what `standing` alone gives
    /// it, in blocklist and in allowlist mode.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn standings_of_many_authorities_match_each_alone() {
        for_each_backend(async |db| {
            let now = crate::db::now();
            // Filler past one chunk of 500, so the entries below sit in the second chunk.
            let mut asked: Vec<String> = (0..STANDINGS_CHUNK + 20)
                .map(|n| format!("filler{n}.example"))
                .collect();
            asked.extend(
                [
                    "spam.example",
                    "social.spam.example",
                    "social.spam.example:8443",
                    "notspam.example",
                    "acme.example",
                    "acme.example:8443",
                    "evil.acme.example",
                    "localhost:8542",
                    "localhost:8543",
                    "localhost",
                ]
                .map(String::from),
            );
            let checks = async {
                crate::with_conn!(&db, |conn| {
                    crate::db::domain_block::upsert(&mut conn, "spam.example", None, None, now)
                        .await?;
                    upsert_allow(&mut conn, "acme.example", None, None, now).await?;
                    upsert_allow(&mut conn, "localhost:8542", None, None, now).await?;
                    let open = standings(&mut conn, &asked).await?;
                    let mut alone = Vec::new();
                    for authority in &asked[STANDINGS_CHUNK..] {
                        alone.push(standing(&mut conn, authority).await?);
                    }
                    set_mode(&mut conn, FederationMode::Allowlist, now).await?;
                    let allowlist = standings(&mut conn, &asked).await?;
                    let none = standings(&mut conn, &[]).await?;
                    Ok::<_, crate::db::DbError>((open, alone, allowlist, none))
                })
            };
            let (open, alone, allowlist, none) = checks.await.expect("queries");
            use DomainStanding::*;
            let named = &asked[STANDINGS_CHUNK + 20..];
            let of = |found: &Standings| named.iter().map(|a| found.of(a)).collect::<Vec<_>>();
            assert_eq!(
                of(&open),
                vec![
                    Blocked, Blocked, Blocked, Open, Partner, Partner, Open, Partner, Open, Open
                ]
            );
            assert_eq!(open.otherwise, Open);
            assert_eq!(open.by_authority.len(), asked.len());
            assert!(
                asked[..STANDINGS_CHUNK + 20]
                    .iter()
                    .all(|a| open.of(a) == Open)
            );
            // One at a time agrees with the batch (the ten named and ten of the filler).
            let batch: Vec<_> = asked[STANDINGS_CHUNK..]
                .iter()
                .map(|a| open.of(a))
                .collect();
            assert_eq!(alone, batch);
            assert_eq!(
                of(&allowlist),
                vec![
                    Blocked, Blocked, Blocked, NotAllowed, Partner, Partner, NotAllowed, Partner,
                    NotAllowed, NotAllowed
                ]
            );
            assert_eq!(allowlist.otherwise, NotAllowed);
            assert_eq!(allowlist.of("never.asked.example"), NotAllowed);
            assert!(none.by_authority.is_empty());
            assert_eq!(none.otherwise, NotAllowed);
        })
        .await;
    }
}
