use clap::Parser;

use server::admin_cli::{alerts, audit_trail, job_file, jobs, tokens, users};
use server::cli::{AlertsAction, Cli, Command, JobsAction, TokenAction, UserAction};
use server::database::Database;
use server::{agent, serve, wrap};
use sqlx::PgPool;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match dispatch(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cronwatch: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

async fn dispatch(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Serve(args) => serve::serve(&args).await.map(|_| 0),
        Command::Run { job, command } => Ok(wrap::run(job, command).await),
        Command::Agent(args) => Ok(agent::run(args).await),
        Command::Migrate { db } => {
            Database::open(&db, 2).await?.close().await;
            println!("migrations applied");
            Ok(0)
        }
        Command::User { action } => {
            let database = Database::open(action.db(), 2).await?;
            let r = user(&database.pool, action).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Token { action } => {
            let database = Database::open(action.db(), 2).await?;
            let r = token(&database.pool, action).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Alerts { action } => match action {
            AlertsAction::Test(args) => alerts::test(&args).await.map(|_| 0),
            AlertsAction::List { open, job, db } => {
                let database = Database::open(&db, 2).await?;
                let r = alerts::list(&database.pool, open, job).await;
                database.close().await;
                r.map(|_| 0)
            }
        },
        Command::Audit(args) => {
            let database = Database::open(&args.db, 2).await?;
            let filter = app::db::audit::AuditFilter {
                actor: args.actor,
                action: args.action,
                target: args.target,
                before: None,
                limit: args.limit,
            };
            let r = audit_trail::list(&database.pool, filter).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Jobs { action } => {
            let database = Database::open(action.db(), 2).await?;
            let r = match action {
                JobsAction::List { .. } => jobs::list(&database.pool).await,
                JobsAction::Sync {
                    file,
                    dry_run,
                    prune,
                    ..
                } => {
                    let options = job_file::SyncOptions { dry_run, prune };
                    job_file::sync(&database.pool, &file, options).await
                }
                JobsAction::Export { .. } => job_file::export(&database.pool).await,
                JobsAction::Delete { name, yes, .. } => {
                    jobs::delete(&database.pool, &name, yes).await
                }
                JobsAction::Pause { name, .. } => {
                    jobs::set_enabled(&database.pool, &name, false).await
                }
                JobsAction::Resume { name, .. } => {
                    jobs::set_enabled(&database.pool, &name, true).await
                }
                JobsAction::PingKey {
                    name, regenerate, ..
                } => jobs::ping_key(&database.pool, &name, regenerate).await,
            };
            database.close().await;
            r.map(|_| 0)
        }
    }
}

async fn user(pool: &PgPool, action: UserAction) -> anyhow::Result<()> {
    match action {
        UserAction::Add {
            name,
            role,
            password_stdin,
            ..
        } => users::add(pool, &name, role, password_stdin).await,
        UserAction::Passwd {
            name,
            password_stdin,
            ..
        } => users::passwd(pool, &name, password_stdin).await,
        UserAction::List { .. } => users::list(pool).await,
        UserAction::Role { name, role, .. } => users::set_role(pool, &name, role).await,
        UserAction::Remove { name, .. } => users::remove(pool, &name).await,
    }
}

async fn token(pool: &PgPool, action: TokenAction) -> anyhow::Result<()> {
    match action {
        TokenAction::Create {
            name,
            scope,
            secret_stdin,
            ..
        } => tokens::create(pool, &name, scope, secret_stdin).await,
        TokenAction::List { .. } => tokens::list(pool).await,
        TokenAction::Revoke { token, .. } => tokens::revoke(pool, &token).await,
    }
}
