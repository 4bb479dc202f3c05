//! Cron expressions in a time zone: validation and the next expected start.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// A validated schedule: a 5-field cron expression and an IANA time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// Parses both parts; the error says which one is wrong and why.
    pub fn parse(expr: &str, timezone: &str) -> Result<Self, String> {
        let tz: Tz = timezone.parse().map_err(|_| {
            format!("unknown time zone {timezone:?} (use an IANA name such as Europe/Paris)")
        })?;
        // crontab's nicknames, as people copy them from their crontabs; @reboot names
        // no time at which a run could be expected.
        let expr = expr.trim();
        let fields = expr.split_whitespace().count();
        if expr.eq_ignore_ascii_case("@reboot") {
            return Err(
                "@reboot has no time at which to expect a run: leave the schedule out".into(),
            );
        }
        let nickname = fields == 1 && expr.starts_with('@');
        if !nickname && fields != 5 {
            return Err(format!(
                "cron expression {expr:?} must have 5 fields (minute hour day-of-month month \
                 day-of-week) or be one of @hourly, @daily, @weekly, @monthly, @yearly"
            ));
        }
        let cron = Cron::new(expr)
            .parse()
            .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        let schedule = Self { cron, tz };
        // A pattern such as "0 0 31 4 *" (April 31st) is valid syntax that never fires:
        // the job would never be expected, which is surely not what was meant.
        if schedule.next_after(Utc::now()).is_none() {
            return Err(format!("cron expression {expr:?} never fires"));
        }
        Ok(schedule)
    }

    /// The first start strictly after `after`, in UTC; `None` if the pattern never fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn next_run_respects_time_zone() {
        // 02:00 and 14:00 in Montreal (UTC-5 in winter).
        let s = Schedule::parse("0 2,14 * * *", "America/Montreal").unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap();
        assert_eq!(
            s.next_after(after),
            Some(Utc.with_ymd_and_hms(2026, 11, 22, 19, 0, 0).unwrap())
        );
    }

    #[test]
    fn next_run_is_strictly_after() {
        let s = Schedule::parse("*/5 * * * *", "UTC").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 5, 0).unwrap();
        assert_eq!(
            s.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap())
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Schedule::parse("0 9 * * *", "Mars/Olympus").is_err());
        assert!(Schedule::parse("61 * * * *", "UTC").is_err());
        assert!(Schedule::parse("every day", "UTC").is_err());
        assert!(Schedule::parse("* * * * * *", "UTC").is_err());
        assert!(Schedule::parse("", "UTC").is_err());
        assert!(Schedule::parse("@fortnightly", "UTC").is_err());
        let reboot = Schedule::parse("@reboot", "UTC").unwrap_err();
        assert!(reboot.contains("leave the schedule out"), "{reboot}");
        let never = Schedule::parse("0 0 31 4 *", "UTC").unwrap_err();
        assert!(never.contains("never fires"), "{never}");
    }

    #[test]
    fn crontab_nicknames_are_understood() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 8, 30, 0).unwrap();
        let next = |expr: &str, tz: &str| Schedule::parse(expr, tz).unwrap().next_after(at);
        assert_eq!(
            next("@hourly", "UTC"),
            Some(Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap())
        );
        assert_eq!(next("@daily", "UTC"), next("0 0 * * *", "UTC"));
        assert_eq!(next("@weekly", "UTC"), next("0 0 * * 0", "UTC"));
        assert_eq!(next("@monthly", "UTC"), next("0 0 1 * *", "UTC"));
        assert_eq!(next("@yearly", "UTC"), next("0 0 1 1 *", "UTC"));
        assert_eq!(next("@annually", "UTC"), next("@yearly", "UTC"));
        // In the job's zone: midnight in Paris is 23:00 UTC in winter.
        assert_eq!(
            next("@daily", "Europe/Paris"),
            Some(Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap())
        );
    }

    #[test]
    fn daylight_saving_days_neither_skip_nor_repeat_a_run() {
        let s = Schedule::parse("30 2 * * *", "Europe/Paris").unwrap();
        // 28 March 2027: 02:30 does not exist in Paris; the run is at 03:00 (CEST).
        let spring = Utc.with_ymd_and_hms(2027, 3, 27, 23, 0, 0).unwrap();
        assert_eq!(
            s.next_after(spring),
            Some(Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap())
        );
        // 31 October 2027: 02:30 happens twice; the run is at the first, once.
        let fall = Utc.with_ymd_and_hms(2027, 10, 30, 23, 0, 0).unwrap();
        let first = s.next_after(fall).unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2027, 10, 31, 0, 30, 0).unwrap());
        assert_eq!(
            s.next_after(first),
            Some(Utc.with_ymd_and_hms(2027, 11, 1, 1, 30, 0).unwrap())
        );
    }

    #[test]
    fn a_rare_date_still_fires() {
        // February 29th: valid, next in 2028.
        let s = Schedule::parse("0 0 29 2 *", "UTC").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        assert_eq!(
            s.next_after(at),
            Some(Utc.with_ymd_and_hms(2028, 2, 29, 0, 0, 0).unwrap())
        );
    }
}
