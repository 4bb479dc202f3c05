//! Browser-only plumbing of the dashboard: the one EventSource and the ticking clock.

use std::cell::Cell;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::model::ChangeEvent;

/// Wait before opening a new stream once the browser has given up on one.
const REOPEN_AFTER_MS: u32 = 2_000;

/// Opens `/api/v1/events?after=…` and feeds every change to `apply`. While the server
/// is merely unreachable the browser reconnects by itself and sends Last-Event-ID, so
/// the server replays what was missed. If the browser gives up (an error answer, e.g.
/// from a proxy while the server restarts), a new stream resumes after the last event
/// seen, so nothing is missed or applied twice either way.
pub fn connect(after: i64, apply: impl Fn(ChangeEvent) + 'static, connected: RwSignal<bool>) {
    open(Rc::new(Cell::new(after)), Rc::new(apply), connected);
}

fn open(last: Rc<Cell<i64>>, apply: Rc<dyn Fn(ChangeEvent)>, connected: RwSignal<bool>) {
    let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/events?after={}", last.get()))
    else {
        return;
    };
    for kind in ["execution", "batch", "job", "job_deleted"] {
        let (apply, last) = (apply.clone(), last.clone());
        let on_message =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
                if let Ok(id) = m.last_event_id().parse::<i64>() {
                    if id <= last.get() {
                        return; // already applied
                    }
                    last.set(id);
                }
                if let Some(ev) = m.data().as_string().and_then(|t| decode(kind, &t)) {
                    apply(ev);
                }
            });
        let _ = source.add_event_listener_with_callback(kind, on_message.as_ref().unchecked_ref());
        on_message.forget();
    }
    // Resumed from before the oldest events the server still keeps (what this page
    // holds is stale, only a fresh snapshot is whole), or the session ended (the reload
    // lands on the sign-in page).
    let reload = Closure::<dyn Fn()>::new(|| {
        let _ = window().location().reload();
    });
    for kind in ["reset", "signed_out"] {
        let _ = source.add_event_listener_with_callback(kind, reload.as_ref().unchecked_ref());
    }
    reload.forget();
    let on_open = Closure::<dyn Fn()>::new(move || connected.set(true));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let stream = source.clone();
    let on_error = Closure::<dyn Fn()>::new(move || {
        connected.set(false);
        if stream.ready_state() == web_sys::EventSource::CLOSED {
            let (last, apply) = (last.clone(), apply.clone());
            gloo_timers::callback::Timeout::new(REOPEN_AFTER_MS, move || {
                open(last, apply, connected)
            })
            .forget();
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    // The stream lives as long as the page (or until the browser closes it).
    std::mem::forget(source);
}

/// The `data` of an event's JSON (`{"kind":…,"data":…}`), its type known from the
/// SSE event name. Decoding by name rather than through `ChangeEvent`'s tagged-enum
/// impl keeps serde's buffering decoder out of the bundle.
fn decode(kind: &str, json: &str) -> Option<ChangeEvent> {
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        data: T,
    }
    fn data<T: serde::de::DeserializeOwned>(json: &str) -> Option<T> {
        serde_json::from_str::<Envelope<T>>(json)
            .ok()
            .map(|e| e.data)
    }
    match kind {
        "execution" => data(json).map(ChangeEvent::Execution),
        "batch" => data(json).map(ChangeEvent::Batch),
        "job" => data(json).map(ChangeEvent::Job),
        "job_deleted" => data(json).map(ChangeEvent::JobDeleted),
        _ => None,
    }
}

/// Moves `now` forward every second (countdowns, "3 min ago", alerts).
pub fn tick_every_second(now: RwSignal<DateTime<Utc>>) {
    gloo_timers::callback::Interval::new(1000, move || now.set(Utc::now())).forget();
}
