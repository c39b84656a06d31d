//! Whom the instance federates with: domain blocks, partner domains (the allowlist), the
//! federation mode, and the CSV lists admins share between partner organizations.

use serde::Serialize;

use crate::db::domain_block::{self, DomainBlock};
use crate::db::federation_policy::{
    self as policy, DomainAllow, DomainStanding, FederationMode, Standings,
};
use crate::db::{Db, DbConn, thread};
use crate::error::{AppError, AppResult};
use crate::service::auth::Session;

/// Most rows one CSV import takes; a bigger list is refused rather than half applied.
pub const IMPORT_MAX_ROWS: usize = 10_000;
const COMMENT_MAX_CHARS: usize = 1_000;

/// Mastodon's and GoToSocial's domain list header; both read it back.
const CSV_HEADER: [&str; 6] = [
    "#domain",
    "#severity",
    "#reject_media",
    "#reject_reports",
    "#public_comment",
    "#obfuscate",
];

/// A domain as the policy stores it: lower case, no scheme, path or trailing dot; a port
/// is kept when given (development instances share `localhost`), so `localhost:8542` names
/// one instance and `localhost` all of them. `None` when it is not a host name.
pub fn normalize_domain(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let authority = raw.split('/').next()?;
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid_host = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            // `_` is not valid in host names but DNS serves it, and the URL parser keeps
            // it: `x_y.blocked.example` must still be a subdomain of a blocked domain.
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    let valid_port = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    (valid_host && valid_port).then(|| match port {
        Some(port) => format!("{host}:{}", port.trim_start_matches('0')),
        None => host,
    })
}

fn invalid_domain() -> AppError {
    AppError::unprocessable(
        "invalid_domain",
        "domain must be a host name like social.example (a port may follow)",
    )
}

fn clean_comment(comment: Option<&str>) -> AppResult<Option<String>> {
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > COMMENT_MAX_CHARS) {
        return Err(AppError::unprocessable(
            "comment_too_long",
            format!("a comment is at most {COMMENT_MAX_CHARS} characters"),
        ));
    }
    Ok(comment.map(str::to_owned))
}

/// How the domain of `authority` (`host` or `host:port`) stands with this instance.
pub async fn standing(db: &Db, authority: &str) -> AppResult<DomainStanding> {
    let found = standings(db, &[authority.to_owned()]).await?;
    Ok(found.of(authority))
}

/// [`standing`] of each of `authorities`, keyed as given, on one connection and in a few
/// queries: the delivery worker asks once per claimed batch rather than once per inbox.
pub async fn standings(db: &Db, authorities: &[String]) -> AppResult<Standings> {
    let normalized: Vec<(String, Option<String>)> = authorities
        .iter()
        .map(|a| (a.clone(), normalize_domain(a)))
        .collect();
    let mut names: Vec<String> = normalized.iter().filter_map(|(_, n)| n.clone()).collect();
    names.sort();
    names.dedup();
    let found = crate::with_conn!(db, |conn| policy::standings(&mut conn, &names)
        .await
        .map_err(AppError::from))?;
    // Not a host name (an address literal such as `[2001:db8::1]`): no entry can name it,
    // so it is as open as the mode; in allowlist mode it is no partner. That is
    // `otherwise`. Deliveries go to whatever inbox an actor names, so this must not be
    // taken for "open".
    let by_authority = normalized
        .into_iter()
        .map(|(authority, name)| {
            let standing = name.map_or(found.otherwise, |n| found.of(&n));
            (authority, standing)
        })
        .collect();
    Ok(Standings {
        by_authority,
        otherwise: found.otherwise,
    })
}

/// The 403 for a domain this instance does not federate with, or nothing.
pub fn refusal(standing: DomainStanding, whose: &str) -> Option<AppError> {
    match standing {
        DomainStanding::Blocked => Some(AppError::forbidden(
            "domain_blocked",
            format!("this instance does not federate with {whose}'s domain"),
        )),
        DomainStanding::NotAllowed => Some(AppError::forbidden(
            "domain_not_allowed",
            format!(
                "this instance federates only with its partner instances, and {whose}'s domain is not one"
            ),
        )),
        DomainStanding::Open | DomainStanding::Partner => None,
    }
}

/// Refuses with 403 unless this instance federates with the domain of `authority`.
pub async fn ensure_federates(db: &Db, authority: &str, whose: &str) -> AppResult<()> {
    match refusal(standing(db, authority).await?, whose) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The mode and the size of both lists, for the admin page and API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub mode: FederationMode,
    pub blocked_domains: usize,
    pub partner_domains: usize,
}

pub async fn policy_view(db: &Db, session: &Session) -> AppResult<PolicyView> {
    session.require_staff()?;
    crate::with_conn!(db, |conn| {
        Ok::<_, AppError>(PolicyView {
            mode: policy::mode(&mut conn).await?,
            blocked_domains: domain_block::list(&mut conn).await?.len(),
            partner_domains: policy::list_allows(&mut conn).await?.len(),
        })
    })
}

/// Admins switch between federating with everyone not blocked and only with partners.
pub async fn set_mode(db: &Db, session: &Session, mode: FederationMode) -> AppResult<PolicyView> {
    session.require_admin()?;
    let now = crate::db::now();
    crate::with_conn!(db, |conn| policy::set_mode(&mut conn, mode, now)
        .await
        .map_err(AppError::from))?;
    policy_view(db, session).await
}

/// Blocks `domain` on `conn` and hides what its people wrote and the communities it hosts.
async fn block_on(
    conn: &mut DbConn<'_>,
    domain: &str,
    reason: Option<&str>,
    created_by: Option<i64>,
) -> AppResult<DomainBlock> {
    let block = domain_block::upsert(conn, domain, reason, created_by, crate::db::now()).await?;
    set_hidden(conn, domain, true).await?;
    Ok(block)
}

async fn set_hidden(conn: &mut DbConn<'_>, domain: &str, hidden: bool) -> AppResult<()> {
    let covered = policy::instances_covered(conn, domain).await?;
    for thread_id in policy::set_instances_hidden(conn, &covered, hidden).await? {
        thread::refresh_answer_counts(conn, thread_id).await?;
    }
    Ok(())
}

/// Admins block a domain (and its subdomains): nothing is fetched from or delivered to it,
/// its activities are refused with 403, and what is already stored from it is hidden.
pub async fn block_domain(
    db: &Db,
    session: &Session,
    domain: &str,
    reason: Option<&str>,
) -> AppResult<DomainBlock> {
    session.require_admin()?;
    let domain = normalize_domain(domain).ok_or_else(invalid_domain)?;
    let reason = clean_comment(reason)?;
    crate::transaction!(db, |conn| block_on(
        &mut conn,
        &domain,
        reason.as_deref(),
        Some(session.account.id)
    )
    .await)
}

/// Lifts a block; what was hidden by it shows again, except what moderators removed.
pub async fn unblock_domain(db: &Db, session: &Session, domain: &str) -> AppResult<()> {
    session.require_admin()?;
    let domain = normalize_domain(domain).ok_or_else(invalid_domain)?;
    crate::transaction!(db, |conn| {
        if !domain_block::delete(&mut conn, &domain).await? {
            return Err(AppError::not_found(
                "not_blocked",
                format!("{domain} is not blocked"),
            ));
        }
        if !domain_block::is_blocked(&mut conn, &domain).await? {
            set_hidden(&mut conn, &domain, false).await?;
        }
        Ok(())
    })
}

pub async fn list_domain_blocks(db: &Db, session: &Session) -> AppResult<Vec<DomainBlock>> {
    session.require_staff()?;
    crate::with_conn!(db, |conn| domain_block::list(&mut conn)
        .await
        .map_err(AppError::from))
}

/// Admins make a domain a partner: in allowlist mode one of the only domains this
/// instance federates with, and in any mode one that may read and follow `partners`
/// communities.
pub async fn allow_domain(
    db: &Db,
    session: &Session,
    domain: &str,
    comment: Option<&str>,
) -> AppResult<DomainAllow> {
    session.require_admin()?;
    let domain = normalize_domain(domain).ok_or_else(invalid_domain)?;
    let comment = clean_comment(comment)?;
    let now = crate::db::now();
    crate::with_conn!(db, |conn| policy::upsert_allow(
        &mut conn,
        &domain,
        comment.as_deref(),
        Some(session.account.id),
        now
    )
    .await
    .map_err(AppError::from))
}

pub async fn disallow_domain(db: &Db, session: &Session, domain: &str) -> AppResult<()> {
    session.require_admin()?;
    let domain = normalize_domain(domain).ok_or_else(invalid_domain)?;
    let removed = crate::with_conn!(db, |conn| policy::delete_allow(&mut conn, &domain)
        .await
        .map_err(AppError::from))?;
    if removed {
        Ok(())
    } else {
        Err(AppError::not_found(
            "not_a_partner",
            format!("{domain} is not a partner domain"),
        ))
    }
}

pub async fn list_domain_allows(db: &Db, session: &Session) -> AppResult<Vec<DomainAllow>> {
    session.require_staff()?;
    crate::with_conn!(db, |conn| policy::list_allows(&mut conn)
        .await
        .map_err(AppError::from))
}

/// Which list a CSV file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DomainList {
    Blocks,
    Allows,
}

fn csv_error(err: csv::Error) -> AppError {
    AppError::internal(err)
}

/// The list as Mastodon exports it (`#domain,#severity,...`): blocks as `suspend`, partners
/// as `noop`, so a partner list imported as blocks by mistake blocks nothing.
pub async fn export_csv(db: &Db, session: &Session, list: DomainList) -> AppResult<String> {
    session.require_staff()?;
    let rows: Vec<(String, Option<String>)> = match list {
        DomainList::Blocks => list_domain_blocks(db, session)
            .await?
            .into_iter()
            .map(|b| (b.domain, b.reason))
            .collect(),
        DomainList::Allows => list_domain_allows(db, session)
            .await?
            .into_iter()
            .map(|a| (a.domain, a.comment))
            .collect(),
    };
    let severity = match list {
        DomainList::Blocks => "suspend",
        DomainList::Allows => "noop",
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(csv_error)?;
    for (domain, comment) in rows {
        writer
            .write_record([
                domain.as_str(),
                severity,
                "false",
                "false",
                comment.as_deref().unwrap_or_default(),
                "false",
            ])
            .map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}

/// One CSV line that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SkippedLine {
    pub line: u64,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Domains added or whose comment was updated.
    pub imported: Vec<String>,
    pub skipped: Vec<SkippedLine>,
}

/// One domain a CSV file names, with its comment.
#[derive(Debug, Clone, PartialEq)]
struct CsvEntry {
    domain: String,
    comment: Option<String>,
}

/// Reads a Mastodon or GoToSocial domain list: a header naming `#domain` (the `#` is
/// optional) and optionally `#severity` and `#public_comment`, or no header and one domain
/// per line. For a block list, `silence` and `noop` rows are skipped: only `suspend` (or
/// no severity) means a block here.
fn parse_csv(text: &str, list: DomainList) -> AppResult<(Vec<CsvEntry>, Vec<SkippedLine>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(None)
        .from_reader(text.as_bytes());
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let mut columns: Option<(usize, Option<usize>, Option<usize>)> = None;
    let mut first = true;
    let mut count = 0usize;
    for record in reader.records() {
        let record = record.map_err(|e| {
            AppError::unprocessable("invalid_csv", format!("the file is not valid CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let names: Vec<String> = record
            .iter()
            .map(|c| c.trim_start_matches('#').to_ascii_lowercase())
            .collect();
        if first {
            first = false;
            if let Some(domain) = names.iter().position(|n| n == "domain") {
                let severity = names.iter().position(|n| n == "severity");
                let comment = names
                    .iter()
                    .position(|n| n == "public_comment")
                    .or_else(|| names.iter().position(|n| n == "comment"));
                columns = Some((domain, severity, comment));
                continue;
            }
        }
        count += 1;
        if count > IMPORT_MAX_ROWS {
            return Err(AppError::unprocessable(
                "too_many_rows",
                format!("a list imports at most {IMPORT_MAX_ROWS} domains at once"),
            ));
        }
        let (domain_at, severity_at, comment_at) = columns.unwrap_or((0, None, None));
        let value = record.get(domain_at).unwrap_or_default().to_owned();
        let skip = |reason: String| SkippedLine {
            line,
            value: value.clone(),
            reason,
        };
        let severity = severity_at
            .and_then(|i| record.get(i))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if list == DomainList::Blocks && !matches!(severity.as_str(), "" | "suspend") {
            skipped.push(skip(format!(
                "severity `{severity}` has no equivalent here; only `suspend` blocks"
            )));
            continue;
        }
        let Some(domain) = normalize_domain(&value) else {
            skipped.push(skip(
                "not a host name (obfuscated domains such as `sp*m.example` cannot be imported)"
                    .to_owned(),
            ));
            continue;
        };
        let comment = comment_at
            .and_then(|i| record.get(i))
            .filter(|c| !c.is_empty())
            .map(|c| c.chars().take(COMMENT_MAX_CHARS).collect());
        entries.push(CsvEntry { domain, comment });
    }
    Ok((entries, skipped))
}

/// Adds every domain of a CSV list (blocks or partners), in one transaction; lines that
/// cannot be imported are reported, not fatal. Existing entries not in the file stay.
pub async fn import_csv(
    db: &Db,
    session: &Session,
    list: DomainList,
    text: &str,
) -> AppResult<ImportReport> {
    session.require_admin()?;
    let (entries, skipped) = parse_csv(text, list)?;
    let by = Some(session.account.id);
    let imported = crate::transaction!(db, |conn| {
        let mut imported = Vec::with_capacity(entries.len());
        for entry in &entries {
            match list {
                DomainList::Blocks => {
                    block_on(&mut conn, &entry.domain, entry.comment.as_deref(), by).await?;
                }
                DomainList::Allows => {
                    let now = crate::db::now();
                    policy::upsert_allow(
                        &mut conn,
                        &entry.domain,
                        entry.comment.as_deref(),
                        by,
                        now,
                    )
                    .await?;
                }
            }
            imported.push(entry.domain.clone());
        }
        Ok::<_, AppError>(imported)
    })?;
    Ok(ImportReport { imported, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_before_they_are_compared() {
        assert_eq!(
            normalize_domain("Spam.Example."),
            Some("spam.example".to_owned())
        );
        assert_eq!(
            normalize_domain("https://spam.example/x"),
            Some("spam.example".to_owned())
        );
        assert_eq!(
            normalize_domain("localhost:8542"),
            Some("localhost:8542".to_owned())
        );
        assert_eq!(normalize_domain("localhost:0"), None);
        assert_eq!(normalize_domain("localhost:99999"), None);
        assert_eq!(normalize_domain("bad domain"), None);
        assert_eq!(normalize_domain(""), None);
        assert_eq!(normalize_domain("a..b"), None);
    }

    /// Issue #11 case 14: spellings of a domain the URL parser accepts are judged by the
    /// lists like the domain itself, and what no entry can name is no partner.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn case_14_odd_host_spellings_do_not_escape_the_lists() {
        crate::testing::for_each_backend(async |db| {
            let now = crate::db::now();
            async {
                crate::with_conn!(&db, |conn| {
                    domain_block::upsert(&mut conn, "spam.example", None, None, now).await?;
                    Ok::<_, AppError>(())
                })
            }
            .await
            .expect("blocked");
            for authority in [
                "spam.example",
                "SPAM.Example.",
                "x_y.spam.example",
                "x_y.spam.example:8443",
            ] {
                assert_eq!(
                    standing(&db, authority).await.expect("standing"),
                    DomainStanding::Blocked,
                    "{authority}"
                );
            }
            assert_eq!(
                standing(&db, "[2001:db8::1]:443").await.expect("standing"),
                DomainStanding::Open
            );
            // The same in one batch, keyed as asked, spellings and literals mixed.
            let asked = [
                "SPAM.Example.",
                "[2001:db8::1]:443",
                "x_y.spam.example:8443",
            ]
            .map(String::from);
            let batch = standings(&db, &asked).await.expect("standings");
            assert_eq!(batch.by_authority.len(), 3);
            assert_eq!(batch.of("SPAM.Example."), DomainStanding::Blocked);
            assert_eq!(batch.of("x_y.spam.example:8443"), DomainStanding::Blocked);
            assert_eq!(batch.of("[2001:db8::1]:443"), DomainStanding::Open);
            async {
                crate::with_conn!(&db, |conn| {
                    policy::set_mode(&mut conn, FederationMode::Allowlist, now).await?;
                    Ok::<_, AppError>(())
                })
            }
            .await
            .expect("allowlist mode");
            assert_eq!(
                standing(&db, "[2001:db8::1]:443").await.expect("standing"),
                DomainStanding::NotAllowed
            );
        })
        .await;
    }

    #[test]
    fn mastodon_block_lists_are_read_by_their_header() {
        let text = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
                    spam.example,suspend,false,false,\"Spam, lots\",false\n\
                    noisy.example,silence,false,false,,false\n\
                    sp*m.example,suspend,false,false,,true\n\
                    \n\
                    Old.Example.,,,,,\n";
        let (entries, skipped) = parse_csv(text, DomainList::Blocks).expect("parsed");
        assert_eq!(
            entries,
            vec![
                CsvEntry {
                    domain: "spam.example".to_owned(),
                    comment: Some("Spam, lots".to_owned())
                },
                CsvEntry {
                    domain: "old.example".to_owned(),
                    comment: None
                },
            ]
        );
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0].line, 3);
        assert!(skipped[0].reason.contains("silence"));
        assert_eq!(skipped[1].value, "sp*m.example");
    }

    #[test]
    fn allow_lists_take_any_severity_and_bare_domain_lists() {
        let text = "#domain,#severity,#public_comment\nacme.example,noop,Partner since 2026\n";
        let (entries, skipped) = parse_csv(text, DomainList::Allows).expect("parsed");
        assert_eq!(entries[0].domain, "acme.example");
        assert_eq!(entries[0].comment.as_deref(), Some("Partner since 2026"));
        assert!(skipped.is_empty());
        let (bare, _) =
            parse_csv("acme.example\nbeta.example\n", DomainList::Allows).expect("bare");
        assert_eq!(bare.len(), 2);
        let too_many = "x.example\n".repeat(IMPORT_MAX_ROWS + 1);
        let refused = parse_csv(&too_many, DomainList::Allows).expect_err("too many rows");
        assert_eq!(refused.code, "too_many_rows");
    }
}
