//! Embedded migrations, one tree per backend with identical folder names, applied by
//! `lyceum serve` and `lyceum migrate`.

use diesel::migration::MigrationSource;
use diesel_async::AsyncMigrationHarness;
use diesel_async::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Db, DbError};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Any fixed number: held while migrating so that several `lyceum serve` processes
/// starting together on one PostgreSQL database do not migrate at the same time.
const POSTGRES_MIGRATION_LOCK: i64 = 0x6c79_6365_756d;

/// Applies every pending migration and returns the versions applied, oldest first.
pub async fn run_pending(db: &Db) -> Result<Vec<String>, DbError> {
    apply(db, Direction::Up).await
}

/// Reverts every migration, newest first (the up/down/up tests use this).
pub async fn revert_all(db: &Db) -> Result<Vec<String>, DbError> {
    apply(db, Direction::Down).await
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

async fn apply(db: &Db, direction: Direction) -> Result<Vec<String>, DbError> {
    // The migration harness is synchronous; it runs on the blocking pool and drives the
    // async connection from there.
    match db {
        Db::Sqlite(pool) => {
            let conn = deadpool::managed::Object::take(pool.get().await?);
            run_blocking(conn, SQLITE_MIGRATIONS, direction).await
        }
        Db::Postgres(pool) => {
            let mut conn = deadpool::managed::Object::take(pool.get().await?);
            diesel::sql_query(format!(
                "SELECT pg_advisory_lock({POSTGRES_MIGRATION_LOCK})"
            ))
            .execute(&mut conn)
            .await?;
            // The lock is tied to this connection, which is dropped (and so unlocked)
            // when the harness is done with it, whatever the outcome.
            run_blocking(conn, POSTGRES_MIGRATIONS, direction).await
        }
    }
}

async fn run_blocking<C>(
    conn: C,
    source: EmbeddedMigrations,
    direction: Direction,
) -> Result<Vec<String>, DbError>
where
    C: diesel_async::AsyncConnection + Send + 'static,
    AsyncMigrationHarness<C>: MigrationHarness<C::Backend>,
    EmbeddedMigrations: MigrationSource<C::Backend>,
{
    tokio::task::spawn_blocking(move || {
        let mut harness = AsyncMigrationHarness::new(conn);
        let versions = match direction {
            Direction::Up => harness.run_pending_migrations(source),
            Direction::Down => harness.revert_all_migrations(source),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(versions.iter().map(ToString::to_string).collect())
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}

/// The migration folder names of one tree, sorted.
pub fn migration_names(source: &EmbeddedMigrations, backend: super::Backend) -> Vec<String> {
    let mut names: Vec<String> = match backend {
        super::Backend::Sqlite => MigrationSource::<diesel::sqlite::Sqlite>::migrations(source)
            .map(|list| list.iter().map(|m| m.name().to_string()).collect())
            .unwrap_or_default(),
        super::Backend::Postgres => MigrationSource::<diesel::pg::Pg>::migrations(source)
            .map(|list| list.iter().map(|m| m.name().to_string()).collect())
            .unwrap_or_default(),
    };
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Backend;
    use crate::testing::for_each_backend;
    use std::collections::BTreeMap;

    #[test]
    fn both_trees_have_the_same_migration_names() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let list = |tree: &str| {
            let mut names: Vec<String> = std::fs::read_dir(root.join(tree))
                .expect("migration folder")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let sqlite = list("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, list("postgres"));
        for name in &sqlite {
            for tree in ["sqlite", "postgres"] {
                for file in ["up.sql", "down.sql"] {
                    assert!(
                        root.join(tree).join(name).join(file).is_file(),
                        "{tree}/{name}/{file}"
                    );
                }
            }
        }
        assert_eq!(
            migration_names(&SQLITE_MIGRATIONS, Backend::Sqlite),
            migration_names(&POSTGRES_MIGRATIONS, Backend::Postgres)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn up_down_up_leaves_the_same_schema() {
        for_each_backend(async |db| {
            let before = schema_of(&db).await;
            assert!(
                before.contains_key("threads"),
                "migrated schema has threads"
            );
            let reverted = revert_all(&db).await.expect("revert all");
            assert_eq!(
                reverted.len(),
                migration_names(&SQLITE_MIGRATIONS, Backend::Sqlite).len()
            );
            assert!(
                schema_of(&db).await.is_empty(),
                "down.sql drops everything up.sql made"
            );
            run_pending(&db).await.expect("up again");
            assert_eq!(schema_of(&db).await, before);
            assert!(run_pending(&db).await.expect("nothing pending").is_empty());
        })
        .await;
    }

    /// Every column named in `schema.rs` exists with a compatible type on this backend.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_rs_matches_the_migrated_database() {
        for_each_backend(async |db| {
            let actual = schema_of(&db).await;
            let expected = crate::db::schema_columns();
            let mut expected_tables: Vec<&str> = expected.iter().map(|(t, _)| *t).collect();
            expected_tables.dedup();
            let mut actual_tables: Vec<&str> = actual.keys().map(String::as_str).collect();
            actual_tables.sort();
            expected_tables.sort();
            assert_eq!(
                actual_tables, expected_tables,
                "tables in schema.rs vs database"
            );
            for (table, columns) in expected {
                let db_columns = &actual[table];
                let names: Vec<&str> = db_columns.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, *columns, "columns of {table} ({})", db.backend());
            }
        })
        .await;
    }

    /// Both trees produce the same tables, columns, types and nullability.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_and_postgres_schemas_are_equivalent() {
        let mut schemas = Vec::new();
        for_each_backend(async |db| {
            schemas.push((db.backend(), schema_of(&db).await));
        })
        .await;
        match schemas.as_slice() {
            [(Backend::Sqlite, sqlite), (Backend::Postgres, pg)] => assert_eq!(sqlite, pg),
            [(Backend::Sqlite, _)] => {
                eprintln!("LYCEUM_TEST_DATABASE_URL is not set: compared SQLite with itself only")
            }
            other => panic!(
                "unexpected backends: {:?}",
                other.iter().map(|(b, _)| b).collect::<Vec<_>>()
            ),
        }
    }

    type Schema = BTreeMap<String, Vec<(String, String)>>;

    /// table -> [(column, "type null|notnull")] in declaration order, normalized across
    /// backends. Left out: the diesel migrations bookkeeping table, and the full-text index
    /// tables (`thread_search*`, `answer_search*`), which are FTS5 on SQLite and tsvector
    /// tables on PostgreSQL by design.
    async fn schema_of(db: &Db) -> Schema {
        #[derive(diesel::QueryableByName)]
        struct Column {
            #[diesel(sql_type = diesel::sql_types::Text)]
            table_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            column_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            data_type: String,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            not_null: bool,
        }
        let sql = match db.backend() {
            Backend::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type,
                        (p.\"notnull\" = 1 OR p.pk > 0) AS not_null
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                   AND m.name <> '__diesel_schema_migrations'
                   AND m.name NOT LIKE 'thread_search%' AND m.name NOT LIKE 'answer_search%'
                 ORDER BY m.name, p.cid"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS table_name, column_name::text AS column_name,
                        data_type::text AS data_type, (is_nullable = 'NO') AS not_null
                 FROM information_schema.columns
                 WHERE table_schema = current_schema()
                   AND table_name <> '__diesel_schema_migrations'
                   AND table_name NOT LIKE 'thread_search%' AND table_name NOT LIKE 'answer_search%'
                 ORDER BY table_name, ordinal_position"
            }
        };
        let rows: Vec<Column> = (async {
            with_conn!(db, |conn| Ok::<_, DbError>(on_conn!(&mut conn, |c| {
                diesel::sql_query(sql).load::<Column>(c).await?
            })))
        })
        .await
        .expect("schema query");
        let mut schema = Schema::new();
        for row in rows {
            let ty = normalize_type(&row.data_type);
            let null = if row.not_null { "not null" } else { "null" };
            schema
                .entry(row.table_name)
                .or_default()
                .push((row.column_name, format!("{ty} {null}")));
        }
        schema
    }

    fn normalize_type(t: &str) -> &'static str {
        match t.to_ascii_lowercase().as_str() {
            "integer" | "bigint" => "bigint",
            "text" => "text",
            "boolean" => "bool",
            "timestamp" | "timestamp without time zone" => "timestamp",
            other => panic!("non-portable column type `{other}`"),
        }
    }
}
