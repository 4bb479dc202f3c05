//! The 7-day timeline: runs per day stacked by status (charming → echarts, served from
//! our origin), filtered by job and status in the browser, with the average duration of
//! each bar in its tooltip. Redrawn in place whenever the live timeline changes.

use chrono::NaiveDate;
use leptos::prelude::*;

use super::state::Live;
use crate::model::{ExecutionStatus, TimelinePoint};

/// Statuses in stacking order, with their colours.
pub const STATUS_COLOURS: [(ExecutionStatus, &str); 5] = [
    (ExecutionStatus::Completed, "#16a34a"),
    (ExecutionStatus::Failed, "#dc2626"),
    (ExecutionStatus::TimedOut, "#d97706"),
    (ExecutionStatus::Cancelled, "#9ca3af"),
    (ExecutionStatus::Running, "#2563eb"),
];

/// One bar segment: how many runs of `status` on `day`, and their average duration.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub count: i64,
    pub avg_duration_ms: Option<f64>,
}

/// The chart's seven days, oldest first, ending `today`.
#[cfg_attr(
    not(any(feature = "hydrate", test)),
    expect(dead_code, reason = "the chart is drawn in the browser")
)]
pub fn week_ending(today: NaiveDate) -> Vec<NaiveDate> {
    (0..7)
        .rev()
        .map(|n| today - chrono::TimeDelta::days(n))
        .collect()
}

/// The chart's data over `days`: per status (in [`STATUS_COLOURS`] order, always all
/// five so the colours and legend stay put), one bar per day, over the jobs the filter
/// keeps; a status filtered out has empty bars.
#[cfg_attr(
    not(any(feature = "hydrate", test)),
    expect(dead_code, reason = "the chart is drawn in the browser")
)]
pub fn series(
    points: &[TimelinePoint],
    days: &[NaiveDate],
    job: Option<&str>,
    status: Option<ExecutionStatus>,
) -> Vec<(ExecutionStatus, Vec<Bar>)> {
    STATUS_COLOURS
        .iter()
        .map(|(s, _)| *s)
        .map(|s| {
            let shown = status.is_none_or(|f| f == s);
            let bars = days
                .iter()
                .map(|d| {
                    let cell = points.iter().filter(|p| {
                        shown && p.day == *d && p.status == s && job.is_none_or(|j| j == p.job)
                    });
                    let (mut count, mut timed, mut total_ms) = (0, 0, 0.0);
                    for p in cell {
                        count += p.count;
                        if let Some(avg) = p.avg_duration_ms {
                            timed += p.timed;
                            total_ms += avg * p.timed as f64;
                        }
                    }
                    Bar {
                        count,
                        avg_duration_ms: (timed > 0).then(|| total_ms / timed as f64),
                    }
                })
                .collect();
            (s, bars)
        })
        .collect()
}

/// The element the chart is drawn in.
const CHART_ID: &str = "timeline-chart";

#[component]
pub fn Timeline(live: Live) -> impl IntoView {
    let job = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    let _ = window_event_listener(leptos::ev::resize, |_| {
        crate::pages::echarts::resize(CHART_ID)
    });
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let j = job.get();
        let s = ExecutionStatus::parse(&status.get());
        let days = week_ending(chrono::Utc::now().date_naive());
        let bars = live.stats.with(|st| {
            series(
                &st.timeline,
                &days,
                (!j.is_empty()).then_some(j.as_str()),
                s,
            )
        });
        draw(&days, &bars);
    });
    view! {
        <div class="filters chart-filters">
            <label>"Job "
                <select name="chart-job" on:change=move |ev| job.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    <For each=move || live.jobs.with(|js| js.iter().map(|j| j.name.clone()).collect::<Vec<_>>())
                         key=|n| n.clone() let:n>
                        <option value=n.clone()>{n.clone()}</option>
                    </For>
                </select>
            </label>
            <label>"Status "
                <select name="chart-status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    {STATUS_COLOURS.iter().map(|(s, _)| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </label>
        </div>
        <div id=CHART_ID class="chart"></div>
    }
}

/// Draws (or redraws) the chart into `#timeline-chart`.
#[cfg(feature = "hydrate")]
fn draw(days: &[NaiveDate], series: &[(ExecutionStatus, Vec<Bar>)]) {
    use charming::component::{Axis, Grid, Legend};
    use charming::datatype::DataPointItem;
    use charming::element::{AxisType, ItemStyle, Tooltip, Trigger};

    let days: Vec<String> = days.iter().map(|d| super::format::short_day(*d)).collect();
    let series = series
        .iter()
        .map(|(status, bars)| {
            let colour = STATUS_COLOURS
                .iter()
                .find(|(s, _)| s == status)
                .map_or("#888", |(_, c)| *c);
            let data: Vec<DataPointItem> = bars
                .iter()
                .zip(&days)
                .map(|(b, day)| {
                    let name = match b.avg_duration_ms {
                        Some(ms) => {
                            format!("{day} · avg {}", super::format::duration(Some(ms as i64)))
                        }
                        None => day.clone(),
                    };
                    DataPointItem::new(b.count).name(name)
                })
                .collect();
            charming::series::Bar::new()
                .name(status.as_str())
                .stack("runs")
                .item_style(ItemStyle::new().color(colour))
                .data(data)
        })
        .collect();
    // The tooltip names each bar "Mon 23 · avg 1.4 s" through the data item's name.
    let chart = crate::pages::echarts::BarChart {
        background_color: Some("transparent"),
        animation: false,
        legend: Some(Legend::new()),
        tooltip: Some(
            Tooltip::new()
                .trigger(Trigger::Item)
                .formatter("{a}: {c} runs<br/>{b}"),
        ),
        grid: Some(Grid::new().top(40).bottom(30).left(40).right(16)),
        x_axis: Axis::new().type_(AxisType::Category).data(days),
        y_axis: Axis::new().type_(AxisType::Value).min_interval(1),
        series,
    };
    crate::pages::echarts::draw(CHART_ID, 260, &chart);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_filter_by_job_and_status_and_average_durations() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let p = |job: &str, days_ago, status, count, timed, avg| TimelinePoint {
            job: job.into(),
            day: today - chrono::TimeDelta::days(days_ago),
            status,
            count,
            timed,
            avg_duration_ms: avg,
        };
        let points = vec![
            // One of a's three runs has no duration: it does not weigh on the average.
            p("a", 0, ExecutionStatus::Completed, 3, 2, Some(1000.0)),
            p("b", 0, ExecutionStatus::Completed, 1, 1, Some(4000.0)),
            p("a", 6, ExecutionStatus::Failed, 2, 0, None),
            p("a", 9, ExecutionStatus::Failed, 7, 0, None),
        ];
        let all = series(&points, &week_ending(today), None, None);
        assert_eq!(all.len(), 5, "one series per status");
        let completed = &all[0];
        assert_eq!(completed.0, ExecutionStatus::Completed);
        assert_eq!(completed.1[6].count, 4, "today is the last bar");
        assert_eq!(
            completed.1[6].avg_duration_ms,
            Some(2000.0),
            "weighted by timed runs"
        );
        assert_eq!(
            all[1].1[0].count, 2,
            "six days ago is the first bar; older is out"
        );
        let only_b = series(
            &points,
            &week_ending(today),
            Some("b"),
            Some(ExecutionStatus::Completed),
        );
        assert_eq!(only_b.len(), 5, "the series stay, emptied");
        assert!(only_b[1..]
            .iter()
            .all(|(_, bars)| bars.iter().all(|b| b.count == 0)));
        assert_eq!(only_b[0].1[6].count, 1);
        assert_eq!(only_b[0].1[6].avg_duration_ms, Some(4000.0));
    }
}
