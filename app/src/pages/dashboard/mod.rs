//! The dashboard body: KPI cards, the 7-day chart, jobs, executions (with the detail
//! modal) and batch cards. State starts from the server's snapshot and changes only
//! through events.

mod batches;
mod chart;
mod executions;
mod format;
mod jobs;
mod run_toast;
mod state;

use chrono::Utc;
use leptos::prelude::*;
use uuid::Uuid;

use crate::model::{DashboardSnapshot, ExecutionPage};
use batches::BatchCards;
use chart::Timeline;
use executions::{ExecutionModal, ExecutionsTable, Filters, Pager};
use format::countdown;
use jobs::{Attention, JobsTable};
use run_toast::RunToast;
pub use run_toast::RUN_PARAM;
use state::Live;

/// The id of the executions section, which links that change its view scroll to.
pub const EXECUTIONS_ANCHOR: &str = "executions";

#[component]
pub fn Dashboard(initial: DashboardSnapshot) -> impl IntoView {
    // The table follows the URL: a changed query loads that page (user action, no polling).
    let url = leptos_router::hooks::use_query_map();
    let stats = RwSignal::new(initial.stats);
    let live = Live {
        stats,
        records: state::records_of(stats),
        jobs: RwSignal::new(initial.jobs),
        batches: RwSignal::new(initial.batches),
        executions: RwSignal::new(initial.executions.items),
        connected: RwSignal::new(false),
        now: RwSignal::new(Utc::now()),
        browser_zone: RwSignal::new(false),
        view: RwSignal::new(url.with_untracked(crate::pages::monitoring::query_of)),
        next_cursor: RwSignal::new(initial.executions.next_cursor),
        changed: RwSignal::new(None),
        filter_error: RwSignal::new(initial.filter_error),
        running: RwSignal::new(initial.running),
    };
    Effect::new(move |first: Option<()>| {
        let q = url.with(crate::pages::monitoring::query_of);
        if first.is_some() && q != live.view.get_untracked() {
            live.view.set(q.clone());
            leptos::task::spawn_local(async move {
                let (page, refused) = match crate::pages::monitoring::list_executions(q).await {
                    Ok(page) => (page, None),
                    // The rows shown belong to no view any more.
                    Err(ServerFnError::ServerError(why)) => (ExecutionPage::default(), Some(why)),
                    Err(e) => (ExecutionPage::default(), Some(e.to_string())),
                };
                live.executions.set(page.items);
                live.next_cursor.set(page.next_cursor);
                live.filter_error.set(refused);
            });
        }
    });
    let selected = RwSignal::new(None::<Uuid>);
    let run = url.with_untracked(|q| q.get(RUN_PARAM));
    let ping = StoredValue::new(initial.ping_urls);
    #[cfg(feature = "hydrate")]
    {
        let after = initial.last_event_id;
        Effect::new(move |_| {
            crate::pages::live::connect(after, move |ev| live.apply(ev), live.connected);
            crate::pages::live::tick_every_second(live.now);
            live.browser_zone.set(true);
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = initial.last_event_id;
    view! {
        <div class="live-indicator" data-live=move || live.connected.get().to_string()>
            {move || if live.connected.get() { "● live" } else { "○ reconnecting…" }}
        </div>
        <Kpis live/>
        <Attention live/>
        <section class="panel">
            <h2>"Last 7 days"</h2>
            <Timeline live/>
        </section>
        <section class="panel">
            <h2>"Jobs"</h2>
            <JobsTable live ping/>
            // A new installation says how a job gets here. (Hidden rather than removed:
            // a reactive attribute costs the bundle less than a conditional view.)
            <p class="empty" data-empty="jobs" hidden=move || live.jobs.with(|j| !j.is_empty())>"No job has reported yet. Wrap a cron line in "
                <code>"cronwatch run NAME -- command"</code>" or POST its start to "<code>"/api/v1/executions/start"</code>
                ", with a token from "<code>"cronwatch token create NAME --scope ingest"</code>
                ": the job appears here with its first run (the README shows every way to report)."</p>
        </section>
        <section class="panel" id=EXECUTIONS_ANCHOR>
            <h2>"Executions"</h2>
            <Filters live/>
            {move || live.filter_error.get().map(|why| view! {
                <p class="error" data-field="filter-error">{format!("This view's filter cannot be used: {why}. Change or clear it.")}</p>
            })}
            <ExecutionsTable live selected/>
            <p class="empty" data-empty="executions"
               hidden=move || live.executions.with(|e| !e.is_empty()) || live.filter_error.with(Option::is_some)>"No run in this view."</p>
            <Pager live/>
        </section>
        <section class="panel">
            <h2>"Batch queues"</h2>
            <BatchCards live/>
            <p class="empty" data-empty="batches" hidden=move || live.batches.with(|b| !b.is_empty())>
                "No queue has reported yet: a job POSTs its counters to "<code>"/api/v1/batches/NAME"</code>"."</p>
        </section>
        <ExecutionModal live selected/>
        <RunToast live run/>
    }
}

#[component]
fn Kpis(live: Live) -> impl IntoView {
    // The soonest expected start still ahead, from the live job list: when one passes,
    // the card moves on to the next by itself.
    let next = move || {
        let now = live.now.get();
        let soonest = live.jobs.with(|jobs| {
            jobs.iter()
                .filter(|j| j.enabled)
                .filter_map(|j| {
                    j.next_run_at
                        .filter(|t| *t > now)
                        .map(|t| (t, j.name.clone()))
                })
                .min()
        });
        match soonest {
            Some((at, job)) => format!("{} · {job}", countdown(at, now)),
            None => "none scheduled".into(),
        }
    };
    view! {
        <section class="kpis">
            <div class="kpi"><span class="kpi-label">"Executions 24 h"</span><span class="kpi-value" data-kpi="total">{move || live.stats.get().total}</span></div>
            // What runs now is one click away: the card lists the running executions.
            <a class="kpi" href=executions::running_view(None)><span class="kpi-label">"Running now"</span><span class="kpi-value" data-kpi="running">{move || live.stats.get().running_now}</span></a>
            <div class="kpi"><span class="kpi-label">"Failures 24 h"</span><span class="kpi-value" data-kpi="failures">{move || live.stats.get().failures}</span></div>
            <div class="kpi"><span class="kpi-label">"Next run"</span><span class="kpi-value countdown" data-kpi="next">{next}</span></div>
        </section>
    }
}
