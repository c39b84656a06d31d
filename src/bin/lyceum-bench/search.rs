//! `lyceum-bench search`: a synthetic knowledge base loaded through the real schema, so the
//! real index triggers fill `thread_search` and `answer_search`, then `service::search`
//! timed per query class.
//!
//! The text is deterministic (seeded): the 40 most frequent words are real English stop
//! words, as in real text (about half of all words), then a few thousand pronounceable
//! made-up words with Zipf frequencies (the n-th most frequent word occurs about 1/n as
//! often as the first). Made-up words all end in `a`, `o` or `u`, which neither stemmer
//! (FTS5's porter, PostgreSQL's english snowball) shortens, so one word is one index term
//! and query words match what their frequency says on both backends.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use lyceum::db::{DatabaseLocation, Db, SqliteConn};
use lyceum::service::search::{SearchRequest, search, similar};
use lyceum::settings::Settings;

use crate::Scratch;

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Answers to load; threads are a fifth of that.
    #[arg(long, default_value_t = 1_000_000)]
    pub answers: usize,
    /// Timed queries per class, after a warm-up.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// A class stops early after this many seconds (slow classes on big databases);
    /// `count` in the table says how many ran.
    #[arg(long, default_value_t = 120)]
    pub class_seconds: u64,
    /// A PostgreSQL server URL (a scratch database is made on it and dropped); without
    /// it, a SQLite file in the temporary folder.
    #[arg(long, env = "LYCEUM_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Keep the scratch database and print how to measure it again.
    #[arg(long)]
    pub keep: bool,
    /// Measure a database kept by an earlier run (its own URL or SQLite path) instead of
    /// loading one; `--answers`, `--database-url` and `--keep` are then ignored.
    #[arg(long)]
    pub existing: Option<String>,
}

/// "Lyceum" in ASCII: any fixed value gives the same data on every run.
const SEED: u64 = 0x4c79_6365_756d;

const STOP_WORDS: [&str; 40] = [
    "the", "to", "a", "is", "i", "it", "of", "and", "in", "you", "that", "for", "on", "with",
    "this", "how", "do", "can", "not", "be", "what", "my", "when", "are", "from", "as", "but",
    "or", "if", "why", "an", "there", "does", "have", "at", "should", "which", "will", "so", "all",
];
const CONTENT_WORDS: usize = 6_000;
/// "Common" query words: the most frequent non-stop words, each in about 7-10 % of answers
/// (like "error" or "async" on a programming Q&A).
const COMMON_RANKS: std::ops::Range<usize> = STOP_WORDS.len()..STOP_WORDS.len() + 20;
/// "Rare" query words: the least frequent thousand, each in well under 0.1 % of answers.
const RARE_COUNT: usize = 1_000;
const COMMUNITIES: usize = 20;
const PERSONS: usize = 5_000;
const TAGS: usize = 200;
const ANSWERS_PER_THREAD: usize = 5;
const THREADS_PER_TRANSACTION: usize = 5_000;
const ROWS_PER_INSERT: usize = 1_000;
const WARM_UP_PER_CLASS: usize = 20;
/// A warm-up stops early after this long: reading the index once is what it is for.
const WARM_UP_SECONDS: u64 = 10;
const DOMAIN: &str = "bench.example";

/// SplitMix64: tiny, fast and good enough for synthetic text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Vocabulary {
    words: Vec<String>,
    /// Cumulative Zipf probabilities, by rank.
    cdf: Vec<f64>,
}

impl Vocabulary {
    fn new() -> Vocabulary {
        const CONSONANTS: &[u8] = b"bdfgklmnprtvz";
        const VOWELS: &[u8] = b"aeiou";
        const FINAL_VOWELS: &[u8] = b"aou";
        let mut rng = Rng(SEED ^ 0x766f_6361_6275_6c61);
        let mut words: Vec<String> = STOP_WORDS.iter().map(|w| (*w).to_owned()).collect();
        let mut seen: HashSet<String> = words.iter().cloned().collect();
        while words.len() < STOP_WORDS.len() + CONTENT_WORDS {
            let syllables = if rng.below(3) == 0 { 2 } else { 3 };
            let mut word = String::new();
            for n in 0..syllables {
                word.push(CONSONANTS[rng.below(CONSONANTS.len())] as char);
                let vowels = if n + 1 == syllables {
                    FINAL_VOWELS
                } else {
                    VOWELS
                };
                word.push(vowels[rng.below(vowels.len())] as char);
            }
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Vocabulary { words, cdf }
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c < u)
            .min(self.words.len() - 1)
    }

    /// A word that is not a stop word, with the same relative frequencies.
    fn draw_content(&self, rng: &mut Rng) -> usize {
        loop {
            let word = self.draw(rng);
            if word >= STOP_WORDS.len() {
                return word;
            }
        }
    }

    /// `count` different non-stop words, as a search query.
    fn content_words(&self, rng: &mut Rng, count: usize) -> String {
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < count {
            let word = self.draw_content(rng);
            if !picked.contains(&word) {
                picked.push(word);
            }
        }
        picked
            .iter()
            .map(|&w| self.words[w].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `count` words with a full stop now and then; the word indexes go to `used`.
    fn text(&self, rng: &mut Rng, count: usize, out: &mut String, used: &mut Vec<usize>) {
        let mut sentence = 0;
        let end = rng.between(8, 14);
        for n in 0..count {
            let word = self.draw(rng);
            used.push(word);
            if n > 0 {
                out.push(' ');
            }
            out.push_str(&self.words[word]);
            sentence += 1;
            if sentence == end && n + 1 < count {
                out.push('.');
                sentence = 0;
            }
        }
        out.push('.');
    }

    fn title(&self, rng: &mut Rng) -> String {
        let mut title = String::new();
        let count = rng.between(5, 10);
        for n in 0..count {
            if n > 0 {
                title.push(' ');
            }
            title.push_str(&self.words[self.draw(rng)]);
        }
        title.push('?');
        title
    }

    fn tag(&self, n: usize) -> &str {
        // Mid-frequency words, so tags are also words of the text.
        &self.words[STOP_WORDS.len() + 50 + n]
    }
}

/// A connection used only to load, outside the application's pool.
enum Loader {
    Sqlite(SqliteConn),
    Postgres(Box<AsyncPgConnection>),
}

#[derive(diesel::QueryableByName)]
struct Scalar {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

impl Loader {
    async fn open(url: &str) -> anyhow::Result<Loader> {
        Ok(match DatabaseLocation::parse(url)? {
            DatabaseLocation::Sqlite(path) => {
                let mut conn = SqliteConn::establish(&path.to_string_lossy()).await?;
                // Scratch data: a crash mid-load loses nothing worth keeping, and the
                // loading connection alone goes without fsync (the server's never does).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = OFF; \
                     PRAGMA cache_size = -262144;",
                )
                .await?;
                Loader::Sqlite(conn)
            }
            DatabaseLocation::Postgres(url) => {
                let mut conn = AsyncPgConnection::establish(&url).await?;
                conn.batch_execute("SET synchronous_commit = off").await?;
                Loader::Postgres(Box::new(conn))
            }
        })
    }

    async fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Loader::Sqlite(c) => c.batch_execute(sql).await?,
            Loader::Postgres(c) => c.batch_execute(sql).await?,
        }
        Ok(())
    }

    /// The `value` column of a one-row query.
    async fn scalar(&mut self, sql: &str) -> anyhow::Result<i64> {
        let row: Scalar = match self {
            Loader::Sqlite(c) => diesel::sql_query(sql).get_result(c).await?,
            Loader::Postgres(c) => diesel::sql_query(sql).get_result(c).await?,
        };
        Ok(row.value)
    }
}

/// Multi-row INSERTs of at most [`ROWS_PER_INSERT`] rows, appended to one SQL script.
struct Inserts {
    head: &'static str,
    rows: usize,
    sql: String,
}

impl Inserts {
    fn new(head: &'static str) -> Inserts {
        Inserts {
            head,
            rows: 0,
            sql: String::new(),
        }
    }

    /// Starts a row; the caller writes its parenthesized values into the returned buffer.
    fn row(&mut self) -> &mut String {
        if self.rows.is_multiple_of(ROWS_PER_INSERT) {
            if self.rows > 0 {
                self.sql.push_str(";\n");
            }
            self.sql.push_str(self.head);
            self.sql.push_str(" VALUES ");
        } else {
            self.sql.push(',');
        }
        self.rows += 1;
        &mut self.sql
    }

    /// The script so far, ready to run, and an empty buffer for the next.
    fn take(&mut self) -> String {
        if self.rows > 0 {
            self.sql.push_str(";\n");
        }
        self.rows = 0;
        std::mem::take(&mut self.sql)
    }
}

fn timestamp(seconds: usize) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date");
    (base + chrono::TimeDelta::seconds(seconds as i64))
        .format("'%Y-%m-%d %H:%M:%S'")
        .to_string()
}

const THREAD_COLUMNS: &str = "INSERT INTO threads (id, ap_id, local, community_id, author_id, \
    kind, title, body, body_html, locked, deleted, removed, score, upvotes, downvotes, \
    answer_count, accepted_answer_count, last_activity_at, published)";
const ANSWER_COLUMNS: &str = "INSERT INTO answers (id, ap_id, local, thread_id, parent_id, \
    author_id, depth, body, body_html, accepted, accepted_at, score, upvotes, downvotes, \
    deleted, removed, published)";
const THREAD_TAG_COLUMNS: &str = "INSERT INTO thread_tags (thread_id, tag_id)";

struct Loaded {
    threads: usize,
    solved: usize,
    /// Per word: how many answers contain it.
    answer_frequency: Vec<u32>,
}

/// A score skewed towards zero, as votes are.
fn score(rng: &mut Rng, max: f64) -> i64 {
    (rng.unit().powi(3) * max) as i64
}

/// Loads persons, communities, tags, then threads with their answers and tags in
/// transactions of [`THREADS_PER_TRANSACTION`] threads, through the real tables so the
/// search triggers index every row as production does.
async fn load(
    loader: &mut Loader,
    vocab: &Vocabulary,
    answers: usize,
    public_url: &str,
) -> anyhow::Result<Loaded> {
    let mut rng = Rng(SEED);
    let instance = loader
        .scalar("SELECT id AS value FROM instances WHERE local")
        .await?;
    let created = timestamp(0);

    let mut script = String::from("BEGIN;\n");
    let mut names = Inserts::new("INSERT INTO local_actor_names (name, kind)");
    let mut persons = Inserts::new(
        "INSERT INTO persons (id, ap_id, local, instance_id, name, name_lower, inbox_url, \
         public_key_pem, bot, deleted, published, last_refreshed_at)",
    );
    for id in 1..=PERSONS {
        let name = format!("user{id:04}");
        write!(
            persons.row(),
            "({id}, '{public_url}/u/{name}', TRUE, {instance}, '{name}', '{name}', \
             '{public_url}/u/{name}/inbox', 'bench key', FALSE, FALSE, {created}, {created})"
        )?;
        write!(names.row(), "('{name}', 'person')")?;
    }
    script += &persons.take();
    let mut communities = Inserts::new(
        "INSERT INTO communities (id, ap_id, local, instance_id, name, name_lower, title, kind, \
         visibility, posting_restricted_to_mods, inbox_url, public_key_pem, deleted, published, \
         last_refreshed_at)",
    );
    for id in 1..=COMMUNITIES {
        let name = community_name(id);
        write!(
            communities.row(),
            "({id}, '{public_url}/c/{name}', TRUE, {instance}, '{name}', '{name}', \
             'Community {id}', 'qa', 'public', FALSE, '{public_url}/c/{name}/inbox', \
             'bench key', FALSE, {created}, {created})"
        )?;
        write!(names.row(), "('{name}', 'community')")?;
    }
    script += &communities.take();
    script += &names.take();
    let mut tags = Inserts::new("INSERT INTO tags (id, name, created_at)");
    for n in 0..TAGS {
        write!(tags.row(), "({}, '{}', {created})", n + 1, vocab.tag(n))?;
    }
    script += &tags.take();
    script += "COMMIT;\n";
    loader.exec(&script).await?;

    let threads = (answers / ANSWERS_PER_THREAD).max(1);
    // Each answer goes to a thread at random, so a few threads have none (unanswered).
    let mut answer_counts = vec![0usize; threads];
    for _ in 0..answers {
        answer_counts[rng.below(threads)] += 1;
    }
    let mut loaded = Loaded {
        threads,
        solved: 0,
        answer_frequency: vec![0; vocab.words.len()],
    };
    // The last answer that contained each word, so a word counts once per answer.
    let mut last_seen = vec![0usize; vocab.words.len()];
    let mut thread_rows = Inserts::new(THREAD_COLUMNS);
    let mut answer_rows = Inserts::new(ANSWER_COLUMNS);
    let mut tag_rows = Inserts::new(THREAD_TAG_COLUMNS);
    let mut answer_id = 0usize;
    let mut used = Vec::new();
    let mut body = String::new();
    let started = Instant::now();
    let mut reported = 0;
    for (index, &count) in answer_counts.iter().enumerate() {
        let thread_id = index + 1;
        let published = thread_id * 120;
        let accepted = (count > 0 && rng.unit() < 0.3).then(|| rng.below(count));
        loaded.solved += usize::from(accepted.is_some());
        let title = vocab.title(&mut rng);
        body.clear();
        let words = rng.between(20, 80);
        vocab.text(&mut rng, words, &mut body, &mut used);
        used.clear();
        let thread_score = score(&mut rng, 60.0);
        write!(
            thread_rows.row(),
            "({thread_id}, '{public_url}/t/{thread_id}', TRUE, {community}, {author}, \
             'question', '{title}', '{body}', '<p>{body}</p>', FALSE, FALSE, FALSE, \
             {thread_score}, {thread_score}, 0, {count}, {solved}, {last}, {published_at})",
            community = rng.between(1, COMMUNITIES),
            author = rng.between(1, PERSONS),
            solved = usize::from(accepted.is_some()),
            last = timestamp(published + count * 3_600),
            published_at = timestamp(published),
        )?;
        let mut thread_tags = Vec::new();
        for _ in 0..rng.below(4) {
            // Skewed towards the first tags, as real tags are.
            let tag = rng.below(TAGS).min(rng.below(TAGS)) + 1;
            if !thread_tags.contains(&tag) {
                thread_tags.push(tag);
                write!(tag_rows.row(), "({thread_id}, {tag})")?;
            }
        }
        for n in 0..count {
            answer_id += 1;
            body.clear();
            let words = rng.between(20, 60);
            vocab.text(&mut rng, words, &mut body, &mut used);
            for &word in &used {
                if last_seen[word] != answer_id {
                    last_seen[word] = answer_id;
                    loaded.answer_frequency[word] += 1;
                }
            }
            used.clear();
            let at = published + (n + 1) * 3_600;
            let is_accepted = accepted == Some(n);
            let accepted_at = if is_accepted {
                timestamp(at + 600)
            } else {
                "NULL".to_owned()
            };
            let answer_score = score(&mut rng, 30.0) + if is_accepted { 3 } else { 0 };
            write!(
                answer_rows.row(),
                "({answer_id}, '{public_url}/a/{answer_id}', TRUE, {thread_id}, NULL, {author}, \
                 0, '{body}', '<p>{body}</p>', {is_accepted}, {accepted_at}, {answer_score}, \
                 {answer_score}, 0, FALSE, FALSE, {at})",
                author = rng.between(1, PERSONS),
                at = timestamp(at),
            )?;
        }
        if thread_id.is_multiple_of(THREADS_PER_TRANSACTION) || thread_id == threads {
            let script = format!(
                "BEGIN;\n{}{}{}COMMIT;\n",
                thread_rows.take(),
                answer_rows.take(),
                tag_rows.take()
            );
            loader.exec(&script).await?;
            if answer_id - reported >= 100_000 || thread_id == threads {
                reported = answer_id;
                eprintln!(
                    "  {answer_id} answers, {thread_id} threads in {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(loaded)
}

fn community_name(id: usize) -> String {
    format!("community{id:02}")
}

/// Brings the freshly loaded database to what a running server's would be: PostgreSQL's
/// autovacuum would have vacuumed (flushing GIN pending lists) and analyzed the tables;
/// SQLite's WAL would have been checkpointed.
async fn settle(loader: &mut Loader) -> anyhow::Result<()> {
    match loader {
        Loader::Sqlite(_) => loader.exec("PRAGMA wal_checkpoint(TRUNCATE)").await,
        Loader::Postgres(_) => {
            loader.exec("VACUUM ANALYZE").await?;
            // Ids were given explicitly: move the identity sequences past them, so the
            // kept database accepts new rows.
            for table in ["persons", "communities", "threads", "answers", "tags"] {
                loader
                    .exec(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         (SELECT max(id) FROM {table}))"
                    ))
                    .await?;
            }
            Ok(())
        }
    }
}

/// The database's size and its full-text index's share, in bytes.
async fn sizes(loader: &mut Loader) -> anyhow::Result<(i64, Option<i64>)> {
    match loader {
        Loader::Sqlite(_) => {
            let total = loader
                .scalar(
                    "SELECT page_count * page_size AS value \
                     FROM pragma_page_count(), pragma_page_size()",
                )
                .await?;
            // dbstat is optional in SQLite builds; without it the share is unknown.
            let index = loader
                .scalar(
                    "SELECT coalesce(sum(pgsize), 0) AS value FROM dbstat \
                     WHERE name LIKE 'thread_search%' OR name LIKE 'answer_search%'",
                )
                .await
                .ok();
            Ok((total, index))
        }
        Loader::Postgres(_) => {
            let total = loader
                .scalar("SELECT pg_database_size(current_database()) AS value")
                .await?;
            let index = loader
                .scalar(
                    "SELECT pg_total_relation_size('thread_search') \
                     + pg_total_relation_size('answer_search') AS value",
                )
                .await?;
            Ok((total, Some(index)))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Common,
    Rare,
    TwoWords,
    ThreeWords,
    Solved,
    Community,
    Similar,
}

const CLASSES: [Class; 7] = [
    Class::Common,
    Class::Rare,
    Class::TwoWords,
    Class::ThreeWords,
    Class::Solved,
    Class::Community,
    Class::Similar,
];

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Common => "common word",
            Class::Rare => "rare word",
            Class::TwoWords => "two words",
            Class::ThreeWords => "three words",
            Class::Solved => "common, solved",
            Class::Community => "common, community",
            Class::Similar => "similar (title)",
        }
    }
}

struct Query {
    class: Class,
    text: String,
    community: Option<String>,
}

fn queries(vocab: &Vocabulary, per_class: usize) -> Vec<Query> {
    let mut rng = Rng(SEED ^ 0x7175_6572_6965_7321);
    let mut all = Vec::new();
    for class in CLASSES {
        for _ in 0..per_class {
            // Drawn for every class, so each class's queries stay the same whatever the
            // others do.
            let common_word =
                vocab.words[COMMON_RANKS.start + rng.below(COMMON_RANKS.len())].clone();
            let (text, community) = match class {
                Class::Common | Class::Solved => (common_word, None),
                Class::Community => (
                    common_word,
                    Some(community_name(rng.between(1, COMMUNITIES))),
                ),
                Class::Rare => (
                    vocab.words[vocab.words.len() - 1 - rng.below(RARE_COUNT)].clone(),
                    None,
                ),
                Class::TwoWords => (vocab.content_words(&mut rng, 2), None),
                Class::ThreeWords => (vocab.content_words(&mut rng, 3), None),
                Class::Similar => (
                    vocab.title(&mut rng),
                    Some(community_name(rng.between(1, COMMUNITIES))),
                ),
            };
            all.push(Query {
                class,
                text,
                community,
            });
        }
    }
    all
}

/// Runs one query through the service, as the API would; returns how many results came.
async fn run(db: &Db, settings: &Settings, query: &Query) -> anyhow::Result<usize> {
    let found = match query.class {
        Class::Similar => similar(
            db,
            settings,
            None,
            query.community.as_deref().unwrap_or_default(),
            &query.text,
        )
        .await
        .map(|results| results.len()),
        class => search(
            db,
            settings,
            None,
            SearchRequest {
                q: &query.text,
                community: query.community.as_deref(),
                solved: (class == Class::Solved).then_some(true),
                ..Default::default()
            },
        )
        .await
        .map(|page| page.results.len()),
    };
    found.map_err(|e| anyhow::anyhow!("{:?}: {}", query.text, e.message))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1_000.0
}

fn megabytes(bytes: i64) -> String {
    format!("{:.0} MB", bytes as f64 / 1_048_576.0)
}

/// The figures `all` puts in its table.
pub struct Summary {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub slowest_class: &'static str,
    pub slowest_p95_ms: f64,
}

pub async fn bench(options: Options) -> anyhow::Result<Summary> {
    let vocab = Vocabulary::new();
    let (scratch, url) = match &options.existing {
        Some(url) => (None, url.clone()),
        None => {
            let (scratch, url) = Scratch::create(options.database_url.as_deref(), 0).await?;
            (Some(scratch), url)
        }
    };
    let mut settings = Settings {
        domain: DOMAIN.to_owned(),
        ..Settings::default()
    };
    settings.database.url = url.clone();
    let db = lyceum::app::open_database(&settings).await?;
    let backend = db.backend();
    let mut loader = Loader::open(&url).await?;
    if options.existing.is_none() {
        eprintln!("loading {} answers into {backend}", options.answers);
        let started = Instant::now();
        let loaded = load(&mut loader, &vocab, options.answers, &settings.public_url()).await?;
        let loading = started.elapsed();
        let settling = Instant::now();
        settle(&mut loader).await?;
        let settling = settling.elapsed();
        println!(
            "search: {backend}, {} answers in {} threads ({} solved), {COMMUNITIES} \
             communities, {PERSONS} persons, {TAGS} tags, vocabulary {} words",
            options.answers,
            loaded.threads,
            loaded.solved,
            vocab.words.len()
        );
        let frequency = |ranks: &mut dyn Iterator<Item = usize>| {
            let counts: Vec<u32> = ranks.map(|r| loaded.answer_frequency[r]).collect();
            (
                counts.iter().copied().min().unwrap_or(0),
                counts.iter().copied().max().unwrap_or(0),
            )
        };
        let common = frequency(&mut COMMON_RANKS.clone());
        let rare = frequency(&mut (vocab.words.len() - RARE_COUNT..vocab.words.len()));
        println!(
            "answers containing a common query word: {}-{}; a rare one: {}-{}",
            common.0, common.1, rare.0, rare.1
        );
        println!(
            "load {:.0} s (rows and index triggers), then {:.0} s to settle ({})",
            loading.as_secs_f64(),
            settling.as_secs_f64(),
            match backend {
                lyceum::db::Backend::Sqlite => "WAL checkpoint",
                lyceum::db::Backend::Postgres => "VACUUM ANALYZE",
            }
        );
    } else {
        println!("search: {backend}, existing database {url}");
    }
    let answers = loader
        .scalar("SELECT count(*) AS value FROM answers")
        .await?;
    let (total, index) = sizes(&mut loader).await?;
    println!(
        "database {}, of which full-text index tables {}",
        megabytes(total),
        index.map_or("unknown".to_owned(), megabytes)
    );
    drop(loader);

    let all = queries(&vocab, options.queries);
    for class in CLASSES {
        let started = Instant::now();
        for query in all
            .iter()
            .filter(|q| q.class == class)
            .take(WARM_UP_PER_CLASS)
        {
            run(&db, &settings, query).await?;
            if started.elapsed() > Duration::from_secs(WARM_UP_SECONDS) {
                break;
            }
        }
    }
    let budget = Duration::from_secs(options.class_seconds);
    println!(
        "{:<10} {:>9} {:<18} {:>6} {:>8} {:>9} {:>9} {:>9}",
        "backend", "answers", "class", "count", "results", "p50 ms", "p95 ms", "p99 ms"
    );
    let mut everything = Vec::new();
    let mut slowest = ("", 0.0);
    for class in CLASSES {
        let mut times = Vec::new();
        let mut results = 0;
        let class_started = Instant::now();
        for query in all.iter().filter(|q| q.class == class) {
            let started = Instant::now();
            results += run(&db, &settings, query).await?;
            times.push(started.elapsed());
            if class_started.elapsed() > budget {
                break;
            }
        }
        everything.extend_from_slice(&times);
        let (_, p95) = print_row(backend, answers, class.label(), &mut times, Some(results));
        if p95 > slowest.1 {
            slowest = (class.label(), p95);
        }
    }
    let (p50_ms, p95_ms) = print_row(backend, answers, "all", &mut everything, None);
    db.close();
    if let Some(scratch) = scratch {
        if options.keep {
            println!("kept: measure it again with --existing {url}");
        } else {
            scratch.drop().await?;
        }
    }
    Ok(Summary {
        p50_ms,
        p95_ms,
        slowest_class: slowest.0,
        slowest_p95_ms: slowest.1,
    })
}

fn print_row(
    backend: lyceum::db::Backend,
    answers: i64,
    class: &str,
    times: &mut [Duration],
    results: Option<usize>,
) -> (f64, f64) {
    times.sort();
    let mean_results = results.map_or(String::new(), |r| {
        format!("{:.1}", r as f64 / times.len().max(1) as f64)
    });
    println!(
        "{:<10} {answers:>9} {class:<18} {:>6} {mean_results:>8} {:>9.1} {:>9.1} {:>9.1}",
        backend.to_string(),
        times.len(),
        percentile(times, 0.50),
        percentile(times, 0.95),
        percentile(times, 0.99),
    );
    (percentile(times, 0.50), percentile(times, 0.95))
}
