//! `with_conn!`, `transaction!`, `on_conn!` and `load_rows!`: one query text, expanded once
//! per backend.

/// Runs `$body` with `$conn` bound to a [`DbConn`](crate::db::DbConn) from the pool.
/// Pool errors are converted with `?` into the caller's error type.
#[macro_export]
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::DbError::from)?;
                #[allow(unused_mut)]
                let mut $conn = $crate::db::DbConn::Sqlite(&mut *pooled);
                $body
            }
            $crate::db::Db::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::DbError::from)?;
                #[allow(unused_mut)]
                let mut $conn = $crate::db::DbConn::Postgres(&mut *pooled);
                $body
            }
        }
    };
}

/// Runs `$body` in one write transaction with `$conn` bound to a
/// [`DbConn`](crate::db::DbConn): `BEGIN IMMEDIATE` on SQLite (so a read followed by a
/// write never fails on lock upgrade), after this process's turn to write
/// ([`SqlitePool::write_turn`](crate::db::SqlitePool::write_turn)), an ordinary
/// transaction on PostgreSQL. The body evaluates to `Result<T, E>` with
/// `E: From<diesel::result::Error>`; `Err` rolls back.
#[macro_export]
macro_rules! transaction {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pool) => {
                // Taken before the connection, so waiting writers hold no connection.
                let _turn = pool.write_turn().await?;
                let mut pooled = pool.get().await.map_err($crate::db::DbError::from)?;
                let sqlite: &mut $crate::db::SqliteConn = &mut *pooled;
                match $crate::db::sqlite_begin_immediate(sqlite).await {
                    Err(err) => Err(err.into()),
                    Ok(()) => {
                        let result = async {
                            #[allow(unused_mut)]
                            let mut $conn = $crate::db::DbConn::Sqlite(&mut *sqlite);
                            $body
                        }
                        .await;
                        $crate::db::sqlite_end_transaction(sqlite, result).await
                    }
                }
            }
            $crate::db::Db::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::DbError::from)?;
                diesel_async::AsyncConnection::transaction(&mut *pooled, async |c| {
                    #[allow(unused_mut)]
                    let mut $conn = $crate::db::DbConn::Postgres(c);
                    $body
                })
                .await
            }
        }
    };
}

/// Inside `db/`: runs one query text on the concrete connection behind a `&mut DbConn`.
/// The body is expanded once per backend so each copy type-checks against its backend.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(inner) => {
                let $c = &mut **inner;
                $body
            }
            $crate::db::DbConn::Postgres(inner) => {
                let $c = &mut **inner;
                $body
            }
        }
    };
}

/// Inside `db/`: loads every row of the query `$query` builds, like `on_conn!` with
/// `.load(c)`, for queries that return many rows. On SQLite the rows become Rust values
/// where the statement is stepped ([`SqliteStatements`](crate::db::SqliteStatements)).
/// diesel-async's `load` would first copy every value of every row into an owned row
/// (`sqlite3_value_dup`), made to carry rows across threads: a fifth of a member's thread
/// page (100 answers), measured with `perf`. The query must own its parameters
/// (`'static`), as it may go to another thread.
#[macro_export]
macro_rules! load_rows {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(inner) => {
                let query = $query;
                inner
                    .spawn_blocking(move |c| diesel::RunQueryDsl::load(query, c))
                    .await
            }
            $crate::db::DbConn::Postgres(inner) => {
                diesel_async::RunQueryDsl::load($query, &mut **inner).await
            }
        }
    };
}
