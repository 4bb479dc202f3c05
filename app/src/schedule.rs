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
        if expr.split_whitespace().count() != 5 {
            return Err(format!(
                "cron expression {expr:?} must have 5 fields: minute hour day-of-month month day-of-week"
            ));
        }
        let cron = Cron::new(expr)
            .parse()
            .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        Ok(Self { cron, tz })
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
    }
}
