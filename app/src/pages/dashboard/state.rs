//! The dashboard's live state: it starts from the server's snapshot and changes only
//! through change events (never by polling).

use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;

use crate::health::{self, Records};
use crate::model::{
    name_order, BatchQueue, ChangeEvent, ExecutionQuery, ExecutionStatus, ExecutionSummary, Job,
    JobRemoval, Stats, TimelinePoint,
};

/// Each job's record over the 7-day timeline of `stats`, worked out once a change
/// rather than once a job and change (see [`health::records`]).
pub fn records_of(stats: RwSignal<Stats>) -> Memo<Records> {
    Memo::new(move |_| stats.with(|s| health::records(&s.timeline)))
}

/// How many executions the table keeps.
pub const TABLE_ROWS: usize = 50;

/// The page's live state.
#[derive(Clone, Copy)]
pub struct Live {
    pub stats: RwSignal<Stats>,
    /// Each job's record over the 7-day timeline in `stats` ([`records_of`]).
    pub records: Memo<Records>,
    pub jobs: RwSignal<Vec<Job>>,
    pub batches: RwSignal<Vec<BatchQueue>>,
    pub executions: RwSignal<Vec<ExecutionSummary>>,
    pub connected: RwSignal<bool>,
    /// The ticking clock (countdowns, relative times, alerts).
    pub now: RwSignal<DateTime<Utc>>,
    /// Times are written in the viewer's zone: off while hydrating (the server wrote UTC),
    /// on from the page's mount (see `format::local_time`).
    pub browser_zone: RwSignal<bool>,
    /// The executions view the table shows (from the URL).
    pub view: RwSignal<ExecutionQuery>,
    /// Keyset position of the next (older) page, if any.
    pub next_cursor: RwSignal<Option<String>>,
    /// The execution the latest live event changed, shown in the table or not (an open
    /// run's details follow it).
    pub changed: RwSignal<Option<ExecutionSummary>>,
    /// Why the view's filter was refused, if it was.
    pub filter_error: RwSignal<Option<String>>,
    /// The running executions, whichever view the table shows: any of them can be
    /// stuck, not only a job's latest.
    pub running: RwSignal<Vec<ExecutionSummary>>,
}

impl Live {
    /// Applies one change event in place. A replayed copy of an event changes nothing.
    pub fn apply(&self, ev: ChangeEvent) {
        match ev {
            ChangeEvent::Execution(e) => self.apply_execution(e),
            ChangeEvent::Batch(b) => upsert_named(self.batches, b, |q| &q.name),
            ChangeEvent::Job(j) => upsert_named(self.jobs, j, |j| &j.name),
            ChangeEvent::JobDeleted(r) => self.forget_job(r),
        }
    }

    /// A job went with its history: its rows, cells and counts leave the page.
    fn forget_job(&self, r: JobRemoval) {
        let gone = |job: &str| job == r.name;
        let known = self
            .jobs
            .with_untracked(|jobs| jobs.iter().any(|j| gone(&j.name)));
        if !known {
            return; // a replayed copy, or a job this page never had
        }
        self.jobs.update(|jobs| jobs.retain(|j| !gone(&j.name)));
        self.executions
            .update(|rows| rows.retain(|e| !gone(&e.job)));
        self.running.update(|runs| runs.retain(|r| !gone(&r.job)));
        self.stats.update(|s| {
            s.running_now -= r.running;
            if s.hours == r.hours {
                s.total -= r.total;
                s.failures -= r.failures;
            }
            // `jobs` and `stuck` are not kept by the page (see `Stats::jobs`).
            s.timeline.retain(|p| !gone(&p.job));
        });
    }

    fn apply_execution(&self, e: ExecutionSummary) {
        let was_running = self.track_running(&e);
        let mut previous = None;
        let shown = self.view.with_untracked(|q| q.admits(&e));
        self.executions
            .update(|rows| match rows.iter_mut().find(|r| r.id == e.id) {
                Some(row) => {
                    previous = Some(row.status);
                    *row = e.clone();
                }
                None if shown => {
                    rows.insert(0, e.clone());
                    rows.truncate(TABLE_ROWS);
                }
                None => {}
            });
        // Rows outside the view still move the figures; the job row knows whether this
        // execution was seen before.
        if previous.is_none() {
            previous = self.jobs.with_untracked(|jobs| {
                jobs.iter()
                    .find(|j| j.name == e.job && j.last_execution_id == Some(e.id))
                    .and_then(|j| j.last_status)
            });
        }
        // A running run's later news (its agent took it) is not a second start.
        if previous.is_none() && was_running {
            previous = Some(ExecutionStatus::Running);
        }
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
                bump_timeline(&mut s.timeline, &e.job, day, p, -1, None);
            }
            if previous != Some(e.status) {
                bump_timeline(&mut s.timeline, &e.job, day, e.status, 1, e.duration_ms);
            }
        });
        self.jobs.update(|jobs| {
            if !jobs.iter().any(|j| j.name == e.job) {
                // First report of a job: the server created it as an external job.
                jobs.push(Job::external(&e.job));
                jobs.sort_by(|a, b| name_order(&a.name, &b.name));
            }
            if let Some(j) = jobs.iter_mut().find(|j| j.name == e.job) {
                if j.last_execution_id == Some(e.id)
                    || j.last_started_at.is_none_or(|t| t <= e.started_at)
                {
                    // Mirrors the server's counter: an end moves it, a start does not.
                    if j.last_status != Some(e.status) || j.last_execution_id != Some(e.id) {
                        match e.status {
                            ExecutionStatus::Failed | ExecutionStatus::TimedOut => {
                                j.consecutive_failures += 1
                            }
                            ExecutionStatus::Completed => j.consecutive_failures = 0,
                            _ => {}
                        }
                    }
                    j.last_execution_id = Some(e.id);
                    j.last_started_at = Some(e.started_at);
                    j.last_status = Some(e.status);
                    j.last_duration_ms = e.duration_ms;
                }
            }
        });
        self.changed.set(Some(e));
    }

    /// Keeps [`Live::running`] in step: a start joins it, an end leaves it. Whether
    /// the run was in it before.
    fn track_running(&self, e: &ExecutionSummary) -> bool {
        let known = self
            .running
            .with_untracked(|runs| runs.iter().any(|r| r.id == e.id));
        match (e.status == ExecutionStatus::Running, known) {
            (true, false) => self.running.update(|runs| runs.push(e.clone())),
            (false, true) => self.running.update(|runs| runs.retain(|r| r.id != e.id)),
            _ => {}
        }
        known
    }
}

/// Moves one job × day × status cell of the timeline by `delta` runs; a run that
/// arrives with a duration joins the cell's average.
fn bump_timeline(
    points: &mut Vec<TimelinePoint>,
    job: &str,
    day: NaiveDate,
    status: ExecutionStatus,
    delta: i64,
    duration_ms: Option<i64>,
) {
    match points
        .iter_mut()
        .find(|p| p.day == day && p.status == status && p.job == job)
    {
        Some(p) => {
            if let (Some(d), true) = (duration_ms, delta > 0) {
                let avg = p.avg_duration_ms.unwrap_or(0.0);
                p.avg_duration_ms = Some((avg * p.timed as f64 + d as f64) / (p.timed + 1) as f64);
                p.timed += 1;
            }
            p.count += delta;
        }
        None if delta > 0 => points.push(TimelinePoint {
            job: job.to_string(),
            day,
            status,
            count: delta,
            timed: i64::from(duration_ms.is_some()),
            avg_duration_ms: duration_ms.map(|d| d as f64),
        }),
        None => {}
    }
}

/// Replaces the item of the same name, or adds it in its place in name order (as the
/// server lists them).
fn upsert_named<T: Clone + Send + Sync + 'static>(
    list: RwSignal<Vec<T>>,
    item: T,
    name: fn(&T) -> &String,
) {
    list.update(|v| match v.iter_mut().find(|x| name(x) == name(&item)) {
        Some(x) => *x = item,
        None => {
            v.push(item);
            v.sort_by(|a, b| name_order(name(a), name(b)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn live() -> Live {
        let stats = RwSignal::new(Stats {
            hours: 24,
            total: 0,
            running_now: 0,
            failures: 0,
            next_run: None,
            jobs: vec![],
            stuck: vec![],
            stuck_total: 0,
            timeline: vec![],
        });
        Live {
            stats,
            records: records_of(stats),
            jobs: RwSignal::new(vec![]),
            batches: RwSignal::new(vec![]),
            executions: RwSignal::new(vec![]),
            connected: RwSignal::new(true),
            now: RwSignal::new(Utc::now()),
            browser_zone: RwSignal::new(true),
            view: RwSignal::new(ExecutionQuery::default()),
            next_cursor: RwSignal::new(None),
            changed: RwSignal::new(None),
            filter_error: RwSignal::new(None),
            running: RwSignal::new(vec![]),
        }
    }

    fn execution(id: Uuid, status: ExecutionStatus) -> ExecutionSummary {
        ExecutionSummary {
            id,
            ..ExecutionSummary::example("j", status)
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
        let running = l.running.get_untracked();
        assert!(
            running.len() == 1 && running[0].id == id,
            "a start joins it"
        );
        l.apply(ChangeEvent::Execution(execution(
            id,
            ExecutionStatus::Failed,
        )));
        let s = l.stats.get_untracked();
        assert_eq!((s.total, s.running_now, s.failures), (1, 0, 1));
        assert!(
            l.running.get_untracked().is_empty(),
            "an end leaves the running set"
        );
        // An open run's details learn that it changed.
        let changed = l.changed.get_untracked().unwrap();
        assert_eq!((changed.id, changed.status), (id, ExecutionStatus::Failed));
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
    fn a_running_runs_later_news_is_not_a_second_start() {
        Owner::new().with(a_running_runs_later_news_is_not_a_second_start_inner);
    }

    fn a_running_runs_later_news_is_not_a_second_start_inner() {
        let l = live();
        // The table shows failed runs only, and a newer run of the job starts before
        // an agent takes the first: neither the rows nor the job row know the first.
        l.view.set(ExecutionQuery {
            status: Some("failed".into()),
            ..ExecutionQuery::default()
        });
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        for id in [first, second] {
            l.apply(ChangeEvent::Execution(execution(
                id,
                ExecutionStatus::Running,
            )));
        }
        l.apply(ChangeEvent::Execution(ExecutionSummary {
            host: Some("box-1".into()),
            ..execution(first, ExecutionStatus::Running)
        }));
        let s = l.stats.get_untracked();
        assert_eq!((s.total, s.running_now), (2, 2));
        assert_eq!(l.running.get_untracked().len(), 2);
        assert_eq!(
            l.changed.get_untracked().unwrap().host.as_deref(),
            Some("box-1")
        );
    }

    /// The server renders a page on one thread and may drop its owner on another, once
    /// a long page has streamed: nothing the dashboard's parts own may be bound to the
    /// thread that made it (the execution dialog once held a browser element so).
    #[test]
    fn a_rendered_dialog_can_be_dropped_on_another_thread() {
        let owner = Owner::new_root(Some(std::sync::Arc::new(
            hydration_context::SsrSharedContext::new(),
        )));
        owner.with(|| {
            let html = view! {
                <super::super::executions::ExecutionModal live=live() selected=RwSignal::new(None)/>
            }
            .to_html();
            assert!(!html.contains("modal-backdrop"), "closed: {html}");
        });
        let dropped = std::thread::spawn(move || drop(owner)).join();
        assert!(dropped.is_ok(), "dropping the owner panicked");
    }

    #[test]
    fn a_deleted_job_leaves_rows_cells_and_counts() {
        Owner::new().with(a_deleted_job_leaves_rows_cells_and_counts_inner);
    }

    fn a_deleted_job_leaves_rows_cells_and_counts_inner() {
        let l = live();
        for (job, status) in [
            ("typo", ExecutionStatus::Failed),
            ("typo", ExecutionStatus::Running),
            ("kept", ExecutionStatus::Completed),
        ] {
            l.apply(ChangeEvent::Execution(ExecutionSummary {
                id: Uuid::new_v4(),
                ..ExecutionSummary::example(job, status)
            }));
        }
        let s = l.stats.get_untracked();
        assert_eq!((s.total, s.running_now, s.failures), (3, 1, 1));
        let rate = |job: &str| {
            l.records
                .with_untracked(|r| r.get(job).and_then(health::Record::success_rate))
        };
        assert_eq!((rate("typo"), rate("kept")), (Some(0.0), Some(1.0)));
        let removal = JobRemoval {
            name: "typo".into(),
            executions: 2,
            running: 1,
            hours: 24,
            total: 2,
            failures: 1,
        };
        l.apply(ChangeEvent::JobDeleted(removal.clone()));
        let s = l.stats.get_untracked();
        assert_eq!((s.total, s.running_now, s.failures), (1, 0, 0));
        assert!(s.timeline.iter().all(|p| p.job == "kept"));
        assert_eq!((rate("typo"), rate("kept")), (None, Some(1.0)));
        let names: Vec<String> = l.jobs.get_untracked().into_iter().map(|j| j.name).collect();
        assert_eq!(names, ["kept"]);
        let rows = l.executions.get_untracked();
        assert!(rows.len() == 1 && rows[0].job == "kept");
        assert!(
            l.running.get_untracked().is_empty(),
            "its running run went too"
        );
        // A replayed copy changes nothing.
        l.apply(ChangeEvent::JobDeleted(removal));
        assert_eq!(l.stats.get_untracked().total, 1);
    }

    #[test]
    fn runs_without_a_duration_do_not_weigh_on_the_average() {
        let day = Utc::now().date_naive();
        let mut points = vec![];
        let mut bump = |d| bump_timeline(&mut points, "j", day, ExecutionStatus::Failed, 1, d);
        bump(None);
        bump(Some(3000));
        bump(None);
        bump(Some(1000));
        assert_eq!((points[0].count, points[0].timed), (4, 2));
        assert_eq!(points[0].avg_duration_ms, Some(2000.0));
    }

    #[test]
    fn new_jobs_and_queues_take_their_place_in_name_order() {
        Owner::new().with(|| {
            let l = live();
            for job in ["shard-10", "shard-2", "backup"] {
                l.apply(ChangeEvent::Execution(ExecutionSummary::example(
                    job,
                    ExecutionStatus::Running,
                )));
            }
            for queue in ["crawl-10", "crawl-9"] {
                l.apply(ChangeEvent::Batch(BatchQueue::example(queue)));
            }
            l.apply(ChangeEvent::Job(Job::external("shard-3")));
            let names: Vec<String> = l.jobs.get_untracked().into_iter().map(|j| j.name).collect();
            assert_eq!(names, ["backup", "shard-2", "shard-3", "shard-10"]);
            let queues: Vec<String> = l
                .batches
                .get_untracked()
                .into_iter()
                .map(|q| q.name)
                .collect();
            assert_eq!(queues, ["crawl-9", "crawl-10"]);
        });
    }
}
