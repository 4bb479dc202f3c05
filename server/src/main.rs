use clap::Parser;

use server::cli::{Cli, Command, TokenAction, UserAction};
use server::database::Database;
use server::{admin_cli, serve, wrap};

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
        Command::Migrate { db } => {
            let database = Database::open(&db, 2).await?;
            println!("migrations applied");
            database.close().await;
            Ok(0)
        }
        Command::User {
            action:
                UserAction::Add {
                    name,
                    role,
                    password_stdin,
                    db,
                },
        } => {
            let database = Database::open(&db, 2).await?;
            let r = admin_cli::user_add(&database.pool, &name, role, password_stdin).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Token {
            action:
                TokenAction::Create {
                    name,
                    scope,
                    secret_stdin,
                    db,
                },
        } => {
            let database = Database::open(&db, 2).await?;
            let r = admin_cli::token_create(&database.pool, &name, scope, secret_stdin).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::User {
            action:
                UserAction::Passwd {
                    name,
                    password_stdin,
                    db,
                },
        } => {
            let database = Database::open(&db, 2).await?;
            let r = admin_cli::user_passwd(&database.pool, &name, password_stdin).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Token {
            action: TokenAction::List { db },
        } => {
            let database = Database::open(&db, 2).await?;
            let r = admin_cli::token_list(&database.pool).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Token {
            action: TokenAction::Revoke { token, db },
        } => {
            let database = Database::open(&db, 2).await?;
            let r = admin_cli::token_revoke(&database.pool, &token).await;
            database.close().await;
            r.map(|_| 0)
        }
        Command::Run { job, command } => Ok(wrap::run(job, command).await),
    }
}
