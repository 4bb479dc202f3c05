//! Browser-only plumbing of the dashboard: the one EventSource and the ticking clock.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::model::ChangeEvent;

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
