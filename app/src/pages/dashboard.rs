//! The dashboard body: KPI cards, the 7-day chart, jobs, executions (with the detail
//! modal) and batch cards. State starts from the server's snapshot and changes only
//! through events.

use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use uuid::Uuid;

use crate::model::{
    BatchQueue, ChangeEvent, DashboardSnapshot, Execution, ExecutionQuery, ExecutionStatus,
    ExecutionSummary, Job, Stats, TimelinePoint,
};

/// How many executions the table keeps.
const TABLE_ROWS: usize = 50;

/// The page's live state.
#[derive(Clone, Copy)]
struct Live {
    stats: RwSignal<Stats>,
    jobs: RwSignal<Vec<Job>>,
    batches: RwSignal<Vec<BatchQueue>>,
    executions: RwSignal<Vec<ExecutionSummary>>,
    connected: RwSignal<bool>,
    now: RwSignal<DateTime<Utc>>,
    /// The executions view the table shows (from the URL).
    view: RwSignal<ExecutionQuery>,
    /// Keyset position of the next (older) page, if any.
    next_cursor: RwSignal<Option<String>>,
}

impl Live {
    /// Applies one change event in place.
    #[cfg_attr(
        not(any(feature = "hydrate", test)),
        expect(dead_code, reason = "events are applied in the browser")
    )]
    fn apply(&self, ev: ChangeEvent) {
        match ev {
            ChangeEvent::Execution(e) => self.apply_execution(e),
            ChangeEvent::Batch(b) => upsert(self.batches, b, |x, y| x.name == y.name),
            ChangeEvent::Job(j) => upsert(self.jobs, j, |x, y| x.name == y.name),
        }
    }

    fn apply_execution(&self, e: ExecutionSummary) {
        let mut previous = None;
        self.executions
            .update(|rows| match rows.iter_mut().find(|r| r.id == e.id) {
                Some(row) => {
                    previous = Some(row.status);
                    *row = e.clone();
                }
                None => {
                    rows.insert(0, e.clone());
                    rows.truncate(TABLE_ROWS);
                }
            });
        self.stats.update(|s| {
            let failed = |st: ExecutionStatus| {
                matches!(st, ExecutionStatus::Failed | ExecutionStatus::TimedOut)
            };
            match previous {
                None => {
                    s.total += 1;
                    if e.status == ExecutionStatus::Running {
                        s.running_now += 1;
                    }
                }
                Some(ExecutionStatus::Running) if e.status.is_final() => s.running_now -= 1,
                _ => {}
            }
            if failed(e.status) && previous.is_none_or(|p| !failed(p)) {
                s.failures += 1;
            }
            let day = e.started_at.date_naive();
            if let Some(p) = previous.filter(|p| *p != e.status) {
                bump_timeline(&mut s.timeline, day, p, -1);
            }
            if previous != Some(e.status) {
                bump_timeline(&mut s.timeline, day, e.status, 1);
            }
        });
        self.jobs.update(|jobs| {
            if !jobs.iter().any(|j| j.name == e.job) {
                // First report of a job: the server created it as an external job.
                jobs.push(Job::external(&e.job));
                jobs.sort_by(|a, b| a.name.cmp(&b.name));
            }
            if let Some(j) = jobs.iter_mut().find(|j| j.name == e.job) {
                if j.last_execution_id == Some(e.id)
                    || j.last_started_at.is_none_or(|t| t <= e.started_at)
                {
                    j.last_execution_id = Some(e.id);
                    j.last_started_at = Some(e.started_at);
                    j.last_status = Some(e.status);
                    // Mirrors the server's counter: an end moves it, a start does not.
                    if previous != Some(e.status) {
                        match e.status {
                            ExecutionStatus::Failed | ExecutionStatus::TimedOut => {
                                j.consecutive_failures += 1
                            }
                            ExecutionStatus::Completed => j.consecutive_failures = 0,
                            _ => {}
                        }
                    }
                }
            }
        });
    }
}

fn bump_timeline(
    points: &mut Vec<TimelinePoint>,
    day: NaiveDate,
    status: ExecutionStatus,
    delta: i64,
) {
    match points
        .iter_mut()
        .find(|p| p.day == day && p.status == status)
    {
        Some(p) => p.count += delta,
        None if delta > 0 => points.push(TimelinePoint {
            day,
            status,
            count: delta,
            avg_duration_ms: None,
        }),
        None => {}
    }
}

fn upsert<T: Clone + Send + Sync + 'static>(
    list: RwSignal<Vec<T>>,
    item: T,
    same: impl Fn(&T, &T) -> bool,
) {
    list.update(|v| match v.iter_mut().find(|x| same(x, &item)) {
        Some(x) => *x = item,
        None => v.push(item),
    });
}

/// "3 min ago", "in 2 h": relative to the ticking clock.
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let text = match n {
        0..=4 => return "just now".into(),
        5..=59 => format!("{n} s"),
        60..=3599 => format!("{} min", n / 60),
        3600..=86_399 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

fn countdown(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (at - now).num_seconds().max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

#[component]
fn StatusBadge(status: ExecutionStatus) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.as_str()}</span> }
}

#[component]
pub fn Dashboard(initial: DashboardSnapshot) -> impl IntoView {
    let live = Live {
        stats: RwSignal::new(initial.stats),
        jobs: RwSignal::new(initial.jobs),
        batches: RwSignal::new(initial.batches),
        executions: RwSignal::new(initial.executions.items),
        connected: RwSignal::new(false),
        now: RwSignal::new(Utc::now()),
        view: RwSignal::new(ExecutionQuery::default()),
        next_cursor: RwSignal::new(initial.executions.next_cursor),
    };
    // The table follows the URL: a changed query loads that page (user action, no polling).
    let url = leptos_router::hooks::use_query_map();
    live.view
        .set(url.with_untracked(crate::pages::monitoring::query_of));
    Effect::new(move |first: Option<()>| {
        let q = url.with(crate::pages::monitoring::query_of);
        if first.is_some() && q != live.view.get_untracked() {
            live.view.set(q.clone());
            leptos::task::spawn_local(async move {
                if let Ok(page) = crate::pages::monitoring::list_executions(q).await {
                    live.executions.set(page.items);
                    live.next_cursor.set(page.next_cursor);
                }
            });
        }
    });
    let selected = RwSignal::new(None::<Uuid>);
    #[cfg(feature = "hydrate")]
    {
        let after = initial.last_event_id;
        Effect::new(move |_| {
            crate::pages::live::connect(after, move |ev| live.apply(ev), live.connected);
            crate::pages::live::tick_every_second(live.now);
        });
        Effect::new(move |_| crate::pages::live::draw_timeline(&live.stats.get().timeline));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = initial.last_event_id;
    view! {
        <div class="live-indicator" data-live=move || live.connected.get().to_string()>
            {move || if live.connected.get() { "● live" } else { "○ reconnecting…" }}
        </div>
        <Kpis live/>
        <section class="panel">
            <h2>"Last 7 days"</h2>
            <div id="timeline-chart" class="chart"></div>
        </section>
        <section class="panel">
            <h2>"Jobs"</h2>
            <JobsTable live/>
        </section>
        <section class="panel">
            <h2>"Executions"</h2>
            <Filters live/>
            <ExecutionsTable live selected/>
            <Pager live/>
        </section>
        <section class="panel">
            <h2>"Batch queues"</h2>
            <BatchCards live/>
        </section>
        <ExecutionModal selected/>
    }
}

#[component]
fn Kpis(live: Live) -> impl IntoView {
    let next = move || {
        let s = live.stats.get();
        match s.next_run {
            Some(n) => format!("{} · {}", countdown(n.at, live.now.get()), n.job),
            None => "none scheduled".into(),
        }
    };
    view! {
        <section class="kpis">
            <div class="kpi"><span class="kpi-label">"Executions 24 h"</span><span class="kpi-value" data-kpi="total">{move || live.stats.get().total}</span></div>
            <div class="kpi"><span class="kpi-label">"Running now"</span><span class="kpi-value" data-kpi="running">{move || live.stats.get().running_now}</span></div>
            <div class="kpi"><span class="kpi-label">"Failures 24 h"</span><span class="kpi-value" data-kpi="failures">{move || live.stats.get().failures}</span></div>
            <div class="kpi"><span class="kpi-label">"Next run"</span><span class="kpi-value countdown" data-kpi="next">{next}</span></div>
        </section>
    }
}

#[component]
fn JobsTable(live: Live) -> impl IntoView {
    view! {
        <table class="grid jobs">
            <thead><tr><th>"Job"</th><th>"Last run"</th><th>"Status"</th><th>"Failures in a row"</th><th>"Next run"</th></tr></thead>
            <tbody>
                <For each=move || live.jobs.get() key=|j| (j.name.clone(), j.last_execution_id, j.last_status, j.next_run_at) let:j>
                    <tr>
                        <td><strong>{j.display_name.clone()}</strong><div class="muted small">{j.description.clone()}</div></td>
                        <td>{move || j.last_started_at.map(|t| relative(t, live.now.get())).unwrap_or_else(|| "never".into())}</td>
                        <td>{j.last_status.map(|s| view! { <StatusBadge status=s/> })}</td>
                        <td class={if j.consecutive_failures >= 3 { "alert" } else { "" }}>{j.consecutive_failures}</td>
                        <td>{move || j.next_run_at.map(|t| relative(t, live.now.get())).unwrap_or_else(|| "—".into())}</td>
                    </tr>
                </For>
            </tbody>
        </table>
    }
}

/// Moves the page to the view `q` (new URL, new history entry).
fn go(q: &ExecutionQuery) {
    let navigate = leptos_router::hooks::use_navigate();
    navigate(
        &format!("/monitoring?{}", q.to_query_string()),
        Default::default(),
    );
}

#[component]
fn Filters(live: Live) -> impl IntoView {
    // Each control rewrites one field of the view and starts again from the newest page.
    let set = move |field: fn(&mut ExecutionQuery, Option<String>), value: String| {
        let mut q = live.view.get_untracked();
        field(&mut q, (!value.is_empty()).then_some(value));
        q.cursor = None;
        go(&q);
    };
    let selected =
        move |current: Option<String>, option: &str| current.as_deref().unwrap_or("") == option;
    view! {
        <div class="filters">
            <label>"Job "
                <select name="job" on:change=move |ev| set(|q, v| q.job = v, event_target_value(&ev))>
                    <option value="">"all"</option>
                    <For each=move || live.jobs.get() key=|j| j.name.clone() let:j>
                        <option value=j.name.clone() selected=move || selected(live.view.get().job, &j.name)>{j.name.clone()}</option>
                    </For>
                </select>
            </label>
            <label>"Status "
                <select name="status" on:change=move |ev| set(|q, v| q.status = v, event_target_value(&ev))>
                    <option value="">"all"</option>
                    {ExecutionStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || selected(live.view.get().status, s.as_str())>{s.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Trigger "
                <select name="trigger" on:change=move |ev| set(|q, v| q.trigger = v, event_target_value(&ev))>
                    <option value="">"all"</option>
                    {crate::model::Trigger::ALL.into_iter().map(|t| view! {
                        <option value=t.as_str() selected=move || selected(live.view.get().trigger, t.as_str())>{t.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"From " <input type="date" name="from" prop:value=move || live.view.get().from.unwrap_or_default()
                on:change=move |ev| set(|q, v| q.from = v, event_target_value(&ev))/></label>
            <label>"To " <input type="date" name="to" prop:value=move || live.view.get().to.unwrap_or_default()
                on:change=move |ev| set(|q, v| q.to = v, event_target_value(&ev))/></label>
        </div>
    }
}

#[component]
fn Pager(live: Live) -> impl IntoView {
    let newest = move |_| {
        let mut q = live.view.get_untracked();
        q.cursor = None;
        go(&q);
    };
    let older = move |_| {
        let mut q = live.view.get_untracked();
        q.cursor = live.next_cursor.get_untracked();
        go(&q);
    };
    view! {
        <div class="pager">
            <Show when=move || live.view.get().cursor.is_some()>
                <button class="secondary" on:click=newest>"← Newest"</button>
            </Show>
            <Show when=move || live.next_cursor.get().is_some()>
                <button class="secondary" on:click=older>"Older →"</button>
            </Show>
        </div>
    }
}

#[component]
fn ExecutionsTable(live: Live, selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    view! {
        <table class="grid executions">
            <thead><tr><th>"Job"</th><th>"Status"</th><th>"Trigger"</th><th>"Started"</th><th>"Duration"</th><th>"Exit"</th></tr></thead>
            <tbody>
                <For each=move || live.executions.get() key=|e| (e.id, e.status) let:e>
                    <tr class="clickable" data-execution=e.id.to_string() on:click=move |_| selected.set(Some(e.id))>
                        <td>{e.job.clone()}</td>
                        <td><StatusBadge status=e.status/></td>
                        <td>{e.trigger.as_str()}</td>
                        <td title=e.started_at.to_rfc3339()>{move || relative(e.started_at, live.now.get())}</td>
                        <td>{duration(e.duration_ms)}</td>
                        <td>{e.exit_code.map(|c| c.to_string()).unwrap_or_default()}</td>
                    </tr>
                </For>
            </tbody>
        </table>
    }
}

#[component]
fn BatchCards(live: Live) -> impl IntoView {
    view! {
        <div class="batches">
            <For each=move || live.batches.get() key=|b| (b.name.clone(), b.updated_at) let:b>
                {
                    let done = b.completed_today + b.failed_today;
                    let total = (done + b.pending + b.processing).max(1);
                    let pct = done * 100 / total;
                    view! {
                        <div class="batch-card" data-batch=b.name.clone()>
                            <h3>{b.name.clone()}</h3>
                            <div class="progress"><div class="bar" style=format!("width: {pct}%")></div></div>
                            <dl>
                                <dt>"Pending"</dt><dd>{b.pending}</dd>
                                <dt>"Processing"</dt><dd>{b.processing}</dd>
                                <dt>"Completed today"</dt><dd>{b.completed_today}</dd>
                                <dt>"Failed today"</dt><dd>{b.failed_today}</dd>
                                <dt>"Success rate"</dt><dd>{b.success_rate.map(|r| format!("{:.0} %", r * 100.0)).unwrap_or_else(|| "—".into())}</dd>
                            </dl>
                        </div>
                    }
                }
            </For>
        </div>
    }
}

#[component]
fn ExecutionModal(selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    let detail = RwSignal::new(None::<Result<Execution, String>>);
    Effect::new(move |_| {
        let id = selected.get();
        detail.set(None);
        if let Some(id) = id {
            leptos::task::spawn_local(async move {
                let r = crate::pages::monitoring::execution_detail(id)
                    .await
                    .map_err(|e| e.to_string());
                if selected.get_untracked() == Some(id) {
                    detail.set(Some(r));
                }
            });
        }
    });
    let _ = window_event_listener(leptos::ev::keydown, move |e| {
        if e.key() == "Escape" {
            selected.set(None);
        }
    });
    view! {
        <Show when=move || selected.get().is_some()>
            <div class="modal-backdrop" on:click=move |_| selected.set(None)>
                <div class="modal" role="dialog" aria-modal="true" on:click=|e| e.stop_propagation()>
                    <button class="close" aria-label="Close" on:click=move |_| selected.set(None)>"×"</button>
                    {move || match detail.get() {
                        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                        Some(Ok(x)) => view! {
                            <h2>{x.summary.job.clone()} " " <StatusBadge status=x.summary.status/></h2>
                            <p class="muted small">{x.summary.id.to_string()} " · " {x.summary.trigger.as_str()}
                                {x.summary.triggered_by.clone().map(|t| format!(" by {t}"))}</p>
                            <p>"Exit code: " {x.summary.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}
                               " · Duration: " {duration(x.summary.duration_ms)}</p>
                            {x.summary.error_message.clone().map(|m| view! { <h3>"Error"</h3><pre class="error-text">{m}</pre> })}
                            <h3>"Output"</h3>
                            <pre class="json">{x.output.as_ref().map(|o| serde_json::to_string_pretty(o).unwrap_or_default()).unwrap_or_else(|| "null".into())}</pre>
                            {x.log_tail.clone().map(|l| view! { <h3>"Log tail"</h3><pre class="log">{l}</pre> })}
                        }.into_any(),
                    }}
                </div>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Trigger;

    fn live() -> Live {
        Live {
            stats: RwSignal::new(Stats {
                hours: 24,
                total: 0,
                running_now: 0,
                failures: 0,
                next_run: None,
                jobs: vec![],
                stuck: vec![],
                timeline: vec![],
            }),
            jobs: RwSignal::new(vec![]),
            batches: RwSignal::new(vec![]),
            executions: RwSignal::new(vec![]),
            connected: RwSignal::new(true),
            now: RwSignal::new(Utc::now()),
            view: RwSignal::new(ExecutionQuery::default()),
            next_cursor: RwSignal::new(None),
        }
    }

    fn execution(id: Uuid, status: ExecutionStatus) -> ExecutionSummary {
        ExecutionSummary {
            id,
            job: "j".into(),
            status,
            trigger: Trigger::Api,
            triggered_by: None,
            started_at: Utc::now(),
            completed_at: None,
            duration_ms: None,
            exit_code: None,
            error_message: None,
            attempt: 1,
            host: None,
            scheduled_for: None,
        }
    }

    #[test]
    fn events_move_rows_and_kpis_in_place() {
        Owner::new().with(events_move_rows_and_kpis_in_place_inner);
    }

    fn events_move_rows_and_kpis_in_place_inner() {
        let l = live();
        let id = Uuid::new_v4();
        l.apply(ChangeEvent::Execution(execution(
            id,
            ExecutionStatus::Running,
        )));
        assert_eq!(
            (
                l.stats.get_untracked().total,
                l.stats.get_untracked().running_now
            ),
            (1, 1)
        );
        l.apply(ChangeEvent::Execution(execution(
            id,
            ExecutionStatus::Failed,
        )));
        let s = l.stats.get_untracked();
        assert_eq!((s.total, s.running_now, s.failures), (1, 0, 1));
        assert_eq!(
            l.executions.get_untracked().len(),
            1,
            "the row flipped, no duplicate"
        );
        assert_eq!(
            l.executions.get_untracked()[0].status,
            ExecutionStatus::Failed
        );
        let jobs = l.jobs.get_untracked();
        assert_eq!(jobs.len(), 1, "a first report adds its job row");
        assert_eq!(jobs[0].last_status, Some(ExecutionStatus::Failed));
        assert_eq!(jobs[0].consecutive_failures, 1);
        // A replayed copy of the same event changes nothing.
        l.apply(ChangeEvent::Execution(execution(
            id,
            ExecutionStatus::Failed,
        )));
        assert_eq!(l.stats.get_untracked().failures, 1);
    }

    #[test]
    fn relative_times() {
        let now = Utc::now();
        assert_eq!(relative(now, now), "just now");
        assert_eq!(
            relative(now - chrono::TimeDelta::minutes(3), now),
            "3 min ago"
        );
        assert_eq!(relative(now + chrono::TimeDelta::hours(2), now), "in 2 h");
        assert_eq!(duration(Some(1398)), "1.4 s");
        assert_eq!(
            countdown(now + chrono::TimeDelta::seconds(3725), now),
            "01:02:05"
        );
    }
}
