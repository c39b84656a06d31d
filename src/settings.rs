//! Configuration: built-in defaults < TOML file < `LYCEUM_*` environment, validated at start.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables with the `LYCEUM_` prefix that belong to tooling, not to the
/// configuration; every other `LYCEUM_*` variable must name a configuration key.
const NON_CONFIG_ENV: &[&str] = &[
    "config",
    "fixtures",
    "test_database_url",
    "peer_home",
    "bench_database_url",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Public host name (with `:port` when not 443/80) that every ActivityPub id is built on.
    pub domain: String,
    /// Address and port the HTTP server listens on.
    pub bind: SocketAddr,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub federation: FederationSettings,
    pub registration: RegistrationSettings,
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub metrics: MetricsSettings,
    pub knowledge: KnowledgeSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeSettings {
    /// A question with no answer for this many hours joins the unanswered queue.
    pub unanswered_after_hours: u32,
}

impl Default for KnowledgeSettings {
    fn default() -> Self {
        KnowledgeSettings {
            unanswered_after_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address for a Prometheus `/metrics` listener, apart from the public port; none by
    /// default, so nothing about the queue is public.
    pub bind: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://` or `postgresql://` selects PostgreSQL; anything else is a SQLite file path.
    pub url: String,
    /// Connections kept open at most.
    pub pool_size: u32,
    /// Seconds to wait for a connection (new or from the pool) before the request fails.
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub body_limit_bytes: usize,
    /// Seconds a request may take before the server gives up on it.
    pub request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Take the client address from `X-Forwarded-For` / `X-Real-IP` / `Forwarded` (only
    /// behind a reverse proxy that sets them; otherwise clients could pick their address).
    pub trust_proxy_headers: bool,
    /// Connections open at once at most; more wait in the kernel's listen queue.
    pub max_connections: u32,
    /// Seconds a thread, community or profile page rendered for a visitor who is not signed
    /// in and holds no pre-session token is served again to other such visitors; 0 renders
    /// every request.
    pub anonymous_page_cache_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `RUST_LOG`-style filter; the `RUST_LOG` variable, when set, wins.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationSettings {
    /// Development only: allows `http://` and `localhost:PORT` peers. Refused unless the
    /// domain is `localhost[:port]`.
    pub debug: bool,
    /// Authorized fetch: ActivityPub JSON of communities, people, threads and answers is
    /// served only to requests signed by a remote actor (the instance actor, WebFinger and
    /// NodeInfo stay public). Pages for browsers are unaffected.
    pub require_signed_fetch: bool,
    /// An instance with no successful delivery for this many days is marked dead: its
    /// deliveries are kept but not attempted until it sends us an activity or answers a
    /// NodeInfo probe.
    pub dead_after_days: u32,
    /// Deliveries this process sends at once, over all instances.
    pub delivery_concurrency: u32,
    /// Deliveries this process sends at once to one instance.
    pub delivery_per_instance: u32,
    /// Days confirmed deliveries are kept (for the admin's counts) before they are pruned;
    /// failed ones are kept.
    pub delivered_retention_days: u32,
}

impl Default for FederationSettings {
    fn default() -> FederationSettings {
        FederationSettings {
            debug: false,
            require_signed_fetch: false,
            dead_after_days: 3,
            delivery_concurrency: 64,
            delivery_per_instance: 8,
            delivered_retention_days: 7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationSettings {
    pub mode: RegistrationMode,
    /// Asked of every applicant in `approval` mode; the answer is shown to admins.
    pub application_question: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Days an API token from `POST /api/v1/auth/login` stays valid.
    pub token_ttl_days: u32,
    /// Days a web session cookie stays valid.
    pub session_ttl_days: u32,
}

/// Highest `rate_limit.*_per_second`: a million a second is no limit at all, and more would
/// round the interval between two requests down to zero.
pub const MAX_PER_SECOND: u32 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Sign-in and sign-up attempts one client address may make in a burst.
    pub auth_burst: u32,
    /// Seconds until one more attempt is allowed after the burst is used.
    pub auth_period_secs: u64,
    /// `/api/v1` requests one client address may make in a burst (reads and writes alike).
    pub api_burst: u32,
    /// `/api/v1` requests per second one client address may keep making after the burst.
    pub api_per_second: u32,
    /// Inbox POSTs one client address may make in a burst, whichever instance they claim.
    pub inbox_burst: u32,
    /// Inbox POSTs per second one client address may keep making after the burst.
    pub inbox_per_second: u32,
    /// Inbox POSTs one origin instance (the host of the signature's keyId) may make in a
    /// burst, from any number of addresses.
    pub instance_burst: u32,
    /// Inbox POSTs per second one origin instance may keep making after the burst.
    pub instance_per_second: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    Open,
    Approval,
    Invite,
    Closed,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            domain: "localhost:8080".to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseSettings::default(),
            http: HttpSettings::default(),
            log: LogSettings::default(),
            federation: FederationSettings::default(),
            registration: RegistrationSettings::default(),
            auth: AuthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            metrics: MetricsSettings::default(),
            knowledge: KnowledgeSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "./data/lyceum.db".to_owned(),
            pool_size: 8,
            connect_timeout_secs: 5,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            trust_proxy_headers: false,
            max_connections: 1024,
            anonymous_page_cache_secs: 1,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            filter: "info".to_owned(),
            format: LogFormat::Pretty,
        }
    }
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        RegistrationSettings {
            mode: RegistrationMode::Open,
            application_question:
                "Why would you like to join, and what do you hope to learn or share here?"
                    .to_owned(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_ttl_days: 90,
            session_ttl_days: 30,
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            auth_burst: 10,
            auth_period_secs: 6,
            // A school or office shares one address: 30 people each opening a page that
            // makes ~10 calls is a burst of 300, and one call per person per second is 30/s.
            // One client alone at 30/s costs the server little; a scraper is held to that.
            api_burst: 300,
            api_per_second: 30,
            // Per address, above the per-instance limit: shared hosting puts several
            // instances behind one address, so the address must fit more than one of them.
            inbox_burst: 400,
            inbox_per_second: 100,
            // One instance's normal peak is a few activities a second. A big instance
            // catching up after an outage sends its backlog as fast as we answer, and
            // 429 slows it (senders retry later) rather than losing anything, so the
            // limit only has to stop a flood: 200 at once, then 50/s, is 10x a busy peak.
            instance_burst: 200,
            instance_per_second: 50,
        }
    }
}

/// A configuration problem, naming the key and where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `database.url`; empty when the problem is not about one key.
    pub key: String,
    /// Where the value came from: a file path, an environment variable, or the defaults.
    pub source: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(
                f,
                "configuration error in {}: {}",
                self.source, self.message
            )
        } else {
            write!(
                f,
                "configuration error: key `{}` (from {}): {}",
                self.key, self.source, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Loads defaults, then the file (if given), then the environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (tests use this).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError {
                    key: String::new(),
                    source: format!("file {}", path.display()),
                    message: "the configuration file does not exist or is not a file".into(),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        for (var, value) in env {
            if let Some(provider) = EnvVar::parse(&var, &value) {
                figment = figment.merge(provider);
            }
        }
        let settings: Settings = figment.extract().map_err(|e| from_figment(&figment, e))?;
        settings.validate(&figment)?;
        Ok(settings)
    }

    fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        let fail = |key: &str, message: String| ConfigError {
            key: key.to_owned(),
            source: source_of(figment, key),
            message,
        };
        parse_domain(&self.domain).map_err(|m| fail("domain", m))?;
        if self.federation.debug && !is_localhost(&self.domain) {
            return Err(fail(
                "federation.debug",
                format!(
                    "federation.debug is for development only and is refused with the public domain `{}`; use a `localhost[:port]` domain or turn it off",
                    self.domain
                ),
            ));
        }
        if self.database.url.trim().is_empty() {
            return Err(fail(
                "database.url",
                "must be a postgres:// URL or a SQLite file path".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(fail("database.pool_size", "must be at least 1".into()));
        }
        if self.database.connect_timeout_secs == 0 {
            return Err(fail(
                "database.connect_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(fail(
                "http.body_limit_bytes",
                "must be at least 1024 bytes".into(),
            ));
        }
        if self.http.max_connections == 0 {
            return Err(fail("http.max_connections", "must be at least 1".into()));
        }
        if self.http.anonymous_page_cache_secs > 3600 {
            return Err(fail(
                "http.anonymous_page_cache_secs",
                "must be at most 3600 (an hour)".into(),
            ));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(fail(
                "http.request_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        for (key, value) in [
            (
                "federation.dead_after_days",
                self.federation.dead_after_days,
            ),
            (
                "federation.delivery_concurrency",
                self.federation.delivery_concurrency,
            ),
            (
                "federation.delivery_per_instance",
                self.federation.delivery_per_instance,
            ),
            (
                "federation.delivered_retention_days",
                self.federation.delivered_retention_days,
            ),
        ] {
            if value == 0 {
                return Err(fail(key, "must be at least 1".into()));
            }
        }
        if self.auth.token_ttl_days == 0 {
            return Err(fail("auth.token_ttl_days", "must be at least 1".into()));
        }
        if self.auth.session_ttl_days == 0 {
            return Err(fail("auth.session_ttl_days", "must be at least 1".into()));
        }
        for (key, value) in [
            ("rate_limit.auth_burst", self.rate_limit.auth_burst),
            ("rate_limit.api_burst", self.rate_limit.api_burst),
            ("rate_limit.inbox_burst", self.rate_limit.inbox_burst),
            ("rate_limit.instance_burst", self.rate_limit.instance_burst),
        ] {
            if value == 0 {
                return Err(fail(key, "must be at least 1".into()));
            }
        }
        for (key, value) in [
            ("rate_limit.api_per_second", self.rate_limit.api_per_second),
            (
                "rate_limit.inbox_per_second",
                self.rate_limit.inbox_per_second,
            ),
            (
                "rate_limit.instance_per_second",
                self.rate_limit.instance_per_second,
            ),
        ] {
            if value == 0 || value > MAX_PER_SECOND {
                return Err(fail(key, format!("must be between 1 and {MAX_PER_SECOND}")));
            }
        }
        if self.rate_limit.auth_period_secs == 0 {
            return Err(fail(
                "rate_limit.auth_period_secs",
                "must be at least 1".into(),
            ));
        }
        if self.registration.application_question.trim().is_empty() {
            return Err(fail(
                "registration.application_question",
                "must not be empty".into(),
            ));
        }
        crate::db::DatabaseLocation::parse(&self.database.url)
            .map_err(|e| fail("database.url", e.to_string()))?;
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| fail("log.filter", format!("not a valid log filter: {e}")))?;
        Ok(())
    }

    /// The base URL every local ActivityPub id starts with.
    pub fn public_url(&self) -> String {
        let scheme = if is_localhost(&self.domain) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.domain)
    }

    /// The database URL with any password replaced, for logs and `check-config`.
    pub fn redacted_database_url(&self) -> String {
        match url::Url::parse(&self.database.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("REDACTED"));
                url.to_string()
            }
            _ => self.database.url.clone(),
        }
    }

    /// The SQLite file path, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        crate::db::sqlite_path(&self.database.url)
    }
}

/// One `LYCEUM_*` variable as a figment provider, so errors can name the variable.
///
/// Figment's own `Env` provider reads the process environment directly; taking the
/// variables as a list keeps loading testable without touching global state.
struct EnvVar {
    var: String,
    path: String,
    value: figment::value::Value,
}

impl EnvVar {
    fn parse(var: &str, value: &str) -> Option<EnvVar> {
        let rest = var.strip_prefix("LYCEUM_")?;
        let lower = rest.to_ascii_lowercase();
        if NON_CONFIG_ENV.contains(&lower.as_str()) || lower.starts_with("test_") {
            return None;
        }
        // Values are read as Figment reads them (`true`, numbers, otherwise strings).
        let parsed = value
            .parse::<figment::value::Value>()
            .unwrap_or_else(|_| figment::value::Value::from(value.to_owned()));
        Some(EnvVar {
            var: var.to_owned(),
            path: lower.replace("__", "."),
            value: parsed,
        })
    }
}

impl figment::Provider for EnvVar {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(format!("environment variable {}", self.var))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Serialized::default(&self.path, &self.value).data()
    }
}

fn from_figment(figment: &Figment, err: figment::Error) -> ConfigError {
    // For unknown fields the path already ends with the unknown name.
    let key = err.path.join(".");
    let source = match &err.metadata {
        Some(meta) => describe_metadata(meta),
        None => source_of(figment, &key),
    };
    let message = match &err.kind {
        figment::error::Kind::UnknownField(field, _) => {
            format!("unknown key `{field}`")
        }
        kind => kind.to_string(),
    };
    ConfigError {
        key,
        source,
        message,
    }
}

fn describe_metadata(meta: &figment::Metadata) -> String {
    match &meta.source {
        Some(figment::Source::File(path)) => format!("file {}", path.display()),
        _ if meta.name.starts_with("environment variable") => meta.name.to_string(),
        _ => "built-in defaults".to_owned(),
    }
}

fn source_of(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(meta) => describe_metadata(meta),
        None => "built-in defaults".to_owned(),
    }
}

/// Checks that a domain is a bare `host[:port]`, as ActivityPub ids are built on it.
fn parse_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("must not be empty".into());
    }
    if domain.contains("://") || domain.contains('/') {
        return Err(format!(
            "`{domain}` must be a bare host name with an optional port, e.g. `learn.example.org` or `localhost:8080`, without a scheme or path"
        ));
    }
    let url = url::Url::parse(&format!("http://{domain}/"))
        .map_err(|e| format!("`{domain}` is not a valid host[:port]: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let rebuilt = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    if rebuilt != domain.to_ascii_lowercase() || domain != domain.to_ascii_lowercase() {
        return Err(format!(
            "`{domain}` must be a lower-case host name with an optional port, e.g. `learn.example.org` or `localhost:8080`"
        ));
    }
    Ok(())
}

/// True for `localhost` and `localhost:PORT`, the only domains federation debug mode accepts.
pub fn is_localhost(domain: &str) -> bool {
    match domain.split_once(':') {
        Some((host, port)) => host == "localhost" && port.parse::<u16>().is_ok(),
        None => domain == "localhost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn config_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn defaults_toml_lists_every_key_with_the_code_defaults() {
        let path = config_dir().join("defaults.toml");
        let text = std::fs::read_to_string(&path).expect("config/defaults.toml is readable");
        let file: toml::Value = toml::from_str(&text).expect("defaults.toml parses");
        let code = toml::Value::try_from(Settings::default()).expect("defaults serialize");
        assert_eq!(
            file, code,
            "config/defaults.toml differs from Settings::default()"
        );
        let loaded = Settings::load_from(Some(&path), env(&[])).expect("defaults.toml loads");
        assert_eq!(loaded, Settings::default());
    }

    #[test]
    fn shipped_example_and_dev_configs_load() {
        for name in ["example.toml", "dev.toml"] {
            let path = config_dir().join(name);
            Settings::load_from(Some(&path), env(&[]))
                .unwrap_or_else(|e| panic!("config/{name} must load: {e}"));
        }
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lyceum.toml");
        std::fs::write(
            &path,
            "domain = \"learn.acme.example\"\n[database]\nurl = \"/srv/lyceum.db\"\n",
        )
        .expect("write config");
        let settings = Settings::load_from(
            Some(&path),
            env(&[
                ("LYCEUM_DATABASE__URL", "postgres://u:p@localhost/lyceum"),
                ("LYCEUM_REGISTRATION__MODE", "invite"),
                ("LYCEUM_BIND", "0.0.0.0:9000"),
                ("LYCEUM_CONFIG", "ignored"),
                ("LYCEUM_TEST_DATABASE_URL", "ignored"),
            ]),
        )
        .expect("loads");
        assert_eq!(settings.domain, "learn.acme.example");
        assert_eq!(settings.database.url, "postgres://u:p@localhost/lyceum");
        assert_eq!(settings.registration.mode, RegistrationMode::Invite);
        assert_eq!(settings.bind, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(
            settings.redacted_database_url(),
            "postgres://u:REDACTED@localhost/lyceum"
        );
    }

    #[test]
    fn invalid_bind_from_environment_names_key_and_variable() {
        let err = Settings::load_from(None, env(&[("LYCEUM_BIND", "not-an-address")]))
            .expect_err("must fail");
        assert_eq!(err.key, "bind");
        assert!(err.source.contains("LYCEUM_BIND"), "{err}");
        assert!(err.to_string().contains("bind"), "{err}");
    }

    #[test]
    fn unknown_key_in_file_names_key_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[database]\nurll = \"x\"\n").expect("write");
        let err = Settings::load_from(Some(&path), env(&[])).expect_err("must fail");
        assert_eq!(err.key, "database.urll");
        assert!(err.source.contains("bad.toml"), "{err}");
        assert!(err.message.contains("unknown key"), "{err}");
    }

    #[test]
    fn unknown_environment_key_is_refused() {
        let err =
            Settings::load_from(None, env(&[("LYCEUM_DATABSE__URL", "x")])).expect_err("must fail");
        assert!(err.key.starts_with("databse"), "{err}");
        assert!(err.source.contains("LYCEUM_DATABSE__URL"), "{err}");
    }

    #[test]
    fn invalid_enum_value_is_refused() {
        let err = Settings::load_from(None, env(&[("LYCEUM_REGISTRATION__MODE", "sometimes")]))
            .expect_err("must fail");
        assert_eq!(err.key, "registration.mode");
        assert!(err.source.contains("LYCEUM_REGISTRATION__MODE"), "{err}");
    }

    #[test]
    fn federation_debug_requires_a_localhost_domain() {
        let err = Settings::load_from(
            None,
            env(&[
                ("LYCEUM_DOMAIN", "learn.acme.example"),
                ("LYCEUM_FEDERATION__DEBUG", "true"),
            ]),
        )
        .expect_err("must fail");
        assert_eq!(err.key, "federation.debug");
        assert!(err.source.contains("LYCEUM_FEDERATION__DEBUG"), "{err}");
        let ok = Settings::load_from(
            None,
            env(&[
                ("LYCEUM_DOMAIN", "localhost:8541"),
                ("LYCEUM_FEDERATION__DEBUG", "true"),
            ]),
        )
        .expect("localhost with debug is fine");
        assert!(ok.federation.debug);
        assert_eq!(ok.public_url(), "http://localhost:8541");
    }

    #[test]
    fn domain_must_be_a_bare_host() {
        for bad in [
            "https://learn.acme.example",
            "learn.acme.example/x",
            "",
            "Learn.Acme.Example",
            "bad host",
        ] {
            let err = Settings::load_from(None, env(&[("LYCEUM_DOMAIN", bad)]))
                .expect_err(&format!("{bad:?} must be refused"));
            assert_eq!(err.key, "domain", "{bad:?}: {err}");
        }
    }

    #[test]
    fn rate_limits_of_zero_or_beyond_a_million_a_second_are_refused() {
        for (variable, value, key) in [
            (
                "LYCEUM_RATE_LIMIT__AUTH_BURST",
                "0",
                "rate_limit.auth_burst",
            ),
            ("LYCEUM_RATE_LIMIT__API_BURST", "0", "rate_limit.api_burst"),
            (
                "LYCEUM_RATE_LIMIT__API_PER_SECOND",
                "0",
                "rate_limit.api_per_second",
            ),
            (
                "LYCEUM_RATE_LIMIT__INBOX_BURST",
                "0",
                "rate_limit.inbox_burst",
            ),
            (
                "LYCEUM_RATE_LIMIT__INBOX_PER_SECOND",
                "1000001",
                "rate_limit.inbox_per_second",
            ),
            (
                "LYCEUM_RATE_LIMIT__INSTANCE_BURST",
                "0",
                "rate_limit.instance_burst",
            ),
            (
                "LYCEUM_RATE_LIMIT__INSTANCE_PER_SECOND",
                "0",
                "rate_limit.instance_per_second",
            ),
        ] {
            let err = Settings::load_from(None, env(&[(variable, value)]))
                .expect_err(&format!("{variable}={value} must be refused"));
            assert_eq!(err.key, key, "{err}");
            assert!(err.source.contains(variable), "{err}");
        }
        let ok = Settings::load_from(
            None,
            env(&[("LYCEUM_RATE_LIMIT__INSTANCE_PER_SECOND", "1000000")]),
        )
        .expect("a million a second is allowed");
        assert_eq!(ok.rate_limit.instance_per_second, 1_000_000);
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let err = Settings::load_from(Some(Path::new("/nonexistent/lyceum.toml")), env(&[]))
            .expect_err("must fail");
        assert!(err.source.contains("/nonexistent/lyceum.toml"), "{err}");
    }
}
