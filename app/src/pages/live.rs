//! Browser-only plumbing of the dashboard: the one EventSource and the ticking clock.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::model::{ChangeEvent, ExecutionStatus, TimelinePoint};

/// Opens `/api/v1/events?after=…` and feeds every change to `apply`. The browser
/// reconnects by itself and sends Last-Event-ID, so the server replays what was missed.
pub fn connect(after: i64, apply: impl Fn(ChangeEvent) + 'static, connected: RwSignal<bool>) {
    let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/events?after={after}")) else {
        return;
    };
    let apply = std::rc::Rc::new(apply);
    for kind in ["execution", "batch", "job"] {
        let apply = apply.clone();
        let on_message =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
                if let Some(ev) = m
                    .data()
                    .as_string()
                    .and_then(|t| serde_json::from_str::<ChangeEvent>(&t).ok())
                {
                    apply(ev);
                }
            });
        let _ = source.add_event_listener_with_callback(kind, on_message.as_ref().unchecked_ref());
        on_message.forget();
    }
    let on_open = Closure::<dyn Fn()>::new(move || connected.set(true));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let on_error = Closure::<dyn Fn()>::new(move || connected.set(false));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    // The stream lives as long as the page.
    std::mem::forget(source);
}

/// Moves `now` forward every second (countdowns and "3 min ago").
pub fn tick_every_second(now: RwSignal<DateTime<Utc>>) {
    gloo_timers::callback::Interval::new(1000, move || now.set(Utc::now())).forget();
}

/// Draws the 7-day chart: runs per day stacked by status, in the status colours.
pub fn draw_timeline(points: &[TimelinePoint]) {
    use charming::component::{Axis, Legend};
    use charming::element::{AxisType, ItemStyle, Tooltip, Trigger};
    use charming::series::Bar;
    use charming::{Chart, WasmRenderer};

    let today = Utc::now().date_naive();
    let days: Vec<_> = (0..7)
        .rev()
        .map(|n| today - chrono::TimeDelta::days(n))
        .collect();
    let mut chart = Chart::new()
        .animation(false)
        .legend(Legend::new())
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(days.iter().map(|d| d.format("%a %d").to_string()).collect()),
        )
        .y_axis(Axis::new().type_(AxisType::Value));
    for (status, colour) in [
        (ExecutionStatus::Completed, "#16a34a"),
        (ExecutionStatus::Failed, "#dc2626"),
        (ExecutionStatus::TimedOut, "#d97706"),
        (ExecutionStatus::Cancelled, "#9ca3af"),
        (ExecutionStatus::Running, "#2563eb"),
    ] {
        let counts: Vec<i64> = days
            .iter()
            .map(|d| {
                points
                    .iter()
                    .filter(|p| p.day == *d && p.status == status)
                    .map(|p| p.count)
                    .sum()
            })
            .collect();
        chart = chart.series(
            Bar::new()
                .name(status.as_str())
                .stack("runs")
                .item_style(ItemStyle::new().color(colour))
                .data(counts),
        );
    }
    let width = document()
        .get_element_by_id("timeline-chart")
        .map(|e| e.client_width().max(300) as u32)
        .unwrap_or(800);
    if let Err(e) = WasmRenderer::new(width, 260).render("timeline-chart", &chart) {
        leptos::logging::error!("timeline chart: {e:?}");
    }
}
