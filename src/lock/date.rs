//! The date `rulecast lock` records for a content change.
//!
//! Only `lock` reads the clock, and only to record a fact in a committed file; builds read the
//! date back from the lock, so they stay deterministic. `SOURCE_DATE_EPOCH` (the reproducible-
//! builds convention) or `--date` pins it, for tests and for re-running a lock in CI.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A date that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DateError {
    /// `SOURCE_DATE_EPOCH` holds this, which is not a number of seconds.
    BadEpoch(String),
    /// This is not a real day written YYYY-MM-DD.
    NotADate(String),
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateError::BadEpoch(v) => {
                write!(f, "SOURCE_DATE_EPOCH is not a number of seconds: `{v}`")
            }
            DateError::NotADate(text) => write!(f, "`{text}` is not a date in the form YYYY-MM-DD"),
        }
    }
}

impl std::error::Error for DateError {}

/// Today's date (UTC), or the one `SOURCE_DATE_EPOCH` gives.
pub(crate) fn today() -> Result<String, DateError> {
    let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| DateError::BadEpoch(v.clone()))?,
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    Ok(from_unix_days(seconds.div_euclid(86_400)))
}

/// Checks a `--date` argument (YYYY-MM-DD, a real day).
pub(crate) fn parse(text: &str) -> Result<String, DateError> {
    let parts: Vec<&str> = text.split('-').collect();
    let valid = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d)) => {
                    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
                }
                _ => false,
            }
        }
        _ => false,
    };
    if valid {
        Ok(text.to_owned())
    } else {
        Err(DateError::NotADate(text.to_owned()))
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The civil date of a day count since 1970-01-01.
fn from_unix_days(days: i64) -> String {
    let (year, month, day) = crate::timestamp::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(from_unix_days(0), "1970-01-01");
        assert_eq!(from_unix_days(19_782), "2024-02-29");
        assert_eq!(from_unix_days(20_516), "2026-03-04");
        assert_eq!(from_unix_days(-1), "1969-12-31");
    }

    #[test]
    fn date_arguments() {
        assert!(parse("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "yesterday",
            "2024-04-31",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
