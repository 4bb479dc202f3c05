//! One row per job: its latest run, 7-day success rate, failure streak, next run and
//! alerts (stuck, late, failing), re-evaluated every second against the ticking clock;
//! and the summary above the page of the jobs that have alerts.

use leptos::prelude::*;
use leptos_meta::Title;

use super::executions::running_view;
use super::format::{duration, percent, run_duration, Moment, StatusBadge};
use super::state::Live;
use crate::health::{self, Alert};
use crate::model::{job_row_anchor, name_order, ping_url_anchor, Job, JobKind, PingUrls};

/// The tooltip of a *stuck* badge, which links to the job's running executions.
const STUCK_HINT: &str =
    "A run has not reported its end within what this job allows. Click to list its running executions.";

/// Jobs the summary names before it offers the rest: in a wide outage a list of every
/// job would push the table off the screen (and cost a link each to render).
const ATTENTION_LISTED: usize = 12;

/// The jobs that need looking at now, most urgent first (stuck, then late, then
/// failing; by name within each), each a link to its row. With a long job list, this
/// is what the morning look is for.
#[component]
pub fn Attention(live: Live) -> impl IntoView {
    // A memo: the clock ticks every second, but the summary, its count and the title
    // change only when the list does.
    let alerting = Memo::new(move |_| {
        let now = live.now.get();
        let mut out: Vec<(String, String, Vec<Alert>)> = live.jobs.with(|jobs| {
            jobs.iter()
                .map(|j| {
                    (
                        j.name.clone(),
                        j.display_name.clone(),
                        alerts_of(live, j, now),
                    )
                })
                .filter(|(_, _, alerts)| !alerts.is_empty())
                .collect()
        });
        out.sort_by(|(a, _, a_alerts), (b, _, b_alerts)| {
            urgency(a_alerts[0])
                .cmp(&urgency(b_alerts[0]))
                .then_with(|| name_order(a, b))
        });
        out
    });
    // The tab says how many jobs need attention, so a background tab or a wall screen
    // shows it too.
    let title = move || match alerting.with(Vec::len) {
        0 => "cronwatch".to_string(),
        n => format!("({n}) cronwatch"),
    };
    let show_all = RwSignal::new(false);
    view! {
        <Title text=title/>
        <section class="attention" data-count=move || alerting.with(Vec::len)>
            {move || {
                let jobs = alerting.get();
                if jobs.is_empty() {
                    return view! { <span class="attention-ok">"No job is stuck, late or failing."</span> }
                        .into_any();
                }
                let heading = match jobs.len() {
                    1 => "1 job needs attention:".to_string(),
                    n => format!("{n} jobs need attention:"),
                };
                let more = if show_all.get() {
                    0
                } else {
                    jobs.len().saturating_sub(ATTENTION_LISTED)
                };
                let listed = jobs.len() - more;
                view! {
                    <strong>{heading}</strong>
                    {jobs.into_iter().take(listed).map(|(name, display, alerts)| view! {
                        // rel=external: the browser scrolls to the row itself; the
                        // router has no page to load for a fragment.
                        <a class="attention-job" href=format!("#{}", job_row_anchor(&name)) rel="external" data-job=name>
                            {display}
                            {alerts.into_iter().map(|a| view! {
                                <span class=format!("alert-badge alert-{}", a.kind())>{a.label()}</span>
                            }).collect_view()}
                        </a>
                    }).collect_view()}
                    {(more > 0).then(|| view! {
                        <button type="button" class="attention-more" on:click=move |_| show_all.set(true)>
                            {format!("and {more} more")}
                        </button>
                    })}
                }
                .into_any()
            }}
        </section>
    }
}

/// A job's ping URL for admins, folded away (it is a credential), with a two-step
/// Regenerate. Both are plain HTML: the form posts, the server answers with the page.
#[component]
fn PingUrl(name: String, url: String) -> impl IntoView {
    view! {
        <details class="ping-url">
            <summary>"Ping URL"</summary>
            <code id=ping_url_anchor(&name)>{url}</code>
            <div class="muted small">"Append /start, /fail, /log or an exit code; ?rid= pairs a start with its end."</div>
            <details class="ping-regenerate">
                <summary>"Regenerate…"</summary>
                <form method="post" action=format!("/monitoring/jobs/{name}/ping-key")>
                    <span class="small">"The URL above stops working at once. "</span>
                    <button type="submit">"Regenerate now"</button>
                </form>
            </details>
        </details>
    }
}

/// An admin's Run now for a job cronwatch runs (a call, an agent's command), in two steps, as plain HTML: the form
/// posts, the server starts the run and answers with the page at the job's row, where
/// the run shows live until its end. It links to the job's run page (`server::http::run_page`)
/// for parameters and later times. Beside it while a run is under way: Cancel run.
#[component]
fn RunNow(name: String, display_name: String, estimate: Option<i64>) -> impl IntoView {
    let takes = estimate.map(|ms| format!(" It usually takes {}.", duration(Some(ms))));
    view! {
        <details class="run-now">
            <summary>"Run now…"</summary>
            <form method="post" action=format!("/monitoring/jobs/{name}/run")>
                <span class="small">"Runs " <strong>{display_name}</strong> " now." {takes} " "</span>
                <button type="submit">"Run now"</button>
                " " <a class="small" rel="external" href=format!("/monitoring/jobs/{name}/run")>"With parameters or later…"</a>
            </form>
            // Shown while the row says running (style sheet), without costing the bundle
            // a reactive view.
            <form class="cancel-run" method="post" action=format!("/monitoring/jobs/{name}/cancel")>
                <span class="small">"Or stop the run under way. "</span>
                <button type="submit">"Cancel run"</button>
            </form>
        </details>
    }
}

/// `job`'s alerts at `now`, judged on the page's live state: its runs' habit from the
/// 7-day timeline, and the oldest of its running executions.
fn alerts_of(live: Live, job: &Job, now: chrono::DateTime<chrono::Utc>) -> Vec<Alert> {
    let since = live
        .running
        .with(|running| health::running_since(job, running));
    // Only a running job can be stuck, so only its habit matters. Read for the others
    // too, it would make every row's alerts re-run at every report (each changes the
    // records).
    let typical = since.and_then(|_| typical(live, &job.name));
    health::alerts(job, typical, since, now)
}

/// What job `name`'s runs usually take, from the live 7-day timeline.
fn typical(live: Live, name: &str) -> Option<i64> {
    live.records.with(|r| health::typical_duration_ms(r, name))
}

/// Sort rank of an alert: what is wrong now before what went wrong.
fn urgency(alert: Alert) -> u8 {
    match alert {
        Alert::Stuck => 0,
        Alert::Late => 1,
        Alert::Failing(_) => 2,
    }
}

/// How many groups the job rows fall into (see [`JobsTable`]).
const ROW_GROUPS: usize = 64;

/// The group of `job`'s row.
fn group_of(job: &str) -> usize {
    job.bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        % ROW_GROUPS
}

/// `list` split into the row groups, by the job each item names.
fn partition<T: Clone>(list: &[T], job: fn(&T) -> &str) -> [Vec<T>; ROW_GROUPS] {
    let mut parts: [Vec<T>; ROW_GROUPS] = std::array::from_fn(|_| Vec::new());
    list.iter()
        .for_each(|x| parts[group_of(job(x))].push(x.clone()));
    parts
}

/// `list`'s groups, kept in step with it by one effect that sets only the groups that
/// changed.
fn grouped<T>(list: RwSignal<Vec<T>>, job: fn(&T) -> &str) -> [RwSignal<Vec<T>>; ROW_GROUPS]
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let groups = list
        .with_untracked(|l| partition(l, job))
        .map(RwSignal::new);
    Effect::new(move |_| {
        let parts = list.with(|l| partition(l, job));
        for (group, part) in groups.iter().zip(parts) {
            if group.with_untracked(|old| *old != part) {
                group.set(part);
            }
        }
    });
    groups
}

/// The jobs table; `ping` holds the jobs' ping URLs when the viewer is an admin.
#[component]
pub fn JobsTable(live: Live, ping: StoredValue<Option<PingUrls>>) -> impl IntoView {
    // Each row reads the clock, the job list, the running runs and the records. leptos
    // takes a reader that re-runs off its source's list by shifting the rest of that
    // list, so 2,000 rows reading `live` itself would make every tick and every report
    // cost rows² (150 ms a tick and 250 ms a report, measured). A row reads its
    // group's share of each instead (a 64th), which changes only when its own does.
    let clocks: [RwSignal<chrono::DateTime<chrono::Utc>>; ROW_GROUPS] =
        std::array::from_fn(|_| RwSignal::new(live.now.get_untracked()));
    Effect::new(move |_| {
        let now = live.now.get();
        clocks.iter().for_each(|c| c.set(now));
    });
    let jobs = grouped(live.jobs, |j| &j.name);
    let running = grouped(live.running, |e| &e.job);
    let records: [Memo<health::Records>; ROW_GROUPS] = std::array::from_fn(|g| {
        Memo::new(move |_| live.records.with(|r| r.only(|job| group_of(job) == g)))
    });
    let live_of = move |name: &str| {
        let g = group_of(name);
        Live {
            now: clocks[g],
            jobs: jobs[g],
            running: running[g],
            records: records[g],
            ..live
        }
    };
    view! {
        <table class="grid jobs">
            <thead><tr>
                <th>"Job"</th><th>"Alerts"</th><th>"Status"</th><th>"Last run"</th><th>"Duration"</th>
                <th>"Success 7 d"</th><th>"Failures in a row"</th><th>"Next run"</th>
            </tr></thead>
            <tbody>
                <For each=move || live.jobs.with(|js| js.iter().map(|j| j.name.clone()).collect::<Vec<_>>())
                     key=|name| name.clone() let:name>
                    <JobRow live=live_of(&name) ping name/>
                </For>
            </tbody>
        </table>
    }
}

/// A row keyed by job name; its cells follow that job's entry in the live list. Its
/// `live` holds its group's share of the clock, jobs, running runs and records.
#[component]
fn JobRow(live: Live, ping: StoredValue<Option<PingUrls>>, name: String) -> impl IntoView {
    let job = {
        let name = name.clone();
        Memo::new(move |_| {
            live.jobs
                .with(|js| js.iter().find(|j| j.name == name).cloned())
                .unwrap_or_else(|| Job::external(&name))
        })
    };
    let alerts = Memo::new(move |_| job.with(|j| alerts_of(live, j, live.now.get())));
    let rate = {
        let name = name.clone();
        move || {
            percent(
                live.records
                    .with(|r| r.get(&name).and_then(health::Record::success_rate)),
            )
        }
    };
    let when = move |t: Option<chrono::DateTime<chrono::Utc>>, none: &'static str| match t {
        Some(t) => view! { <Moment at=t now=live.now browser_zone=live.browser_zone/> }.into_any(),
        None => view! { <span>{none}</span> }.into_any(),
    };
    let failures = move || job.with(|j| j.consecutive_failures);
    let running_runs = running_view(Some(&name));
    view! {
        <tr id=job_row_anchor(&name) data-job=name class:alerting=move || alerts.with(|a| !a.is_empty())>
            <td>
                <strong>{move || job.with(|j| j.display_name.clone())}</strong>
                <div class="muted small">{move || job.with(|j| j.description.clone())}</div>
                {ping.with_value(|p| p.as_ref().map(|p| p.url_of(&name))).map(|url| match url {
                    Some(url) => view! { <PingUrl name=name.clone() url/> }.into_any(),
                    // A job that appeared after the page loaded: live events carry no keys.
                    None => view! { <div class="ping-url muted">"Ping URL: reload the page to see it."</div> }.into_any(),
                })}
                // Admins (who get the ping URLs) can run what cronwatch runs itself (http calls,
                // agents' commands). As
                // for the ping URL, a row shows what its job was when the page loaded.
                {job.with_untracked(|j| (ping.with_value(Option::is_some) && j.kind != JobKind::External).then(|| view! {
                    <RunNow name=name.clone() display_name=j.display_name.clone() estimate=j.estimated_duration_ms/>
                }))}
            </td>
            <td class="alerts" data-field="alerts">{move || alerts.get().into_iter().map(|a| {
                // A stuck run may be older than the latest: its badge lists the job's
                // running executions.
                let stuck = a == Alert::Stuck;
                view! {
                    <a class=format!("alert-badge alert-{}", a.kind()) href=stuck.then(|| running_runs.clone())
                       title=stuck.then_some(STUCK_HINT)>{a.label()}</a>
                }
            }).collect_view()}</td>
            <td>{move || job.with(|j| j.last_status).map(|s| view! { <StatusBadge status=s/> })}</td>
            <td>{move || when(job.with(|j| j.last_started_at), "never")}</td>
            <td class="duration">{move || job.with(|j| run_duration(j.last_status, j.last_started_at, j.last_duration_ms, live.now))}</td>
            <td data-field="success-rate">{rate}</td>
            <td class:alert={move || failures() >= health::FAILING_AFTER}>{failures}</td>
            // A paused job is not expected: its last expected start is stale.
            <td data-field="next-run">{move || {
                let (next, enabled) = job.with(|j| (j.next_run_at, j.enabled));
                when(next.filter(|_| enabled), if enabled { "—" } else { "paused" })
            }}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_goes_to_its_jobs_group_once() {
        let names: Vec<String> = (0..500).map(|i| format!("job-{i}")).collect();
        let parts = partition(&names, |n| n.as_str());
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), names.len());
        for (g, part) in parts.iter().enumerate() {
            assert!(part.iter().all(|n| group_of(n) == g));
            // Spread: no group holds more than four times its share.
            assert!(part.len() <= 4 * names.len() / ROW_GROUPS, "{}", part.len());
        }
    }
}
