//! The private PostgreSQL that `cronwatch serve` starts when no database URL is given:
//! a cluster in `<data-dir>/pg` from the machine's own installation, listening only on
//! a Unix socket in `<data-dir>/run`, stopped again when cronwatch stops.
//!
//! PostgreSQL refuses to run as root, so when we are root the cluster belongs to the
//! unprivileged `postgres` system user and every PostgreSQL program runs as that user.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{chown, Uid, User};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Why the embedded database could not start, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL installation found (looked for initdb and pg_ctl in CRONWATCH_PG_BIN_DIR, \
         under /usr/lib/postgresql/*/bin and on PATH): install PostgreSQL \
         (e.g. `apt-get install postgresql`) or set DATABASE_URL to an existing database"
    )]
    NotInstalled,
    #[error(
        "running as root, but PostgreSQL refuses root and there is no `postgres` user to run it as: \
         create one, run cronwatch as a normal user, or set DATABASE_URL"
    )]
    NoUnprivilegedUser,
    #[error("the `postgres` user cannot write to {0}: choose a --data-dir it can reach, or set DATABASE_URL")]
    Unreachable(PathBuf),
    #[error(
        "the data directory path {0} is too long for a Unix socket; choose a shorter --data-dir"
    )]
    PathTooLong(PathBuf),
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("could not prepare the database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// A running private cluster; [`EmbeddedPostgres::stop`] shuts it down.
pub struct EmbeddedPostgres {
    bin: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<User>,
    /// False when the cluster was already running (another process owns its lifetime).
    started_here: bool,
}

const DB_USER: &str = "cronwatch";
const DB_NAME: &str = "cronwatch";

impl EmbeddedPostgres {
    /// Initialises the cluster on first use, starts it, and creates the database.
    pub async fn start(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let bin = find_bin_dir().ok_or(EmbeddedError::NotInstalled)?;
        std::fs::create_dir_all(data_dir)?;
        let data_dir = data_dir.canonicalize()?;
        let pgdata = data_dir.join("pg");
        let socket_dir = data_dir.join("run");
        if socket_dir.as_os_str().len() > 90 {
            return Err(EmbeddedError::PathTooLong(data_dir));
        }
        std::fs::create_dir_all(&socket_dir)?;
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(EmbeddedError::NoUnprivilegedUser)?;
            for dir in [&data_dir, &socket_dir] {
                chown(dir, Some(user.uid), Some(user.gid)).map_err(std::io::Error::from)?;
            }
            Some(user)
        } else {
            None
        };
        let mut pg = Self {
            bin,
            pgdata,
            socket_dir,
            run_as,
            started_here: false,
        };
        pg.check_writable(&data_dir)?;
        if !pg.pgdata.join("PG_VERSION").exists() {
            pg.initdb()?;
        }
        if !pg.is_running() {
            pg.pg_ctl_start(&data_dir)?;
            pg.started_here = true;
        }
        pg.create_database().await?;
        Ok(pg)
    }

    /// Connection options for the cronwatch database on the private socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(DB_USER)
            .database(DB_NAME)
    }

    /// Stops the cluster if this process started it (fast mode: open sessions end).
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        if !self.started_here {
            return Ok(());
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-s"]);
        run(cmd, "pg_ctl stop")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some(user) = &self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            cmd.env("HOME", &user.dir).current_dir("/");
        }
        cmd
    }

    fn check_writable(&self, dir: &Path) -> Result<(), EmbeddedError> {
        if self.run_as.is_none() {
            return Ok(());
        }
        let mut cmd = Command::new("test");
        if let Some(user) = &self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(user.uid.as_raw())
                .gid(user.gid.as_raw())
                .current_dir("/");
        }
        let ok = cmd
            .arg("-w")
            .arg(dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(EmbeddedError::Unreachable(dir.to_path_buf()))
        }
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.pgdata).args([
            "-U",
            DB_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]);
        run(cmd, "initdb")
    }

    fn is_running(&self) -> bool {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(&self.pgdata);
        cmd.output().map(|o| o.status.success()).unwrap_or(false)
    }

    fn pg_ctl_start(&self, data_dir: &Path) -> Result<(), EmbeddedError> {
        // No TCP at all: the socket directory is private to the cluster's owner.
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700",
            self.socket_dir.display()
        );
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(data_dir.join("postgres.log"))
            .args(["-w", "-s", "-t", "60", "-o", &opts]);
        run(cmd, "pg_ctl start")
    }

    async fn create_database(&self) -> Result<(), EmbeddedError> {
        let admin = PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(DB_USER)
            .database("postgres");
        let mut conn = admin.connect().await?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(DB_NAME)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(&format!("create database {DB_NAME}"))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }
}

/// Runs `cmd`; a non-zero exit becomes an error carrying its stderr.
fn run(mut cmd: Command, what: &str) -> Result<(), EmbeddedError> {
    let out = cmd.output().map_err(|e| EmbeddedError::Command {
        what: what.into(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(EmbeddedError::Command {
        what: what.into(),
        detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// `CRONWATCH_PG_BIN_DIR` if set (and only it), else the newest
/// `/usr/lib/postgresql/N/bin`, else the directory of `initdb` on PATH.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CRONWATCH_PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return (dir.join("initdb").exists() && dir.join("pg_ctl").exists()).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
            .map(|p| p.canonicalize().unwrap_or(p))
    })
}
