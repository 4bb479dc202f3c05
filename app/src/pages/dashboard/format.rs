//! How times, durations and statuses are written on the dashboard.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::model::ExecutionStatus;

/// "3 min ago", "in 2 h": relative to the ticking clock.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A wall-clock time: in the viewer's time zone ("Nov 25 14:05:09") when `browser_zone`
/// and in the browser, else in UTC, labelled so ("Nov 25 13:05:09 UTC"). The server does
/// not know the viewer's zone; hydration must first write what the server wrote (it adopts
/// the server's text and only rewrites what changes later), then the page turns
/// `browser_zone` on. Written by hand: chrono's strftime engine would weigh on the WASM
/// bundle.
pub fn local_time(t: DateTime<Utc>, browser_zone: bool) -> String {
    use chrono::{Datelike, Timelike};
    #[cfg(feature = "hydrate")]
    let (t, zone) = if browser_zone {
        (t.with_timezone(&chrono::Local).fixed_offset(), "")
    } else {
        (t.fixed_offset(), " UTC")
    };
    // The server knows no viewer's zone.
    #[cfg(not(feature = "hydrate"))]
    let (_, zone) = (browser_zone, " UTC");
    format!(
        "{} {:02} {:02}:{:02}:{:02}{zone}",
        MONTHS[t.month0() as usize],
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A day as the chart's axis names it ("Mon 23").
#[cfg_attr(
    not(any(feature = "hydrate", test)),
    expect(dead_code, reason = "the chart is drawn in the browser")
)]
pub fn short_day(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    format!(
        "{} {:02}",
        WEEKDAYS[d.weekday().num_days_from_monday() as usize],
        d.day()
    )
}

pub fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        // Integer arithmetic: float formatting would cost the bundle ~15 KB.
        Some(ms) if ms < 59_950 => {
            let tenths = (ms + 50) / 100;
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
        Some(ms) if ms < 3_600_000 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        Some(ms) if ms < 86_400_000 => {
            format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
        }
        Some(ms) => format!("{} d {} h", ms / 86_400_000, (ms % 86_400_000) / 3_600_000),
    }
}

/// A run's duration: as reported once it has ended; while it runs, how long it has run
/// so far (reading `now` only then, so an ended run's cell never re-renders).
pub fn run_duration(
    status: Option<ExecutionStatus>,
    started_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    now: RwSignal<DateTime<Utc>>,
) -> String {
    match (status, started_at) {
        (Some(ExecutionStatus::Running), Some(since)) => {
            let ms = (now.get() - since).num_milliseconds().max(0);
            format!("{} so far", duration(Some(ms)))
        }
        _ => duration(duration_ms),
    }
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{} %", (r * 100.0).round() as i64))
        .unwrap_or_else(|| "—".into())
}

/// "01:02:05", or "3 d 01:02:05" from a day on.
pub fn countdown(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (at - now).num_seconds().max(0);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        (s % 86_400) / 3600,
        (s % 3600) / 60,
        s % 60
    );
    match s / 86_400 {
        0 => clock,
        days => format!("{days} d {clock}"),
    }
}

/// A point in time as "3 min ago" (with `absolute`, "Nov 25 14:05:09 · 3 min ago"); the
/// wall-clock time is always in the tooltip. Both follow the ticking clock `now` and,
/// once the page turns it on, `browser_zone` (see [`local_time`]).
#[component]
pub fn Moment(
    at: DateTime<Utc>,
    now: RwSignal<DateTime<Utc>>,
    browser_zone: RwSignal<bool>,
    #[prop(optional)] absolute: bool,
) -> impl IntoView {
    let text = move || {
        let rel = relative(at, now.get());
        if absolute {
            format!("{} · {rel}", local_time(at, browser_zone.get()))
        } else {
            rel
        }
    };
    view! {
        <time datetime=at.to_rfc3339() title=move || local_time(at, browser_zone.get())>{text}</time>
    }
}

#[component]
pub fn StatusBadge(status: ExecutionStatus) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.as_str()}</span> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_run_shows_how_long_it_has_run_so_far() {
        Owner::new().with(|| {
            let now = Utc::now();
            let clock = RwSignal::new(now);
            let since = Some(now - chrono::TimeDelta::seconds(75));
            let running = Some(ExecutionStatus::Running);
            assert_eq!(
                run_duration(running, since, None, clock),
                "1 min 15 s so far"
            );
            clock.set(now + chrono::TimeDelta::hours(2));
            assert_eq!(
                run_duration(running, since, None, clock),
                "2 h 1 min so far"
            );
            let ended = Some(ExecutionStatus::Completed);
            assert_eq!(run_duration(ended, since, Some(1398), clock), "1.4 s");
            assert_eq!(run_duration(None, None, None, clock), "—", "never ran");
        });
    }

    #[test]
    fn relative_times_durations_and_countdowns() {
        let now = Utc::now();
        assert_eq!(relative(now, now), "just now");
        assert_eq!(
            relative(now - chrono::TimeDelta::minutes(3), now),
            "3 min ago"
        );
        assert_eq!(relative(now + chrono::TimeDelta::hours(2), now), "in 2 h");
        assert_eq!(duration(Some(1398)), "1.4 s");
        assert_eq!(duration(Some(61_500)), "1 min 1 s");
        assert_eq!(duration(Some(3_725_000)), "1 h 2 min");
        assert_eq!(duration(Some(2 * 86_400_000 + 3_725_000)), "2 d 1 h");
        assert_eq!(percent(Some(0.756)), "76 %");
        assert_eq!(percent(None), "—");
        assert_eq!(
            countdown(now + chrono::TimeDelta::seconds(3725), now),
            "01:02:05"
        );
        assert_eq!(
            countdown(now + chrono::TimeDelta::seconds(3 * 86_400 + 3725), now),
            "3 d 01:02:05"
        );
        assert!(
            local_time(now, false).ends_with("UTC"),
            "the server writes UTC"
        );
        assert!(
            local_time(now, true).ends_with("UTC"),
            "even when asked for the viewer's zone"
        );
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-23T04:05:06Z")
            .unwrap()
            .to_utc();
        assert_eq!(local_time(t, false), "Nov 23 04:05:06 UTC");
        assert_eq!(short_day(t.date_naive()), "Mon 23");
    }
}
