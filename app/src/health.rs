//! What the dashboard flags about a job: stuck, late, failing, and its success rate.
//! Shared by the server (first render) and the browser (which re-evaluates every
//! second against its ticking clock, so an alert appears without any event).

use chrono::{DateTime, TimeDelta, Utc};

use crate::model::{ExecutionStatus, ExecutionSummary, Job, TimelinePoint};

/// Consecutive failures from which a job is flagged.
pub const FAILING_AFTER: i32 = 3;

/// A start this much before the expected time still counts as that run (clocks drift).
pub const EARLY_START_TOLERANCE_SECS: i64 = 5;

/// A reason to look at a job now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alert {
    /// A run of it is still running past its timeout (or, with no timeout, far past its
    /// estimated duration, or with neither, far past what its runs usually take). It may
    /// be older than the latest: one whose end was never reported while later runs went on.
    Stuck,
    /// Its expected start plus grace has passed and no run has started.
    Late,
    /// This many runs in a row have failed or timed out (at least [`FAILING_AFTER`]).
    Failing(i32),
}

impl Alert {
    /// A short label for the badge.
    pub fn label(self) -> String {
        match self {
            Self::Stuck => "stuck".into(),
            Self::Late => "late".into(),
            Self::Failing(n) => format!("{n} failures in a row"),
        }
    }

    /// A stable name, for CSS classes and tests.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Stuck => "stuck",
            Self::Late => "late",
            Self::Failing(_) => "failing",
        }
    }
}

/// Finished runs with a duration needed before their average says what is usual.
pub const TYPICAL_AFTER_RUNS: i64 = 3;

/// Where the limit past which a run is stuck comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StuckLimit {
    /// The job's timeout (the sweeper then ends the run as `timed_out`).
    Timeout,
    /// Three times its estimated duration.
    Estimate,
    /// Three times what its completed runs took lately ([`typical_duration_ms`]).
    Habit,
}

impl StuckLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Estimate => "estimate",
            Self::Habit => "habit",
        }
    }
}

/// How long a run may last before it counts as stuck, and why: the job's timeout; else
/// three times its estimated duration; else three times `typical_ms`, what its runs
/// took lately (at least a minute more than either); else never.
pub fn stuck_limit(
    timeout_ms: Option<i64>,
    estimate_ms: Option<i64>,
    typical_ms: Option<i64>,
) -> Option<(TimeDelta, StuckLimit)> {
    let (ms, why) = match (timeout_ms, estimate_ms, typical_ms) {
        (Some(t), _, _) => (t, StuckLimit::Timeout),
        (None, Some(e), _) => (three_times(e), StuckLimit::Estimate),
        (None, None, Some(h)) => (three_times(h), StuckLimit::Habit),
        (None, None, None) => return None,
    };
    Some((TimeDelta::milliseconds(ms), why))
}

/// Three times `ms`, and at least a minute more.
fn three_times(ms: i64) -> i64 {
    ms.saturating_mul(3).max(ms.saturating_add(60_000))
}

/// [`stuck_limit`] for `job`.
pub fn stuck_after(job: &Job, typical_ms: Option<i64>) -> Option<TimeDelta> {
    stuck_limit(job.timeout_ms, job.estimated_duration_ms, typical_ms).map(|(limit, _)| limit)
}

/// What a job's runs did over the 7-day timeline: its success rate and its habit are
/// read from it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Record {
    /// Completed runs, and runs that finished in any way.
    completed: i64,
    finished: i64,
    /// Completed runs that have a duration, and those durations summed.
    timed: i64,
    timed_total_ms: f64,
}

impl Record {
    /// Counts the runs of `p`, a point of this record's job.
    fn add(&mut self, p: &TimelinePoint) {
        if !p.status.is_final() {
            return;
        }
        self.finished += p.count;
        if p.status == ExecutionStatus::Completed {
            self.completed += p.count;
            if let Some(avg) = p.avg_duration_ms {
                self.timed += p.timed;
                self.timed_total_ms += avg * p.timed as f64;
            }
        }
    }

    /// Completed runs over finished runs, or none when nothing finished.
    pub fn success_rate(&self) -> Option<f64> {
        (self.finished > 0).then(|| self.completed as f64 / self.finished as f64)
    }

    /// The average duration of the completed runs, once there are
    /// [`TYPICAL_AFTER_RUNS`] of them: a job that declares neither timeout nor estimate
    /// is still flagged when a run hangs far beyond its habit.
    pub fn typical_duration_ms(&self) -> Option<i64> {
        (self.timed >= TYPICAL_AFTER_RUNS).then(|| (self.timed_total_ms / self.timed as f64) as i64)
    }
}

/// Every job's [`Record`], sorted by job name: a sorted list, not a hash map, whose
/// code the browser's bundle has no room for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records(Vec<(String, Record)>);

impl Records {
    pub fn get(&self, job: &str) -> Option<&Record> {
        Some(&self.0[self.find(job).ok()?].1)
    }

    /// The records of the jobs that `keep` keeps.
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Records {
        Records(self.0.iter().filter(|(j, _)| keep(j)).cloned().collect())
    }

    /// Where `job` is, or would go.
    fn find(&self, job: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(j, _)| j.as_str().cmp(job))
    }
}

/// Every job's [`Record`] in `points` (the 7-day timeline), in one pass. Read a job's
/// from here: scanning the timeline once per job costs jobs × points, which at 2,000
/// jobs is seconds.
pub fn records(points: &[TimelinePoint]) -> Records {
    let mut out = Records::default();
    for p in points {
        let i = out.find(&p.job).unwrap_or_else(|i| {
            out.0.insert(i, (p.job.clone(), Record::default()));
            i
        });
        out.0[i].1.add(p);
    }
    out
}

/// What `job`'s runs usually take, from `records` ([`Record::typical_duration_ms`]).
pub fn typical_duration_ms(records: &Records, job: &str) -> Option<i64> {
    records.get(job).and_then(Record::typical_duration_ms)
}

/// When the oldest of `job`'s running executions started: its latest run if that is
/// running, or an older one in `running` (the running executions the page knows of).
pub fn running_since(job: &Job, running: &[ExecutionSummary]) -> Option<DateTime<Utc>> {
    let latest = job
        .last_started_at
        .filter(|_| job.last_status == Some(ExecutionStatus::Running));
    running
        .iter()
        .filter(|r| r.job == job.name && r.status == ExecutionStatus::Running)
        .map(|r| r.started_at)
        .chain(latest)
        .min()
}

/// The alerts of `job` at `now`, most urgent first; `typical_ms` is what its runs
/// usually take ([`typical_duration_ms`]), `running_since` when its oldest running
/// execution started ([`running_since`]).
pub fn alerts(
    job: &Job,
    typical_ms: Option<i64>,
    running_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    if let (Some(since), Some(limit)) = (running_since, stuck_after(job, typical_ms)) {
        if now - since > limit {
            out.push(Alert::Stuck);
        }
    }
    if is_late(job, now) {
        out.push(Alert::Late);
    }
    if job.consecutive_failures >= FAILING_AFTER {
        out.push(Alert::Failing(job.consecutive_failures));
    }
    out
}

/// Whether `job`'s expected start plus grace has passed with no run started for it.
pub fn is_late(job: &Job, now: DateTime<Utc>) -> bool {
    let Some(expected) = job.next_run_at.filter(|_| job.enabled) else {
        return false;
    };
    let started_for_it = job
        .last_started_at
        .is_some_and(|s| s >= expected - TimeDelta::seconds(EARLY_START_TOLERANCE_SECS));
    !started_for_it && now > expected + TimeDelta::milliseconds(job.grace_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            grace_ms: 60_000,
            ..Job::external("j")
        }
    }

    #[test]
    fn stuck_uses_the_timeout_then_the_estimate_then_the_habit() {
        let now = Utc::now();
        let mut j = job();
        j.last_status = Some(ExecutionStatus::Running);
        let since = now - TimeDelta::minutes(10);
        j.last_started_at = Some(since);
        let running = running_since(&j, &[]);
        assert_eq!(running, Some(since), "the latest run is running");
        let stuck = vec![Alert::Stuck];
        assert_eq!(
            alerts(&j, None, running, now),
            vec![],
            "no timeout, no estimate, no history: never stuck"
        );
        assert_eq!(
            alerts(&j, Some(2_000), running, now),
            stuck,
            "usually 2 s: 62 s allowed, 10 min taken"
        );
        assert_eq!(
            alerts(&j, Some(240_000), running, now),
            vec![],
            "usually 4 min: 12 min allowed"
        );
        j.estimated_duration_ms = Some(5_000);
        assert_eq!(
            alerts(&j, Some(600_000), running, now),
            stuck,
            "65 s allowed: the estimate wins over the habit"
        );
        j.timeout_ms = Some(3_600_000);
        assert_eq!(
            alerts(&j, None, running, now),
            vec![],
            "the timeout wins over the estimate"
        );
        j.last_status = Some(ExecutionStatus::Completed);
        j.timeout_ms = Some(1);
        assert_eq!(
            running_since(&j, &[]),
            None,
            "a finished run is not running"
        );
        assert_eq!(alerts(&j, None, None, now), vec![]);
    }

    #[test]
    fn an_older_run_that_never_ended_is_stuck_after_a_newer_one_finished() {
        let now = Utc::now();
        let mut j = job();
        j.estimated_duration_ms = Some(1_000);
        j.last_status = Some(ExecutionStatus::Completed);
        j.last_started_at = Some(now - TimeDelta::minutes(1));
        let zombie = now - TimeDelta::hours(3);
        let open = |job: &str, started_at| ExecutionSummary {
            started_at,
            ..ExecutionSummary::example(job, ExecutionStatus::Running)
        };
        let runs = [
            open("other", now - TimeDelta::days(1)),
            open("j", now - TimeDelta::seconds(5)),
            open("j", zombie),
        ];
        let running = running_since(&j, &runs);
        assert_eq!(running, Some(zombie), "the oldest of its own runs");
        assert_eq!(alerts(&j, None, running, now), vec![Alert::Stuck]);
        assert_eq!(
            running_since(&j, &runs[..2]),
            Some(now - TimeDelta::seconds(5))
        );
        assert_eq!(
            alerts(&j, None, running_since(&j, &runs[..2]), now),
            vec![],
            "a run 5 s old is within its 61 s"
        );
    }

    #[test]
    fn the_habit_is_the_average_of_completed_runs_once_there_are_three() {
        let day = Utc::now().date_naive();
        let p = |job: &str, status, timed, avg: Option<f64>| TimelinePoint {
            job: job.into(),
            day,
            status,
            count: timed + 1,
            timed,
            avg_duration_ms: avg,
        };
        let mut points = vec![
            p("a", ExecutionStatus::Completed, 1, Some(1_000.0)),
            p("a", ExecutionStatus::Failed, 5, Some(90_000.0)),
            p("b", ExecutionStatus::Completed, 9, Some(7.0)),
        ];
        assert_eq!(
            typical_duration_ms(&records(&points), "a"),
            None,
            "one run says little"
        );
        points.push(TimelinePoint {
            day: day.pred_opt().unwrap(),
            ..p("a", ExecutionStatus::Completed, 3, Some(3_000.0))
        });
        assert_eq!(
            typical_duration_ms(&records(&points), "a"),
            Some(2_500),
            "weighted by runs; failures left out"
        );
        assert_eq!(typical_duration_ms(&records(&points), "c"), None);
        assert_eq!(
            stuck_after(&job(), Some(i64::MAX)),
            Some(TimeDelta::milliseconds(i64::MAX))
        );
    }

    #[test]
    fn late_after_expected_start_plus_grace_until_a_run_starts() {
        let now = Utc::now();
        let mut j = job();
        j.next_run_at = Some(now - TimeDelta::seconds(30));
        assert!(!is_late(&j, now), "still within grace");
        j.next_run_at = Some(now - TimeDelta::seconds(90));
        assert!(is_late(&j, now));
        j.last_started_at = Some(now - TimeDelta::seconds(88));
        assert!(!is_late(&j, now), "the run started");
        j.last_started_at = None;
        j.enabled = false;
        assert!(!is_late(&j, now), "a paused job is never late");
    }

    #[test]
    fn failing_from_three_in_a_row() {
        let mut j = job();
        j.consecutive_failures = 2;
        assert_eq!(alerts(&j, None, None, Utc::now()), vec![]);
        j.consecutive_failures = 3;
        assert_eq!(alerts(&j, None, None, Utc::now()), vec![Alert::Failing(3)]);
        assert_eq!(Alert::Failing(3).label(), "3 failures in a row");
    }

    #[test]
    fn success_rate_counts_finished_runs_of_the_job() {
        let day = Utc::now().date_naive();
        let p = |job: &str, status, count| TimelinePoint {
            job: job.into(),
            day,
            status,
            count,
            timed: 0,
            avg_duration_ms: None,
        };
        let points = vec![
            p("a", ExecutionStatus::Completed, 3),
            p("a", ExecutionStatus::Failed, 1),
            p("a", ExecutionStatus::Running, 5),
            p("b", ExecutionStatus::Failed, 2),
        ];
        let all = records(&points);
        let rate = |job: &str| all.get(job).and_then(Record::success_rate);
        assert_eq!(rate("a"), Some(0.75));
        assert_eq!(rate("b"), Some(0.0));
        assert_eq!(rate("c"), None);
    }
}
