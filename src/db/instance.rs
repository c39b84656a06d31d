//! Instances: this server (exactly one row with `local`) and every remote server we know.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::instances;
use super::{Db, DbConn, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = instances)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Instance {
    pub id: i64,
    pub domain: String,
    pub local: bool,
    pub software: Option<String>,
    pub version: Option<String>,
    pub public_key_pem: Option<String>,
    pub private_key_pem: Option<String>,
    pub last_success_at: Option<NaiveDateTime>,
    pub dead_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = instances)]
struct NewLocalInstance<'a> {
    domain: &'a str,
    local: bool,
    software: &'a str,
    version: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Why the local instance row cannot be used with the configured domain.
#[derive(Debug, thiserror::Error)]
pub enum LocalInstanceError {
    #[error(
        "this database belongs to the instance `{stored}`, but `domain` is set to `{configured}`; every ActivityPub id is built on the domain, so it cannot change once set"
    )]
    DomainChanged { stored: String, configured: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Returns the local instance, creating it on first start. Refuses a changed domain.
pub async fn ensure_local(db: &Db, domain: &str) -> Result<Instance, LocalInstanceError> {
    let domain = domain.to_ascii_lowercase();
    let now = super::now();
    let existing =
        with_conn!(db, |conn| read_local(&mut conn).await.optional()).map_err(DbError::from)?;
    if let Some(instance) = existing {
        if instance.domain != domain {
            return Err(LocalInstanceError::DomainChanged {
                stored: instance.domain,
                configured: domain,
            });
        }
        return Ok(instance);
    }
    let new = NewLocalInstance {
        domain: &domain,
        local: true,
        software: crate::SOFTWARE_NAME,
        version: crate::VERSION,
        created_at: now,
        updated_at: now,
    };
    let instance = with_conn!(db, |conn| {
        on_conn!(&mut conn, |c| {
            diesel::insert_into(instances::table)
                .values(&new)
                .on_conflict(instances::domain)
                .do_update()
                .set(instances::local.eq(true))
                .returning(Instance::as_returning())
                .get_result::<Instance>(c)
                .await
        })
    })
    .map_err(DbError::from)?;
    Ok(instance)
}

/// The local instance row; it exists once the server or an admin command has started.
pub async fn read_local(conn: &mut DbConn<'_>) -> QueryResult<Instance> {
    on_conn!(conn, |c| {
        instances::table
            .filter(instances::local.eq(true))
            .select(Instance::as_select())
            .first::<Instance>(c)
            .await
    })
}

/// Stores the instance actor's key pair unless one is already there (two processes starting
/// together keep the first), and returns the row as it is now.
pub async fn set_keys_if_missing(
    conn: &mut DbConn<'_>,
    id: i64,
    public_key_pem: &str,
    private_key_pem: &str,
) -> QueryResult<Instance> {
    let now = super::now();
    on_conn!(conn, |c| {
        diesel::update(
            instances::table
                .filter(instances::id.eq(id))
                .filter(instances::public_key_pem.is_null()),
        )
        .set((
            instances::public_key_pem.eq(public_key_pem),
            instances::private_key_pem.eq(private_key_pem),
            instances::updated_at.eq(now),
        ))
        .execute(c)
        .await?;
        instances::table
            .find(id)
            .select(Instance::as_select())
            .first(c)
            .await
    })
}

/// The row for a remote `domain` (host, with `:port` when there is one), made on first use.
pub async fn ensure_remote(
    conn: &mut DbConn<'_>,
    domain: &str,
    now: NaiveDateTime,
) -> QueryResult<Instance> {
    let domain = domain.to_ascii_lowercase();
    on_conn!(conn, |c| {
        diesel::insert_into(instances::table)
            .values((
                instances::domain.eq(&domain),
                instances::local.eq(false),
                instances::created_at.eq(now),
                instances::updated_at.eq(now),
            ))
            .on_conflict(instances::domain)
            .do_nothing()
            .execute(c)
            .await?;
        instances::table
            .filter(instances::domain.eq(&domain))
            .select(Instance::as_select())
            .first(c)
            .await
    })
}

/// [`ensure_remote`] for many domains (lower case): their instance ids by domain. Known
/// domains, the usual case in a fan-out, are read in one query per 500.
pub async fn ensure_remotes(
    conn: &mut DbConn<'_>,
    domains: &[String],
    now: NaiveDateTime,
) -> QueryResult<HashMap<String, i64>> {
    let mut ids = HashMap::with_capacity(domains.len());
    for chunk in domains.chunks(500) {
        let known: Vec<(String, i64)> = on_conn!(conn, |c| {
            instances::table
                .filter(super::text_in(instances::domain, chunk))
                .select((instances::domain, instances::id))
                .load(c)
                .await
        })?;
        ids.extend(known);
    }
    for domain in domains {
        if !ids.contains_key(domain) {
            let created = ensure_remote(conn, domain, now).await?;
            ids.insert(domain.clone(), created.id);
        }
    }
    Ok(ids)
}

/// The row for `domain` (already normalized: lower case, no trailing dot), if known.
pub async fn read_by_domain(conn: &mut DbConn<'_>, domain: &str) -> QueryResult<Option<Instance>> {
    on_conn!(conn, |c| {
        instances::table
            .filter(instances::domain.eq(domain))
            .select(Instance::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// The domain of each of `ids`.
pub async fn domains(
    conn: &mut DbConn<'_>,
    ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = on_conn!(conn, |c| {
        instances::table
            .filter(super::id_in(instances::id, ids))
            .select((instances::id, instances::domain))
            .load(c)
            .await
    })?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TEST_DOMAIN, for_each_backend};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_instance_is_created_once_and_keeps_its_domain() {
        for_each_backend(async |db| {
            // for_each_backend already made the row for TEST_DOMAIN: it is found, not doubled.
            let first = ensure_local(&db, TEST_DOMAIN).await.expect("found");
            let again = ensure_local(&db, TEST_DOMAIN).await.expect("found again");
            assert_eq!(first.id, again.id);
            assert!(first.local);
            let read = (async {
                with_conn!(&db, |conn| read_local(&mut conn)
                    .await
                    .map_err(DbError::from))
            })
            .await;
            assert_eq!(read.expect("read").id, first.id);
            let err = ensure_local(&db, "other.example")
                .await
                .expect_err("domain change refused");
            assert!(err.to_string().contains(TEST_DOMAIN), "{err}");
            assert!(err.to_string().contains("other.example"), "{err}");
        })
        .await;
    }

    /// Known and new domains in one call: the known keep their rows, the new get one
    /// each, and asking again creates nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ensure_remotes_reads_known_domains_and_adds_new_ones() {
        for_each_backend(async |db| {
            let now = crate::db::now();
            let result = async {
                with_conn!(&db, |conn| {
                    let known = ensure_remote(&mut conn, "known.example", now).await?;
                    let asked: Vec<String> = ["known.example", "new.example", "localhost:8542"]
                        .map(String::from)
                        .to_vec();
                    let first = ensure_remotes(&mut conn, &asked, now).await?;
                    let again = ensure_remotes(&mut conn, &asked, now).await?;
                    let none = ensure_remotes(&mut conn, &[], now).await?;
                    let held = &mut conn;
                    let rows: i64 = on_conn!(held, |c| {
                        instances::table
                            .filter(instances::local.eq(false))
                            .count()
                            .get_result(c)
                            .await
                    })?;
                    let new = read_by_domain(&mut conn, "new.example").await?;
                    Ok::<_, DbError>((known, first, again, none, rows, new))
                })
            }
            .await;
            let (known, first, again, none, rows, new) = result.expect("queries");
            assert_eq!(first.len(), 3);
            assert_eq!(first["known.example"], known.id);
            let new = new.expect("new.example has a row");
            assert!(!new.local);
            assert_eq!(first["new.example"], new.id);
            assert_ne!(first["localhost:8542"], known.id);
            assert_ne!(first["localhost:8542"], new.id);
            assert_eq!(first, again);
            assert!(none.is_empty());
            assert_eq!(rows, 3);
        })
        .await;
    }
}
