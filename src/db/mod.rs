//! Storage: a SQLite or PostgreSQL pool chosen at runtime from `database.url`, and the
//! macros that run one query text against either backend.

#[macro_use]
mod macros;

pub mod actor_name;
pub mod answer;
pub mod auth_token;
pub mod community;
pub mod community_follow;
pub mod community_moderator;
pub mod domain_block;
pub mod federation_policy;
pub mod instance;
pub mod instance_moderation;
pub mod invite;
pub mod knowledge;
pub mod local_account;
pub mod mention;
pub mod migrations;
pub mod moderation;
pub mod outbox;
pub mod person;
pub mod received_activity;
pub mod revision;
pub mod schema;
pub mod search;
pub mod stats;
pub mod tag;
pub mod thread;
pub mod types;
pub mod vote;

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use futures_util::FutureExt;

use crate::settings::DatabaseSettings;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection, SqliteStatements>;
pub type PgPool = Pool<AsyncPgConnection>;

/// Where a SQLite statement runs. diesel-async hands each statement to tokio's blocking
/// pool and back by default: two thread switches per statement, and about a third of the
/// server's samples under inbox load were the kernel switching threads for the 20-odd
/// statements of each received activity (docs/benchmarks.md). Most statements take
/// microseconds, so they run on the calling worker; a caller that may run long (a search
/// over a large index) marks itself with [`off_the_runtime`] and keeps the hand-off.
pub struct SqliteStatements;

tokio::task_local! {
    static LONG_RUNNING: ();
}

/// Runs `work` with its SQLite statements on tokio's blocking pool, for statements that
/// may take long enough to hold up the other requests on this worker (search).
pub async fn off_the_runtime<F: std::future::Future>(work: F) -> F::Output {
    LONG_RUNNING.scope((), work).await
}

impl diesel_async::sync_connection_wrapper::SpawnBlocking for SqliteStatements {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<R, Box<dyn std::error::Error + Send + Sync + 'static>>,
    >
    where
        R: Send + 'static,
    {
        if LONG_RUNNING.try_with(|()| ()).is_ok() {
            return tokio::task::spawn_blocking(task)
                .map(|joined| joined.map_err(Into::into))
                .boxed();
        }
        std::future::ready(Ok(task())).boxed()
    }

    fn get_runtime() -> Self {
        SqliteStatements
    }
}

/// `BEGIN IMMEDIATE` on `conn`, for `transaction!` (diesel-async's own
/// `immediate_transaction` is only for its default statement runner).
pub async fn sqlite_begin_immediate(conn: &mut SqliteConn) -> diesel::QueryResult<()> {
    conn.spawn_blocking(|c| {
        diesel::connection::AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
    })
    .await
}

/// Commits the transaction `sqlite_begin_immediate` began when `result` is `Ok`, rolls
/// it back otherwise, and passes `result` on.
pub async fn sqlite_end_transaction<T, E: From<diesel::result::Error>>(
    conn: &mut SqliteConn,
    result: Result<T, E>,
) -> Result<T, E> {
    use diesel_async::TransactionManager;
    type Manager = diesel_async::sync_connection_wrapper::SyncTransactionManagerWrapper<
        diesel::connection::AnsiTransactionManager,
    >;
    match result {
        Ok(value) => {
            Manager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(err) => {
            Manager::rollback_transaction(conn).await?;
            Err(err)
        }
    }
}

/// The SQLite pool and the turn its write transactions take. SQLite lets one writer in at
/// a time and makes the others poll: a connection that finds the database locked sleeps
/// (1, 2, 5, 10 ms and longer) and tries again, while the core stays idle. Counted with a
/// `perf` uprobe on SQLite's `unixSleep`: 1.7 such sleeps per received activity under the
/// benchmark's inbox load. Write transactions of this process wait for their turn here
/// instead, and the next one starts as soon as the last commits. Other processes (the
/// CLI) still meet SQLite's own lock and wait as before.
#[derive(Clone)]
pub struct SqlitePool {
    pool: Pool<SqliteConn>,
    writes: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::ops::Deref for SqlitePool {
    type Target = Pool<SqliteConn>;

    fn deref(&self) -> &Pool<SqliteConn> {
        &self.pool
    }
}

impl SqlitePool {
    /// Waits for this process's turn to write, at most as long as SQLite itself would
    /// wait for its lock (so a transaction opened inside another still fails, not hangs).
    pub async fn write_turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, DbError> {
        let wait = Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS));
        match tokio::time::timeout(wait, self.writes.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(DbError::Closed),
            Err(_) => Err(DbError::Timeout(wait)),
        }
    }
}

/// Milliseconds a SQLite connection waits on a locked database before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// A connection of either backend, borrowed from the pool or from an open transaction.
/// Functions in `db/` take `&mut DbConn` and dispatch with [`on_conn!`].
pub enum DbConn<'a> {
    Sqlite(&'a mut SqliteConn),
    Postgres(&'a mut AsyncPgConnection),
}

/// The database: one pool of one backend. Cloning shares the pool.
#[derive(Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot prepare the SQLite folder {path}: {source}")]
    SqliteFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database connection failed: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("database pool setup failed: {0}")]
    Build(#[from] diesel_async::pooled_connection::deadpool::BuildError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the database is closed")]
    Closed,
}

/// Where `database.url` points, decided by its scheme alone (never by trying one backend
/// and falling back to the other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> Result<DatabaseLocation, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseLocation::Postgres(url.to_owned()));
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = url.split_once("://") {
            return Err(DbError::InvalidUrl(format!(
                "unsupported scheme `{scheme}://`; use postgres://, postgresql:// or a SQLite file path"
            )));
        } else {
            url
        };
        if path.is_empty() || path == ":memory:" || path.starts_with("file::memory:") {
            return Err(DbError::InvalidUrl(
                "a SQLite database must be a file path (in-memory databases are not shared between connections)".into(),
            ));
        }
        Ok(DatabaseLocation::Sqlite(PathBuf::from(path)))
    }
}

/// The SQLite file path of a database URL, or `None` for PostgreSQL or an invalid URL.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    match DatabaseLocation::parse(url) {
        Ok(DatabaseLocation::Sqlite(path)) => Some(path),
        _ => None,
    }
}

impl Db {
    /// Opens a pool for `settings.url`. Nothing is migrated here; see [`migrations`].
    ///
    /// Both pools recycle connections without diesel-async's default `SELECT 1` per
    /// checkout (a third of the queries of a page that checked out three times): a SQLite
    /// file cannot go away under an open connection, and a PostgreSQL connection whose
    /// socket closed is still refused at checkout (`is_broken` asks tokio-postgres).
    pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
        let timeout = Duration::from_secs(settings.connect_timeout_secs);
        let db = match DatabaseLocation::parse(&settings.url)? {
            DatabaseLocation::Sqlite(path) => {
                Db::Sqlite(sqlite_pool(&path, settings.pool_size, timeout)?)
            }
            DatabaseLocation::Postgres(url) => {
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                config.recycling_method = RecyclingMethod::Fast;
                let manager =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
                Db::Postgres(
                    Pool::builder(manager)
                        .max_size(settings.pool_size as usize)
                        .wait_timeout(Some(timeout))
                        .create_timeout(Some(timeout))
                        .recycle_timeout(Some(timeout))
                        .runtime(deadpool::Runtime::Tokio1)
                        .build()?,
                )
            }
        };
        // Fail at start, with the driver's own message, when the database is unreachable.
        db.ping().await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs `SELECT 1`; used by `/healthz` and at start.
    pub async fn ping(&self) -> Result<(), DbError> {
        let timeout = self.timeout();
        let check = async {
            with_conn!(self, |conn| {
                on_conn!(&mut conn, |c| {
                    diesel::select(fixed_sql::<diesel::sql_types::Integer>("1"))
                        .get_result::<i32>(c)
                        .await?
                });
                Ok::<(), DbError>(())
            })
        };
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| DbError::Timeout(timeout))?
    }

    fn timeout(&self) -> Duration {
        let timeouts = match self {
            Db::Sqlite(pool) => pool.timeouts(),
            Db::Postgres(pool) => pool.timeouts(),
        };
        timeouts.wait.unwrap_or(Duration::from_secs(5))
            + timeouts.create.unwrap_or(Duration::from_secs(5))
    }

    /// Closes the pool: waiting callers fail and connections are dropped as they return.
    pub fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close(),
            Db::Postgres(pool) => pool.close(),
        }
    }
}

fn sqlite_pool(path: &Path, size: u32, timeout: Duration) -> Result<SqlitePool, DbError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DbError::SqliteFolder {
            path: parent.to_owned(),
            source,
        })?;
    }
    let mut config = ManagerConfig::<SqliteConn>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        let url = url.to_owned();
        async move {
            let mut conn = SqliteConn::establish(&url).await?;
            // busy_timeout first: switching to WAL itself needs the lock it waits for.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
        path.to_string_lossy().into_owned(),
        config,
    );
    let pool = Pool::builder(manager)
        .max_size(size as usize)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(SqlitePool {
        pool,
        writes: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
    })
}

/// The current time as stored: naive UTC, truncated to microseconds so both backends
/// store and return the same value.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}

/// `column IN (ids)`, with the ids bound as one parameter: a JSON array read by `json_each`
/// on SQLite, an array compared with `= ANY` on PostgreSQL. The SQL text is the same for
/// any number of ids, so the connection keeps it prepared; diesel's `eq_any` writes one
/// `?` per id on SQLite and prepares such a query again on every call (it marks it unsafe
/// to cache), which was a seventh of a thread page's server time. Ids are deduplicated.
pub fn id_in<C>(column: C, ids: &[i64]) -> InList<C, false, i64> {
    InList::new(column, ids)
}

/// `column NOT IN (ids)`, bound as [`id_in`] binds.
pub fn id_not_in<C>(column: C, ids: &[i64]) -> InList<C, true, i64> {
    InList::new(column, ids)
}

/// `column IN (texts)` for a text column, bound as [`id_in`] binds (the federation policy
/// asks it of every received activity and every batch of deliveries).
pub fn text_in<C>(column: C, texts: &[String]) -> InList<C, false, String> {
    InList::new(column, texts)
}

/// What an [`InList`] may hold, with its SQL type for PostgreSQL's array.
pub trait ListValue: serde::Serialize + Ord + Clone {
    type SqlType: diesel::sql_types::SqlType + diesel::sql_types::SingleValue;
}

impl ListValue for i64 {
    type SqlType = diesel::sql_types::BigInt;
}

impl ListValue for String {
    type SqlType = diesel::sql_types::Text;
}

/// The expression [`id_in`], [`id_not_in`] and [`text_in`] build; `NOT` negates it.
#[derive(Debug, Clone)]
pub struct InList<C, const NOT: bool, T> {
    column: C,
    values: Vec<T>,
    /// The same values as a JSON array, for SQLite's `json_each`.
    json: String,
}

impl<C, const NOT: bool, T: ListValue> InList<C, NOT, T> {
    fn new(column: C, values: &[T]) -> Self {
        let mut values = values.to_vec();
        values.sort_unstable();
        values.dedup();
        let json = serde_json::to_string(&values).unwrap_or_else(|_| "[]".to_owned());
        InList {
            column,
            values,
            json,
        }
    }
}

impl<C, const NOT: bool, T> diesel::expression::Expression for InList<C, NOT, T> {
    type SqlType = diesel::sql_types::Bool;
}

impl<C, QS, const NOT: bool, T> diesel::expression::AppearsOnTable<QS> for InList<C, NOT, T> where
    C: diesel::expression::AppearsOnTable<QS>
{
}

impl<C, QS, const NOT: bool, T> diesel::expression::SelectableExpression<QS> for InList<C, NOT, T> where
    C: diesel::expression::SelectableExpression<QS>
{
}

impl<C, const NOT: bool, T> diesel::expression::ValidGrouping<()> for InList<C, NOT, T>
where
    C: diesel::expression::ValidGrouping<()>,
{
    type IsAggregate = C::IsAggregate;
}

impl<C, const NOT: bool, T: 'static> diesel::query_builder::QueryId for InList<C, NOT, T>
where
    C: diesel::query_builder::QueryId,
{
    type QueryId = InList<C::QueryId, NOT, T>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C, const NOT: bool, T> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
    for InList<C, NOT, T>
where
    C: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(if NOT { " NOT IN " } else { " IN " });
        out.push_sql("(SELECT value FROM json_each(");
        out.push_bind_param::<diesel::sql_types::Text, String>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C, const NOT: bool, T> diesel::query_builder::QueryFragment<diesel::pg::Pg>
    for InList<C, NOT, T>
where
    C: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    T: ListValue,
    diesel::pg::Pg: diesel::sql_types::HasSqlType<T::SqlType>,
    Vec<T>: diesel::serialize::ToSql<diesel::sql_types::Array<T::SqlType>, diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(if NOT { " <> ALL(" } else { " = ANY(" });
        out.push_bind_param::<diesel::sql_types::Array<T::SqlType>, Vec<T>>(&self.values)?;
        out.push_sql(")");
        Ok(())
    }
}

/// A fixed SQL fragment of type `ST`, as `diesel::dsl::sql` writes it, but which leaves the
/// query cacheable: `dsl::sql` marks every query holding it unsafe to cache, so the query
/// is prepared again on each call. The statement is cached by its SQL text (the fragment
/// has no static query id, so two queries of one Rust type with different fragments
/// cannot share a statement).
pub fn fixed_sql<ST>(sql: &'static str) -> FixedSql<ST> {
    FixedSql {
        sql,
        sql_type: std::marker::PhantomData,
    }
}

/// The expression [`fixed_sql`] builds.
#[derive(Debug, Clone, Copy)]
pub struct FixedSql<ST> {
    sql: &'static str,
    sql_type: std::marker::PhantomData<ST>,
}

impl<ST: diesel::expression::TypedExpressionType> diesel::expression::Expression for FixedSql<ST> {
    type SqlType = ST;
}

impl<ST, QS> diesel::expression::AppearsOnTable<QS> for FixedSql<ST> where
    FixedSql<ST>: diesel::expression::Expression
{
}

impl<ST, QS> diesel::expression::SelectableExpression<QS> for FixedSql<ST> where
    FixedSql<ST>: diesel::expression::Expression
{
}

impl<ST, G> diesel::expression::ValidGrouping<G> for FixedSql<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST: 'static> diesel::query_builder::QueryId for FixedSql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for FixedSql<ST> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

/// `query` (an UPDATE, or an upsert) kept prepared between executions, as a SELECT is.
/// diesel prepares every UPDATE and every `ON CONFLICT ... DO UPDATE` again on each
/// execution (their SQL may change with their values: a changeset leaves its `None` fields
/// out), which on the delivery and inbox paths, where one statement runs for every
/// delivery or activity, is a compile of the statement each time. Kept by its SQL text and
/// bind types (the wrapper has no static query id), a statement is only reused for the
/// same text, so a changeset of another shape gets a statement of its own. For statements
/// of a fixed shape only: every shape stays in the connection's cache.
pub fn keep_prepared<Q>(query: Q) -> KeepPrepared<Q> {
    KeepPrepared(query)
}

/// The statement [`keep_prepared`] wraps.
#[derive(Debug, Clone, Copy)]
pub struct KeepPrepared<Q>(Q);

impl<Q> diesel::query_builder::QueryId for KeepPrepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for KeepPrepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for KeepPrepared<Q>
where
    Q: diesel::query_builder::QueryFragment<DB>,
    DB: diesel::backend::Backend,
{
    fn walk_ast<'b>(
        &'b self,
        out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(out)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

/// Table and column names as `schema.rs` declares them, in declaration order, read from
/// the SQL diesel generates for `SELECT *` (the schema tests compare them with the database).
#[cfg(test)]
pub(crate) fn schema_columns() -> Vec<(&'static str, Vec<&'static str>)> {
    use diesel::Table;
    use diesel::query_dsl::methods::SelectDsl;
    fn columns_of<T>(table: T, name: &'static str) -> (&'static str, Vec<&'static str>)
    where
        T: Table + SelectDsl<<T as Table>::AllColumns>,
        <T as SelectDsl<<T as Table>::AllColumns>>::Output:
            diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>,
    {
        let query = SelectDsl::select(table, T::all_columns());
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        let prefix = format!("`{name}`.`");
        let names = sql
            .split(", ")
            .filter_map(|part| part.split(&prefix).nth(1))
            .filter_map(|rest| rest.split('`').next())
            .map(|column| &*Box::leak(column.to_owned().into_boxed_str()))
            .collect();
        (name, names)
    }
    macro_rules! tables {
        ($($table:ident),* $(,)?) => { vec![$(columns_of(schema::$table::table, stringify!($table))),*] };
    }
    tables!(
        instances,
        local_actor_names,
        persons,
        local_accounts,
        communities,
        community_follows,
        community_moderators,
        threads,
        answers,
        thread_votes,
        answer_votes,
        tags,
        thread_tags,
        received_activities,
        outbox_activities,
        outbox_deliveries,
        auth_tokens,
        invites,
        thread_revisions,
        answer_revisions,
        mentions,
        domain_blocks,
        domain_allows,
        instance_settings,
        instance_bans,
        reports,
        community_bans,
        mod_log,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_choose_a_backend_by_scheme_alone() {
        assert_eq!(
            DatabaseLocation::parse("postgres://u:p@h/db").expect("pg"),
            DatabaseLocation::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("postgresql://h/db").expect("pg"),
            DatabaseLocation::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("./data/lyceum.db").expect("sqlite"),
            DatabaseLocation::Sqlite("./data/lyceum.db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("sqlite:///var/lib/lyceum.db").expect("sqlite"),
            DatabaseLocation::Sqlite("/var/lib/lyceum.db".into())
        );
        // A PostgreSQL keyword string must not silently become a SQLite file.
        assert!(DatabaseLocation::parse("mysql://h/db").is_err());
        assert!(DatabaseLocation::parse(":memory:").is_err());
        assert!(DatabaseLocation::parse("").is_err());
    }

    /// `id_in`, `id_not_in` and `text_in` select what `IN` and `NOT IN` lists select
    /// (duplicates and an empty list included), and unlike `eq_any` leave the query
    /// cacheable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn id_lists_select_what_in_lists_select_and_stay_prepared() {
        use diesel::query_builder::QueryFragment;
        use diesel::{ExpressionMethods, QueryDsl};
        use schema::instances;
        let in_list = |ids: &[i64]| {
            instances::table
                .filter(id_in(instances::id, ids))
                .select(instances::id)
        };
        let cacheable = |fragment: &dyn QueryFragment<diesel::sqlite::Sqlite>| {
            fragment
                .is_safe_to_cache_prepared(&diesel::sqlite::Sqlite)
                .expect("walks")
        };
        assert!(cacheable(&in_list(&[1, 2, 3])));
        assert!(cacheable(&in_list(&[])));
        assert!(!cacheable(
            &instances::table.filter(instances::id.eq_any([1_i64, 2]))
        ));
        assert!(cacheable(&diesel::select(fixed_sql::<
            diesel::sql_types::Integer,
        >("1"))));
        // One SQL text for any number of ids, so one prepared statement serves them all.
        let sql = |ids: &[i64]| {
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(&in_list(ids))
                .to_string()
                .split(" -- ")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(sql(&[1]), sql(&[1, 2, 3, 4]));

        crate::testing::for_each_backend(async |db| {
            let now = now();
            let result = async {
                with_conn!(&db, |conn| {
                    let mut made = Vec::new();
                    for domain in ["a.example", "b.example", "c.example"] {
                        made.push(instance::ensure_remote(&mut conn, domain, now).await?.id);
                    }
                    let held = &mut conn;
                    let mut asked = Vec::new();
                    for ids in [
                        vec![made[0], made[2], made[0]],
                        vec![],
                        vec![made[1], 999_999],
                    ] {
                        let inside: Vec<i64> = on_conn!(held, |c| {
                            instances::table
                                .filter(id_in(instances::id, &ids))
                                .order(instances::id)
                                .select(instances::id)
                                .load(c)
                                .await
                        })?;
                        let outside: Vec<i64> = on_conn!(held, |c| {
                            instances::table
                                .filter(instances::local.eq(false))
                                .filter(id_not_in(instances::id, &ids))
                                .order(instances::id)
                                .select(instances::id)
                                .load(c)
                                .await
                        })?;
                        asked.push((inside, outside));
                    }
                    let mut by_domain = Vec::new();
                    for domains in [
                        vec!["c.example", "a.example", "a.example", "none.example"],
                        vec![],
                    ] {
                        let domains: Vec<String> = domains.into_iter().map(String::from).collect();
                        let found: Vec<i64> = on_conn!(held, |c| {
                            instances::table
                                .filter(text_in(instances::domain, &domains))
                                .order(instances::id)
                                .select(instances::id)
                                .load(c)
                                .await
                        })?;
                        by_domain.push(found);
                    }
                    Ok::<_, DbError>((made, asked, by_domain))
                })
            }
            .await;
            let (made, asked, by_domain) = result.expect("queries run");
            assert_eq!(by_domain, vec![vec![made[0], made[2]], vec![]]);
            assert_eq!(
                asked,
                vec![
                    (vec![made[0], made[2]], vec![made[1]]),
                    (vec![], made.clone()),
                    (vec![made[1]], vec![made[0], made[2]]),
                ]
            );
        })
        .await;
    }

    /// `keep_prepared` makes an UPDATE cacheable, and one Rust type whose changeset takes
    /// two shapes (an optional field set or left out) gets a statement per shape.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_writes_are_cacheable_and_each_shape_has_its_statement() {
        use chrono::NaiveDateTime;
        use diesel::query_builder::QueryFragment;
        use diesel::{ExpressionMethods, NullableExpressionMethods, QueryDsl};
        use schema::instances;
        let mark = |id: i64, seen: NaiveDateTime, dead: Option<NaiveDateTime>| {
            diesel::update(instances::table.find(id)).set((
                instances::last_success_at.eq(Some(seen)),
                dead.map(|d| instances::dead_since.eq(Some(d))),
            ))
        };
        let t = now();
        for backend_cacheable in [
            mark(1, t, None).is_safe_to_cache_prepared(&diesel::sqlite::Sqlite),
            mark(1, t, None).is_safe_to_cache_prepared(&diesel::pg::Pg),
        ] {
            assert!(!backend_cacheable.expect("walks"), "diesel's own choice");
        }
        assert!(
            keep_prepared(mark(1, t, None))
                .is_safe_to_cache_prepared(&diesel::sqlite::Sqlite)
                .expect("walks")
        );
        crate::testing::for_each_backend(async |db| {
            let (t1, t2, t3) = (
                t - chrono::Duration::hours(3),
                t - chrono::Duration::hours(2),
                t - chrono::Duration::hours(1),
            );
            let rows = async {
                with_conn!(&db, |conn| {
                    let id = instance::ensure_remote(&mut conn, "kept.example", t)
                        .await?
                        .id;
                    let held = &mut conn;
                    let mut seen = Vec::new();
                    // Each shape twice, alternated, so a statement is reused for each.
                    for (at, dead) in [(t1, Some(t1)), (t2, None), (t3, Some(t3)), (t, None)] {
                        on_conn!(held, |c| {
                            keep_prepared(mark(id, at, dead)).execute(c).await
                        })?;
                        let row: (Option<NaiveDateTime>, Option<NaiveDateTime>) =
                            on_conn!(held, |c| {
                                instances::table
                                    .find(id)
                                    .select((
                                        instances::last_success_at.nullable(),
                                        instances::dead_since.nullable(),
                                    ))
                                    .first(c)
                                    .await
                            })?;
                        seen.push(row);
                    }
                    Ok::<_, DbError>(seen)
                })
            }
            .await
            .expect("updates run");
            assert_eq!(
                rows,
                vec![
                    (Some(t1), Some(t1)),
                    (Some(t2), Some(t1)),
                    (Some(t3), Some(t3)),
                    (Some(t), Some(t3)),
                ]
            );
        })
        .await;
    }

    #[tokio::test]
    async fn sqlite_connections_use_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = DatabaseSettings {
            url: dir
                .path()
                .join("nested/folder/t.db")
                .to_string_lossy()
                .into_owned(),
            ..DatabaseSettings::default()
        };
        let db = Db::connect(&settings)
            .await
            .expect("connects and creates the folder");
        let Db::Sqlite(pool) = &db else {
            panic!("sqlite")
        };
        let conn = &mut *pool.get().await.expect("conn");
        let (mode, fk, busy): (String, i32, i32) = (async {
            use diesel::sql_types::{Integer, Text};
            let mode = diesel::select(diesel::dsl::sql::<Text>(
                "(SELECT journal_mode FROM pragma_journal_mode)",
            ))
            .get_result::<String>(conn)
            .await?;
            let fk = diesel::select(diesel::dsl::sql::<Integer>(
                "(SELECT foreign_keys FROM pragma_foreign_keys)",
            ))
            .get_result::<i32>(conn)
            .await?;
            let busy = diesel::select(diesel::dsl::sql::<Integer>(
                "(SELECT timeout FROM pragma_busy_timeout)",
            ))
            .get_result::<i32>(conn)
            .await?;
            Ok::<_, DbError>((mode, fk, busy))
        })
        .await
        .expect("pragmas");
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
        assert_eq!(busy, SQLITE_BUSY_TIMEOUT_MS as i32);
    }

    /// A migrated SQLite database in a new folder, which is deleted when dropped.
    async fn migrated_sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = DatabaseSettings {
            url: dir.path().join("t.db").to_string_lossy().into_owned(),
            ..DatabaseSettings::default()
        };
        let db = Db::connect(&settings).await.expect("connects");
        migrations::run_pending(&db).await.expect("migrates");
        (dir, db)
    }

    /// SQLite write transactions of one process take turns: many at once all commit, and
    /// one opened inside another fails after the busy timeout, as SQLite's own lock made
    /// it fail, rather than waiting for ever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_write_transactions_take_turns() {
        let (_dir, db) = migrated_sqlite().await;
        let now = now();
        let writers = (0..24).map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                crate::transaction!(&db, |conn| {
                    let made =
                        instance::ensure_remote(&mut conn, &format!("i{n}.example"), now).await?;
                    // Held across an await, as a transaction that reads, decides and
                    // writes holds it.
                    tokio::task::yield_now().await;
                    instance::read_by_domain(&mut conn, &made.domain).await?;
                    Ok::<_, DbError>(made.id)
                })
            })
        });
        let made = futures_util::future::join_all(writers).await;
        assert!(
            made.iter().all(|r| matches!(r, Ok(Ok(_)))),
            "{:?}",
            made.iter().filter(|r| !matches!(r, Ok(Ok(_)))).count()
        );
        let started = std::time::Instant::now();
        let nested: Result<bool, DbError> = async {
            crate::transaction!(&db, |_conn| {
                let inner: Result<(), DbError> =
                    async { crate::transaction!(&db, |_c| Ok::<_, DbError>(())) }.await;
                Ok::<_, DbError>(matches!(inner, Err(DbError::Timeout(_))))
            })
        }
        .await;
        assert!(
            nested.expect("the outer one commits"),
            "the inner one timed out"
        );
        assert!(started.elapsed() >= Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS)));
    }

    /// A SQLite statement runs on the thread that awaits it, except under
    /// `off_the_runtime`, where it goes to the blocking pool; a write transaction whose
    /// body fails is rolled back and the next one commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_statements_run_where_they_are_awaited() {
        use diesel_async::sync_connection_wrapper::SpawnBlocking;
        let (caller, ran) = {
            let ran = SqliteStatements.spawn_blocking(|| std::thread::current().id());
            (std::thread::current().id(), ran)
        };
        assert_eq!(ran.await.expect("runs"), caller);
        let (caller, ran) = off_the_runtime(async {
            let caller = std::thread::current().id();
            let ran = SqliteStatements
                .spawn_blocking(|| std::thread::current().id())
                .await;
            (caller, ran.expect("runs"))
        })
        .await;
        assert_ne!(ran, caller, "a long statement leaves the worker free");

        let (_dir, db) = migrated_sqlite().await;
        let now = now();
        let failed: Result<(), DbError> = async {
            crate::transaction!(&db, |conn| {
                instance::ensure_remote(&mut conn, "gone.example", now).await?;
                Err::<(), _>(DbError::Closed)
            })
        }
        .await;
        assert!(matches!(failed, Err(DbError::Closed)), "{failed:?}");
        let kept: Result<i64, DbError> = async {
            crate::transaction!(&db, |conn| {
                let made = instance::ensure_remote(&mut conn, "kept.example", now).await?;
                Ok::<_, DbError>(made.id)
            })
        }
        .await;
        kept.expect("the next transaction commits");
        let found: Result<_, DbError> = async {
            crate::with_conn!(&db, |conn| {
                let gone = instance::read_by_domain(&mut conn, "gone.example").await?;
                let kept = instance::read_by_domain(&mut conn, "kept.example").await?;
                Ok::<_, DbError>((gone.is_some(), kept.is_some()))
            })
        }
        .await;
        assert_eq!(found.expect("reads"), (false, true));
    }

    #[tokio::test]
    async fn unreachable_postgres_fails_fast_with_the_driver_error() {
        let settings = DatabaseSettings {
            // Port 1 on loopback: nothing listens there.
            url: "postgres://lyceum@127.0.0.1:1/lyceum".into(),
            connect_timeout_secs: 2,
            ..DatabaseSettings::default()
        };
        let err = Db::connect(&settings).await.err().expect("must fail");
        assert!(
            matches!(err, DbError::Pool(_) | DbError::Timeout(_)),
            "{err}"
        );
    }
}
