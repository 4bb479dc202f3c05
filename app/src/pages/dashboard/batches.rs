//! One card per batch queue: pending, processing, done today, success rate, progress,
//! and when its worker last reported (a queue whose worker died stops moving, and only
//! this says so).

use leptos::prelude::*;

use super::format::{percent, Moment};
use super::state::Live;

#[component]
pub fn BatchCards(live: Live) -> impl IntoView {
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
                                <dt>"Success rate"</dt><dd>{percent(b.success_rate)}</dd>
                                <dt>"Reported"</dt><dd data-field="reported"><Moment at=b.updated_at now=live.now browser_zone=live.browser_zone/></dd>
                            </dl>
                        </div>
                    }
                }
            </For>
        </div>
    }
}
