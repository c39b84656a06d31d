//! The `lyceum` command: serve, migrate, check-config and admin tasks.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lyceum::db::types::AccountRole;
use lyceum::settings::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "lyceum",
    version,
    about = "A server for learning communities that federate"
)]
struct Cli {
    /// Configuration file (TOML). Keys not in it come from the built-in defaults;
    /// LYCEUM_* environment variables override both.
    #[arg(long, global = true, env = "LYCEUM_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: applies pending migrations, then listens on `bind`.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load and validate the configuration, print the effective values, and exit.
    CheckConfig,
    /// Administrative tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an active local account.
    CreateUser {
        /// Username: lower-case letters, digits and underscores, 2-20 characters.
        name: String,
        /// File holding the password (a trailing newline is ignored); `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        /// Make the account an instance admin.
        #[arg(long)]
        admin: bool,
        /// Email address of the account.
        #[arg(long)]
        email: Option<String>,
    },
    /// Show outgoing deliveries per remote instance: pending, delivered, failed, health.
    Federation,
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("lyceum: {err}");
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig = cli.command {
        return check_config(&settings);
    }
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lyceum: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => lyceum::app::serve(settings).await,
            Command::Migrate => migrate(&settings).await,
            Command::Admin(admin) => run_admin(&settings, admin).await,
            Command::CheckConfig => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("lyceum: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Arenas glibc may create when `MALLOC_ARENA_MAX` does not say: its own default is eight
/// per core.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: i32 = 4;

/// Caps glibc's malloc arenas unless the operator chose (`MALLOC_ARENA_MAX`, or
/// `GLIBC_TUNABLES`). glibc gives each thread that allocates while others do an arena of its
/// own, up to eight per core, and keeps what is freed in each: SQLite runs on tokio's
/// blocking threads, so a SQLite server under load peaked 30-40 MB higher than the same
/// load on PostgreSQL. With four, the benchmark's peak was 95-101 MB instead of 108-121,
/// with reads as fast; with two, reads of the thread page were 20-40 % slower
/// (docs/benchmarks.md, fix 12).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    let chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
    if !chosen {
        // SAFETY: runs first in `main`, before any thread exists that could be in malloc;
        // M_ARENA_MAX takes a plain count and only bounds arenas created from now on.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn check_config(settings: &Settings) -> ExitCode {
    let mut shown = settings.clone();
    shown.database.url = settings.redacted_database_url();
    match toml::to_string_pretty(&shown) {
        Ok(text) => {
            println!("# configuration is valid; effective values:\n{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("lyceum: cannot print the configuration: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(settings: &Settings) {
    // RUST_LOG wins over `log.filter`, as operators expect from Rust services.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(&settings.log.filter));
    // Colours only for a terminal; files and log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match settings.log.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = lyceum::db::Db::connect(&settings.database).await?;
    let applied = lyceum::db::migrations::run_pending(&db).await?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    db.close();
    Ok(())
}

async fn run_admin(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser {
            name,
            password_file,
            admin,
            email,
        } => {
            let password = read_password(&password_file)?;
            let db = lyceum::app::open_database(settings).await?;
            let created = lyceum::service::accounts::create_account(
                &db,
                &settings.public_url(),
                lyceum::service::accounts::NewAccount {
                    email,
                    ..lyceum::service::accounts::NewAccount::active(
                        &name,
                        &password,
                        if admin {
                            AccountRole::Admin
                        } else {
                            AccountRole::Member
                        },
                    )
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            db.close();
            println!(
                "created {} `{}` ({})",
                created.account.role, created.person.name, created.person.ap_id
            );
            Ok(())
        }
        AdminCommand::Federation => {
            let db = lyceum::app::open_database(settings).await?;
            let rows = lyceum::service::admin::delivery_status(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            db.close();
            println!(
                "{:<40} {:>9} {:>9} {:>10} {:>8}  {:<20} state",
                "instance", "pending", "in flight", "delivered", "failed", "last success"
            );
            for row in rows {
                let last = row.last_success_at.map_or_else(
                    || "never".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M").to_string(),
                );
                let state = if row.dead_since.is_some() {
                    "dead"
                } else {
                    "alive"
                };
                println!(
                    "{:<40} {:>9} {:>9} {:>10} {:>8}  {:<20} {state}",
                    row.domain, row.pending, row.in_flight, row.delivered, row.failed, last
                );
                if let Some(error) = &row.last_error {
                    println!("    retrying because: {error}");
                }
            }
            Ok(())
        }
    }
}

fn read_password(path: &std::path::Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the password file {}: {e}", path.display())
        })?;
    }
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_owned())
}
