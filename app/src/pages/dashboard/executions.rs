//! The executions table: filters and keyset pages kept in the URL, rows that arrive
//! and flip live, and the detail modal (pretty JSON output, error, exit code, log tail).

use leptos::prelude::*;
use uuid::Uuid;

use super::format::{local_time, run_duration, Moment, StatusBadge};
use super::state::Live;
use crate::model::{ExecutionDetails, ExecutionQuery, ExecutionStatus, ExecutionSummary};

/// Moves the page to the view `q` (new URL, new history entry). With `to_table` the
/// window scrolls to the top of the executions (a new page of them is read from its
/// top); else it stays where it is (the router would scroll to the top of the page,
/// away from the filters being changed).
fn go(q: &ExecutionQuery, to_table: bool) {
    let navigate = leptos_router::hooks::use_navigate();
    let anchor = if to_table {
        format!("#{}", super::EXECUTIONS_ANCHOR)
    } else {
        String::new()
    };
    navigate(
        &format!("/monitoring?{}{anchor}", q.to_query_string()),
        leptos_router::NavigateOptions {
            scroll: false,
            ..Default::default()
        },
    );
}

/// The link to the running executions (of job `job`, or of all), scrolled to: where the
/// "Running now" card and a *stuck* badge lead.
pub fn running_view(job: Option<&str>) -> String {
    let q = ExecutionQuery {
        job: job.map(str::to_string),
        status: Some(ExecutionStatus::Running.as_str().to_string()),
        ..Default::default()
    };
    format!(
        "/monitoring?{}#{}",
        q.to_query_string(),
        super::EXECUTIONS_ANCHOR
    )
}

#[component]
pub fn Filters(live: Live) -> impl IntoView {
    // Each control rewrites one field of the view and starts again from the newest page.
    let set = move |field: fn(&mut ExecutionQuery, Option<String>), value: String| {
        let mut q = live.view.get_untracked();
        field(&mut q, (!value.is_empty()).then_some(value));
        q.cursor = None;
        go(&q, false);
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
pub fn Pager(live: Live) -> impl IntoView {
    let newest = move |_| {
        let mut q = live.view.get_untracked();
        q.cursor = None;
        go(&q, true);
    };
    let older = move |_| {
        let mut q = live.view.get_untracked();
        q.cursor = live.next_cursor.get_untracked();
        go(&q, true);
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
pub fn ExecutionsTable(live: Live, selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    view! {
        <table class="grid executions">
            <thead><tr><th>"Job"</th><th>"Status"</th><th>"Trigger"</th><th>"Started"</th><th>"Duration"</th><th>"Exit"</th></tr></thead>
            <tbody>
                <For each=move || live.executions.get() key=|e| (e.id, e.status) let:e>
                    // Rows open with a click, or with Enter from the keyboard. That Enter
                    // must not go on to press the dialog's close button, focused meanwhile.
                    <tr class="clickable" tabindex="0" data-execution=e.id.to_string()
                        on:click=move |_| selected.set(Some(e.id))
                        on:keydown=move |ev| if ev.key() == "Enter" {
                            ev.prevent_default();
                            selected.set(Some(e.id));
                        }>
                        <td>{e.job.clone()}
                            // Why it failed, at a glance; the details hold all of it.
                            // (One line, cut by the style sheet.)
                            {e.error_message.clone().map(|m| view! {
                                <div class="small error-line" data-field="error">{m}</div>
                            })}
                        </td>
                        <td><StatusBadge status=e.status/></td>
                        <td>{e.trigger.as_str()}</td>
                        <td><Moment at=e.started_at now=live.now browser_zone=live.browser_zone absolute=true/></td>
                        <td class="duration">{
                            let (status, since, ms) = (e.status, e.started_at, e.duration_ms);
                            move || run_duration(Some(status), Some(since), ms, live.now)
                        }</td>
                        <td>{e.exit_code.map(|c| c.to_string()).unwrap_or_default()}</td>
                    </tr>
                </For>
            </tbody>
        </table>
    }
}

#[component]
pub fn ExecutionModal(live: Live, selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    let detail = RwSignal::new(None::<Result<(ExecutionSummary, ExecutionDetails), String>>);
    // Only the latest request's answer is shown: an older one may arrive after it.
    let latest_request = StoredValue::new(0u64);
    let load = move |id: Uuid| {
        let request = latest_request.get_value() + 1;
        latest_request.set_value(request);
        leptos::task::spawn_local(async move {
            let r = crate::pages::monitoring::execution_detail(id)
                .await
                .map_err(|e| e.to_string());
            if latest_request.get_value() == request && selected.get_untracked() == Some(id) {
                detail.set(Some(r));
            }
        });
    };
    Effect::new(move |_| {
        let id = selected.get();
        detail.set(None);
        if let Some(id) = id {
            load(id);
        }
    });
    // The run shown changed (it ended, or timed out): read it again for its output, log
    // and end, keeping what is shown until the new details arrive. Also while its first
    // read is under way, which may have left before the change.
    Effect::new(move |_| {
        let Some(e) = live.changed.get() else {
            return;
        };
        let current = detail.with_untracked(|d| {
            matches!(d, Some(Ok((x, _))) if x.status == e.status && x.completed_at == e.completed_at)
        });
        if selected.get_untracked() == Some(e.id) && !current {
            load(e.id);
        }
    });
    let _ = window_event_listener(leptos::ev::keydown, move |e| {
        if e.key() == "Escape" {
            selected.set(None);
        }
    });
    // Focus goes to the dialog's close button and, once it closes, back to what opened it
    // (its row), so a keyboard user is never left at the top of the page.
    // The opener lives in the effect's own state, never in a value the component owns:
    // a browser element held by the component would be made during the server's render
    // too, bound to its thread, and the render's owner may be dropped on another
    // thread once a long page has streamed (a panic that cut the page short).
    let close_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(
        move |was: Option<(bool, Option<leptos::web_sys::HtmlElement>)>| {
            use leptos::wasm_bindgen::JsCast;
            let open = selected.with(Option::is_some);
            let (was_open, opener) = was.unwrap_or((false, None));
            let opener = match (was_open, open) {
                (false, true) => document()
                    .active_element()
                    .and_then(|el| el.dyn_into().ok()),
                (true, false) => {
                    if let Some(el) = &opener {
                        let _ = el.focus();
                    }
                    None
                }
                _ => opener,
            };
            (open, opener)
        },
    );
    Effect::new(move |_| {
        if let Some(button) = close_button.get() {
            let _ = button.focus();
        }
    });
    view! {
        <Show when=move || selected.get().is_some()>
            <div class="modal-backdrop" on:click=move |_| selected.set(None)>
                <div class="modal" role="dialog" aria-modal="true" on:click=|e| e.stop_propagation()>
                    <button class="close" aria-label="Close" node_ref=close_button on:click=move |_| selected.set(None)>"×"</button>
                    {move || match detail.get() {
                        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                        Some(Ok((x, d))) => view! {
                            <h2>{x.job.clone()} " " <StatusBadge status=x.status/></h2>
                            <p class="muted small">{x.id.to_string()} " · " {x.trigger.as_str()}
                                {x.triggered_by.clone().map(|t| format!(" by {t}"))}
                                {x.host.clone().map(|h| format!(" · on {h}"))}
                                {(x.attempt > 1).then(|| format!(" · attempt {}", x.attempt))}</p>
                            <p>"Started " {local_time(x.started_at, true)}
                               {x.completed_at.map(|t| view! { " · Ended " {local_time(t, true)} })}
                               " · Exit code: "
                               {x.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}
                               " · Duration: " {
                                   let (status, since, ms) = (x.status, x.started_at, x.duration_ms);
                                   move || run_duration(Some(status), Some(since), ms, live.now)
                               }</p>
                            {x.error_message.clone().map(|m| view! { <h3>"Error"</h3><pre class="error-text">{m}</pre> })}
                            <h3>"Output"</h3>
                            {d.output_truncated.then(|| view! { <p class="muted small">"The output was over the size cap: what is kept is shown."</p> })}
                            {match d.output.as_ref() {
                                Some(o) => view! { <pre class="json">{serde_json::to_string_pretty(o).unwrap_or_default()}</pre> }.into_any(),
                                None => view! { <p class="muted">"No output reported."</p> }.into_any(),
                            }}
                            {d.params.as_ref().map(|p| view! { <h3>"Parameters"</h3><pre class="json">{serde_json::to_string_pretty(p).unwrap_or_default()}</pre> })}
                            {d.log_tail.clone().map(|l| view! { <h3>"Log tail"</h3><pre class="log">{l}</pre> })}
                        }.into_any(),
                    }}
                </div>
            </div>
        </Show>
    }
}
