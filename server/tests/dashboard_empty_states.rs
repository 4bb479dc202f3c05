//! A new installation's dashboard says how jobs and queues get there, instead of
//! showing empty tables; each hint goes once there is something to show.

use crate::common;

use app::model::Role;
use common::{signed_in, spawn_app};
use serde_json::json;
use sqlx::PgPool;

/// Whether the page shows the hint `data-empty="{what}"` (it is rendered either way,
/// hidden once there is something to show).
fn shows(html: &str, what: &str) -> bool {
    let at = html
        .find(&format!(r#"data-empty="{what}""#))
        .unwrap_or_else(|| panic!("no {what} hint"));
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    !tag.contains(" hidden")
}

#[sqlx::test(migrations = "../migrations")]
async fn empty_tables_say_how_to_fill_them(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let viewer = signed_in(&app, &pool, "vera", Role::Viewer).await;
    let html = common::monitoring_html(&app, &viewer, &[]).await;
    for what in ["jobs", "executions", "batches"] {
        assert!(shows(&html, what), "{what}");
    }
    for hint in ["cronwatch run NAME -- command", "/api/v1/batches/NAME"] {
        assert!(html.contains(hint), "missing {hint}");
    }

    app.start("first-job").await;
    let (code, _) = app
        .post("/api/v1/batches/kb", &app.ingest, &json!({ "pending": 1 }))
        .await;
    assert_eq!(code, 200);
    let html = common::monitoring_html(&app, &viewer, &[]).await;
    for what in ["jobs", "executions", "batches"] {
        assert!(!shows(&html, what), "still shows {what}");
    }
}
