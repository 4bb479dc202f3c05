//! The command line of the one `cronwatch` binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "cronwatch",
    version,
    about = "A control plane for scheduled jobs and batch queues"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the database is: a URL, or else the private PostgreSQL in the data folder.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// PostgreSQL URL; without it a private PostgreSQL is started in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder of the private PostgreSQL used when no URL is given.
    #[arg(long, env = "CRONWATCH_DATA_DIR", default_value = "./cronwatch-data")]
    pub data_dir: PathBuf,
}

/// How `cronwatch serve` runs.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CRONWATCH_BIND", default_value = "127.0.0.1:3000")]
    pub bind: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Add the demo jobs and a feeder that reports realistic runs through the API.
    #[arg(long)]
    pub demo: bool,
    /// Mark cookies Secure: set it when users reach cronwatch over https (through a
    /// TLS-terminating proxy), so browsers never send the session over plain http.
    #[arg(long, env = "CRONWATCH_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Sign people out after this long without using cronwatch (e.g. 12h, 30m); an
    /// open dashboard counts as use.
    #[arg(long, env = "CRONWATCH_SESSION_IDLE", default_value = "12h", value_parser = parse_idle)]
    pub session_idle: std::time::Duration,
    /// Delete executions that started more than this many days ago (1 to 3650). The
    /// dashboard's counts and durations are kept: they live in hourly rollups.
    #[arg(long, env = "CRONWATCH_RETENTION_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub retention_days: i64,
    /// Sign-in attempts one client address may make at once, then one more every 15 s
    /// (each account also locks after 5 failures in a row). Raise it when many people
    /// reach cronwatch through one proxy and so share its address.
    #[arg(long, env = "CRONWATCH_SIGN_INS_PER_ADDRESS", default_value_t = app::throttle::SIGN_INS_PER_ADDRESS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub sign_ins_per_address: u32,
    /// Sync the jobs this TOML file declares at start (as `cronwatch jobs sync FILE`);
    /// a file that does not sync stops the start.
    #[arg(long, env = "CRONWATCH_JOBS_FILE")]
    pub jobs: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// Where alert notifications go (`serve`, `alerts test`).
#[derive(Args, Debug, Clone)]
pub struct AlertArgs {
    /// POST each alert (stuck, late, N failures in a row) as JSON to this http(s) URL
    /// when it opens and when it ends, e.g. a Slack or Mattermost incoming webhook.
    #[arg(long, env = "CRONWATCH_ALERT_WEBHOOK", value_parser = crate::alerts::Webhook::new)]
    pub alert_webhook: Option<crate::alerts::Webhook>,
    /// Sign each webhook body with HMAC-SHA256 under this secret, in
    /// `X-Cronwatch-Signature: sha256=<hex>` (set it through the environment: arguments
    /// show in `ps`).
    #[arg(long, env = "CRONWATCH_ALERT_WEBHOOK_SECRET", hide_env_values = true,
          requires = "alert_webhook", value_parser = crate::alerts::webhook_secret)]
    pub alert_webhook_secret: Option<String>,
    /// The address people reach cronwatch at (e.g. https://cron.example.com): alert
    /// notifications then link to the job's row on the dashboard.
    #[arg(long, env = "CRONWATCH_PUBLIC_URL", value_parser = crate::alerts::http_url)]
    pub public_url: Option<reqwest::Url>,
}

impl AlertArgs {
    /// The webhook, linking and signing as configured; none without a URL.
    pub fn webhook(&self) -> Option<crate::alerts::Webhook> {
        self.alert_webhook.clone().map(|hook| {
            hook.linking_to(self.public_url.clone())
                .signing_with(self.alert_webhook_secret.clone())
        })
    }
}

/// A lease: a human duration the server accepts (2 s to 5 min).
fn parse_lease(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    let range = crate::agent::protocol::LEASE_MS;
    if !range.contains(&(d.as_millis() as i64)) {
        return Err(format!(
            "must be {} s to {} s",
            range.start() / 1000,
            range.end() / 1000
        ));
    }
    Ok(d)
}

/// A human duration ("12h", "90m", "1d 2h") of at least a second.
fn parse_idle(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(d)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage jobs: list, declare from a file, export, pause, resume, delete, ping keys.
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Show the audit trail, newest first: who changed what, signed in or failed to.
    Audit(AuditArgs),
    /// Alerts: list the incidents, or send a test notification to the webhook.
    Alerts {
        #[command(subcommand)]
        action: AlertsAction,
    },
    /// Wrap a command and report its start, end, exit code and output tail.
    Run {
        /// The job's name.
        job: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Claim and run the runs of `command` jobs (`CRONWATCH_URL`, `CRONWATCH_TOKEN`:
    /// an agent token: `token create NAME --scope agent`). Runs until stopped; a stop ends its runs as cancelled.
    Agent(AgentArgs),
}

/// How `cronwatch agent` runs.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// The agent's name, shown as its runs' host (default: this host's name).
    #[arg(long, env = "CRONWATCH_AGENT_NAME")]
    pub name: Option<String>,
    /// The agent's tags (comma-separated): it takes the runs of commands that ask for
    /// no tag it lacks.
    #[arg(long, env = "CRONWATCH_AGENT_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Most commands run at once.
    #[arg(long, env = "CRONWATCH_AGENT_MAX_RUNS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_runs: u16,
    /// How long a run stays held when the agent falls silent (e.g. 30s): past it the
    /// run ends as failed, its agent lost. Heartbeats go three times within it.
    #[arg(long, env = "CRONWATCH_AGENT_LEASE", default_value = "30s", value_parser = parse_lease)]
    pub lease: std::time::Duration,
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create a user (the password is generated and printed once, or read from stdin).
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a new password (generated and printed once, or read from stdin) and sign
    /// the user out everywhere.
    Passwd {
        name: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List users: role, when created, sessions signed in now.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Change a user's role; they are signed out everywhere (their sessions held the old
    /// one). The last super_admin cannot be demoted.
    Role {
        name: String,
        #[arg(value_enum)]
        role: RoleArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Remove a user and end their sessions (the audit trail keeps their name). The
    /// last super_admin cannot be removed.
    Remove {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl UserAction {
    /// Where the database is.
    pub fn db(&self) -> &DbArgs {
        match self {
            UserAction::Add { db, .. }
            | UserAction::Passwd { db, .. }
            | UserAction::List { db }
            | UserAction::Role { db, .. }
            | UserAction::Remove { db, .. } => db,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum AlertsAction {
    /// List alerts, newest first: what was stuck, late or failing, and when it ended.
    List {
        /// Only those still open.
        #[arg(long)]
        open: bool,
        /// Only this job's.
        #[arg(long)]
        job: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// POST a test notification to the webhook `serve` would use (the same flags and
    /// environment), to check that it arrives; fails with the receiver's answer if not.
    Test(Box<AlertArgs>),
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Create a token; it is printed once, alone on the last line of stdout.
    Create {
        name: String,
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Import an existing secret from stdin (e.g. the shell library's CRON_SECRET).
        #[arg(long)]
        secret_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (never their secrets): scope, when created, last used, revoked.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token at once on every replica. To rotate: create a new token, move
    /// the callers over (`list` shows when the old one was last used), revoke the old.
    Revoke {
        /// The token's id, or its name if only one live token has it.
        token: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl TokenAction {
    /// Where the database is.
    pub fn db(&self) -> &DbArgs {
        match self {
            TokenAction::Create { db, .. }
            | TokenAction::List { db }
            | TokenAction::Revoke { db, .. } => db,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum JobsAction {
    /// List jobs: kind, schedule, last run and its status, next expected run, and the
    /// dashboard's alerts (stuck, late, failing).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create or replace the jobs a TOML file declares, all or none.
    ///
    /// The file holds `[jobs.NAME]` tables with the fields of `PUT /api/v1/jobs/NAME`
    /// (`schedule`, `timezone`, `timeout_ms`, …). Jobs that already match are left
    /// untouched; jobs the file does not name are kept (and listed) unless --prune.
    Sync {
        file: std::path::PathBuf,
        /// Check the file and print what would change, changing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete, with their whole history, the jobs the file does not name
        /// (including jobs created by their first report).
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print every job's definition as a file for `jobs sync` (what differs from the
    /// defaults): `cronwatch jobs export > jobs.toml`.
    Export {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Pause a job: no run is expected (never late) until it is resumed; reports are
    /// still recorded.
    Pause {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Resume a paused job: expected again from its next scheduled time.
    Resume {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Delete a job with its whole history (e.g. one a typo in a report created); open
    /// dashboards drop it at once. Later reports that name it create it afresh.
    Delete {
        name: String,
        /// Really delete; without it, only say what would go.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print a job's ping path (`/ping/<key>`, to append to cronwatch's URL), alone on
    /// the last line of stdout. The key is a credential: anyone with it can report the
    /// job's runs.
    PingKey {
        name: String,
        /// Replace the key first (after a leak): the old path answers 404 at once.
        #[arg(long)]
        regenerate: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// What `cronwatch audit` shows.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only this actor: `user:NAME`, `token:NAME` or `cli:LOGIN`.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action and those under it (`token` shows `token.create`, `token.revoke`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only changes to this job, token or user.
    #[arg(long)]
    pub target: Option<String>,
    /// How many entries at most.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub limit: i64,
    #[command(flatten)]
    pub db: DbArgs,
}

impl JobsAction {
    /// Where the database is.
    pub fn db(&self) -> &DbArgs {
        match self {
            JobsAction::List { db }
            | JobsAction::Sync { db, .. }
            | JobsAction::Export { db }
            | JobsAction::Pause { db, .. }
            | JobsAction::Resume { db, .. }
            | JobsAction::Delete { db, .. }
            | JobsAction::PingKey { db, .. } => db,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum RoleArg {
    Viewer,
    Admin,
    SuperAdmin,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ScopeArg {
    Ingest,
    Read,
    Admin,
    Agent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_windows_are_human_durations_of_a_second_or_more() {
        assert_eq!(
            parse_idle("12h"),
            Ok(std::time::Duration::from_secs(43_200))
        );
        assert_eq!(
            parse_idle("1h 30m"),
            Ok(std::time::Duration::from_secs(5_400))
        );
        assert!(parse_idle("0s").is_err());
        assert!(parse_idle("500ms").is_err());
        assert!(parse_idle("soon").is_err());
        let cli = Cli::try_parse_from(["cronwatch", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.session_idle, std::time::Duration::from_secs(43_200));
        assert_eq!(args.retention_days, 7);
        assert_eq!(args.sign_ins_per_address, 20);
        let per_address = |v: &str| {
            Cli::try_parse_from(["cronwatch", "serve", "--sign-ins-per-address", v]).map(
                |c| match c.command {
                    Command::Serve(a) => a.sign_ins_per_address,
                    _ => panic!("serve"),
                },
            )
        };
        assert_eq!(per_address("500").unwrap(), 500);
        assert!(per_address("0").is_err());
        assert!(per_address("many").is_err());
    }

    #[test]
    fn retention_is_a_day_to_ten_years() {
        let days = |v: &str| {
            Cli::try_parse_from(["cronwatch", "serve", "--retention-days", v]).map(|c| {
                match c.command {
                    Command::Serve(a) => a.retention_days,
                    _ => unreachable!(),
                }
            })
        };
        assert_eq!(days("30").unwrap(), 30);
        assert_eq!(days("3650").unwrap(), 3650);
        for bad in ["0", "-1", "3651", "7d", ""] {
            assert!(days(bad).is_err(), "{bad:?} accepted");
        }
    }
}
