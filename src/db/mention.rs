//! Mentions found in threads and answers, kept so federation can tag and notify them.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::mentions;
use super::types::MentionKind;

/// What a text mentions: `@name@domain` (a person) or `!name@domain` (a community).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MentionTarget {
    pub kind: MentionKind,
    pub name: String,
    pub domain: String,
}

/// The thing mentioning.
#[derive(Debug, Clone, Copy)]
pub enum MentionSource {
    Thread(i64),
    Answer(i64),
}

/// Replaces the mentions stored for `source`.
pub async fn replace(
    conn: &mut DbConn<'_>,
    source: MentionSource,
    targets: &[MentionTarget],
) -> QueryResult<()> {
    let (thread_id, answer_id) = match source {
        MentionSource::Thread(id) => (Some(id), None),
        MentionSource::Answer(id) => (None, Some(id)),
    };
    on_conn!(conn, |c| {
        match source {
            MentionSource::Thread(id) => {
                diesel::delete(mentions::table.filter(mentions::thread_id.eq(id)))
                    .execute(c)
                    .await?
            }
            MentionSource::Answer(id) => {
                diesel::delete(mentions::table.filter(mentions::answer_id.eq(id)))
                    .execute(c)
                    .await?
            }
        };
        for target in targets {
            diesel::insert_into(mentions::table)
                .values((
                    mentions::thread_id.eq(thread_id),
                    mentions::answer_id.eq(answer_id),
                    mentions::kind.eq(target.kind),
                    mentions::name.eq(&target.name),
                    mentions::domain.eq(&target.domain),
                ))
                .execute(c)
                .await?;
        }
        Ok(())
    })
}

pub async fn list(conn: &mut DbConn<'_>, source: MentionSource) -> QueryResult<Vec<MentionTarget>> {
    let rows: Vec<(MentionKind, String, String)> = on_conn!(conn, |c| {
        let query = mentions::table
            .select((mentions::kind, mentions::name, mentions::domain))
            .order_by(mentions::id.asc())
            .into_boxed();
        let query = match source {
            MentionSource::Thread(id) => query.filter(mentions::thread_id.eq(id)),
            MentionSource::Answer(id) => query.filter(mentions::answer_id.eq(id)),
        };
        query.load(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(kind, name, domain)| MentionTarget { kind, name, domain })
        .collect())
}
