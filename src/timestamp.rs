//! Event times: the `TimeGenerated` of a Log Analytics row or the `time` of a diagnostic record.
//!
//! Threshold windows compare times to the nanosecond, so events are ordered by an integer, not by
//! their text: `2025-01-01T10:00:00Z`, `2025-01-01T10:00:00.0000000Z` and the diagnostic
//! record's `2025-01-01 10:00:00.000000000` are the same instant. Both shapes and offsets
//! (`+02:00`) are read; a time without a zone is UTC, as Entra writes it. The Log Analytics
//! portal's CSV export writes `4/28/2021, 2:32:14.029 PM` (US order, 12-hour clock, in UTC under
//! its `[UTC]` header), read by [`Timestamp::parse_as`]. rulecast needs nothing else from a
//! calendar library, so this stays a small parser rather than a dependency.

use std::fmt;

use crate::catalogue::shape::TimeFormat;

/// Nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timestamp(pub i64);

const NANOS_PER_SECOND: i64 = 1_000_000_000;

impl Timestamp {
    #[cfg(test)]
    pub(crate) fn from_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds * NANOS_PER_SECOND)
    }

    /// `self - seconds`, saturating.
    pub(crate) fn minus_seconds(self, seconds: u64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub((seconds as i64).saturating_mul(NANOS_PER_SECOND)),
        )
    }

    /// Parses a time written in `format`. Every format also accepts ISO 8601, which any export
    /// can be converted to.
    pub(crate) fn parse_as(text: &str, format: TimeFormat) -> Option<Timestamp> {
        match format {
            TimeFormat::Iso8601 => Timestamp::parse(text),
            TimeFormat::LogAnalyticsExport => {
                Timestamp::parse_us_display(text).or_else(|| Timestamp::parse(text))
            }
        }
    }

    /// The time written in `format` (the Log Analytics export keeps milliseconds).
    #[cfg(test)]
    pub(crate) fn format_as(self, format: TimeFormat) -> String {
        match format {
            TimeFormat::Iso8601 => self.to_string(),
            TimeFormat::LogAnalyticsExport => {
                let seconds = self.0.div_euclid(NANOS_PER_SECOND);
                let millis = self.0.rem_euclid(NANOS_PER_SECOND) / 1_000_000;
                let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
                let of_day = seconds.rem_euclid(86_400);
                let hour = of_day / 3600;
                let (clock, meridiem) = match hour {
                    0 => (12, "AM"),
                    1..=11 => (hour, "AM"),
                    12 => (12, "PM"),
                    _ => (hour - 12, "PM"),
                };
                format!(
                    "{month}/{day}/{year}, {clock}:{:02}:{:02}.{millis:03} {meridiem}",
                    of_day / 60 % 60,
                    of_day % 60
                )
            }
        }
    }

    /// Parses `M/D/YYYY, h:mm:ss[.fff] AM|PM` (the comma is optional), in UTC.
    fn parse_us_display(text: &str) -> Option<Timestamp> {
        let (date, rest) = text.trim().split_once(' ')?;
        let date = date.strip_suffix(',').unwrap_or(date);
        let (clock, meridiem) = rest.trim().rsplit_once(' ')?;
        let mut parts = date.split('/');
        let (month, day, year) = (parts.next()?, parts.next()?, parts.next()?);
        let small = |text: &str, most: usize| -> Option<i64> {
            (!text.is_empty() && text.len() <= most && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())?
        };
        let (month, day, year) = (small(month, 2)?, small(day, 2)?, small(year, 4)?);
        let (clock, fraction) = match clock.split_once('.') {
            Some((clock, fraction)) => (clock, Some(fraction)),
            None => (clock, None),
        };
        let mut parts = clock.split(':');
        let (hour, minute, second) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || date.split('/').count() != 3
            || minute.len() != 2
            || second.len() != 2
        {
            return None;
        }
        let (hour, minute, second) = (small(hour, 2)?, small(minute, 2)?, small(second, 2)?);
        let hour = match (meridiem.to_ascii_uppercase().as_str(), hour) {
            ("AM", 12) => 0,
            ("AM", 1..=11) => hour,
            ("PM", 12) => 12,
            ("PM", 1..=11) => hour + 12,
            _ => return None,
        };
        let fraction = match fraction {
            Some(digits)
                if !digits.is_empty()
                    && digits.len() <= 9
                    && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!(".{digits}")
            }
            Some(_) => return None,
            None => String::new(),
        };
        Timestamp::parse(&format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z"
        ))
    }

    /// Parses an ISO 8601 date-time (`T` or a space between date and time, optional fraction of
    /// up to nine digits, `Z`, an offset or no zone). `None` when the text is anything else.
    pub(crate) fn parse(text: &str) -> Option<Timestamp> {
        let b = text.trim().as_bytes();
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = b.get(range)?;
            digits.iter().try_fold(0i64, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
            })
        };
        if b.len() < 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0i64;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &b[start..i];
            if digits.is_empty() {
                return None;
            }
            // Digits beyond nanoseconds cannot change the order of real events; drop them.
            for (k, d) in digits.iter().take(9).enumerate() {
                nanos += i64::from(d - b'0') * 10i64.pow(8 - k as u32);
            }
        }
        let offset_seconds = match &b[i..] {
            [] | [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), rest @ ..] => {
                let (h, m) = match rest {
                    [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                        (two_digits(*h1, *h2)?, two_digits(*m1, *m2)?)
                    }
                    [h1, h2] => (two_digits(*h1, *h2)?, 0),
                    _ => return None,
                };
                let seconds = h * 3600 + m * 60;
                if *sign == b'+' { seconds } else { -seconds }
            }
            _ => return None,
        };
        let seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
                - offset_seconds;
        Some(Timestamp(
            seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)?,
        ))
    }
}

fn two_digits(a: u8, b: u8) -> Option<i64> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A time written as [`Timestamp`]'s `Display` writes it, held on the stack: alerts write two
/// or more times each, and going through `fmt` for every digit cost more than the rest of an
/// alert's JSON.
pub(crate) struct IsoText {
    bytes: [u8; 30],
    len: usize,
}

impl IsoText {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("written as ASCII digits")
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value`'s digits from the place `place` (a power of ten) down, with leading zeros.
    fn push_digits(&mut self, value: i64, mut place: i64) {
        while place > 0 {
            self.push(b'0' + (value / place % 10) as u8);
            place /= 10;
        }
    }
}

impl Timestamp {
    /// ISO 8601 in UTC, with the fraction only when there is one: `2025-01-01T10:00:00Z`.
    pub(crate) fn iso(self) -> IsoText {
        let seconds = self.0.div_euclid(NANOS_PER_SECOND);
        let nanos = self.0.rem_euclid(NANOS_PER_SECOND);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let of_day = seconds.rem_euclid(86_400);
        let mut text = IsoText {
            bytes: [0; 30],
            len: 0,
        };
        // An i64 of nanoseconds spans the years 1677 to 2262: always four digits.
        text.push_digits(year, 1000);
        for (separator, value) in [
            (b'-', month),
            (b'-', day),
            (b'T', of_day / 3600),
            (b':', of_day / 60 % 60),
            (b':', of_day % 60),
        ] {
            text.push(separator);
            text.push_digits(value, 10);
        }
        if nanos != 0 {
            text.push(b'.');
            let mut rest = nanos;
            let mut place = 100_000_000;
            while rest != 0 {
                text.push(b'0' + (rest / place) as u8);
                rest %= place;
                place /= 10;
            }
        }
        text.push(b'Z');
        text
    }
}

/// ISO 8601 in UTC, with the fraction only when there is one: `2025-01-01T10:00:00Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iso().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stack-written form against the `fmt` one it replaced, over the whole range of an
    /// i64 of nanoseconds: every fraction length, leap days, before the epoch and the extremes.
    #[test]
    fn the_iso_text_is_what_format_writes() {
        let formatted = |t: Timestamp| {
            let seconds = t.0.div_euclid(NANOS_PER_SECOND);
            let nanos = t.0.rem_euclid(NANOS_PER_SECOND);
            let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
            let of_day = seconds.rem_euclid(86_400);
            let mut text = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60
            );
            if nanos != 0 {
                text.push('.');
                text.push_str(format!("{nanos:09}").trim_end_matches('0'));
            }
            text + "Z"
        };
        let mut times = vec![i64::MIN, i64::MAX, 0, -1, 1, 951_782_400 * NANOS_PER_SECOND];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Whole seconds, milliseconds and full nanoseconds alike.
            let nanos = state as i64;
            times.extend([
                nanos,
                nanos / 1_000_000 * 1_000_000,
                nanos / NANOS_PER_SECOND * NANOS_PER_SECOND,
            ]);
        }
        for t in times.into_iter().map(Timestamp) {
            assert_eq!(t.to_string(), formatted(t), "{}", t.0);
        }
        assert_eq!(
            Timestamp::parse("2024-02-29T23:59:59.1Z")
                .unwrap()
                .to_string(),
            "2024-02-29T23:59:59.1Z"
        );
    }

    #[test]
    fn both_shapes_denote_the_same_instant() {
        let row = Timestamp::parse("2024-12-16T16:32:16.0875540Z").unwrap();
        let record = Timestamp::parse("2024-12-16 16:32:16.087554000").unwrap();
        assert_eq!(row, record);
        assert_eq!(row.to_string(), "2024-12-16T16:32:16.087554Z");
        assert_eq!(
            Timestamp::parse("2025-01-01T10:00:00Z")
                .unwrap()
                .to_string(),
            "2025-01-01T10:00:00Z"
        );
    }

    #[test]
    fn offsets_and_epoch() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(
            Timestamp::parse("1970-01-01T02:00:00+02:00"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse("1969-12-31T23:00:00-0100"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T00:00:00Z")
                .unwrap()
                .to_string(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59.5Z"),
            Some(Timestamp(-500_000_000))
        );
        assert_eq!(
            Timestamp(-500_000_000).to_string(),
            "1969-12-31T23:59:59.5Z"
        );
    }

    #[test]
    fn the_log_analytics_csv_export_format() {
        let as_export = |text| Timestamp::parse_as(text, TimeFormat::LogAnalyticsExport);
        assert_eq!(
            as_export("4/28/2021, 2:32:14.029 PM"),
            Timestamp::parse("2021-04-28T14:32:14.029Z")
        );
        assert_eq!(
            as_export("12/1/2025, 12:05:00 AM"),
            Timestamp::parse("2025-12-01T00:05:00Z")
        );
        assert_eq!(
            as_export("1/2/2025, 12:00:00.5 PM"),
            Timestamp::parse("2025-01-02T12:00:00.5Z")
        );
        assert_eq!(
            as_export("2021-04-28T14:32:14.029Z"),
            Timestamp::parse("2021-04-28T14:32:14.029Z"),
            "ISO 8601 is read in every format"
        );
        for bad in [
            "4/28/2021, 14:32:14 PM",
            "13/28/2021, 2:32:14 PM",
            "4/28/2021, 2:32 PM",
            "4/28/2021 2:32:14.029",
            "28.4.2021 14:32:14",
        ] {
            assert_eq!(as_export(bad), None, "{bad}");
        }
        assert_eq!(Timestamp::parse("4/28/2021, 2:32:14.029 PM"), None);
        let time = Timestamp::parse("2021-04-28T00:32:14.029Z").unwrap();
        let written = time.format_as(TimeFormat::LogAnalyticsExport);
        assert_eq!(written, "4/28/2021, 12:32:14.029 AM");
        assert_eq!(as_export(&written), Some(time));
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "2025-01-01",
            "2025-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2025-01-01T10:00:00.Z",
            "2025-01-01T10:00:00 UTC",
            "yesterday at noon",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
