//! Durations as catalogue authors write them: `5m`, `1h`, `14d`.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of minutes, written with a unit (m, h or d).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    minutes: u64,
}

impl Duration {
    pub(crate) const fn from_minutes(minutes: u64) -> Self {
        Duration { minutes }
    }

    pub fn minutes(self) -> u64 {
        self.minutes
    }

    /// The two durations one after the other.
    pub(crate) const fn plus(self, other: Duration) -> Duration {
        Duration::from_minutes(self.minutes + other.minutes)
    }

    pub fn seconds(self) -> u64 {
        self.minutes * 60
    }

    /// Sentinel YAML form, lower case with the largest exact unit: `5m`, `2h`, `14d`.
    pub fn short(self) -> String {
        let m = self.minutes;
        if m > 0 && m.is_multiple_of(1440) {
            format!("{}d", m / 1440)
        } else if m > 0 && m.is_multiple_of(60) {
            format!("{}h", m / 60)
        } else {
            format!("{m}m")
        }
    }

    /// ISO 8601 form used by ARM: `PT5M`, `PT2H`, `P14D`.
    pub fn iso8601(self) -> String {
        let m = self.minutes;
        if m > 0 && m.is_multiple_of(1440) {
            format!("P{}D", m / 1440)
        } else if m > 0 && m.is_multiple_of(60) {
            format!("PT{}H", m / 60)
        } else {
            format!("PT{m}M")
        }
    }

    /// KQL timespan literal: `5m`, `2h`, `14d`.
    pub(crate) fn kql(self) -> String {
        self.short()
    }

    /// Splunk relative time modifier: `-2h`.
    pub(crate) fn splunk_relative(self) -> String {
        format!("-{}", self.short())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            DurationError(format!(
                "`{s}` is not a duration; write a whole number and a unit: 30m, 1h, 14d"
            ))
        };
        let unit = s.chars().last().ok_or_else(bad)?;
        let number: u64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        let factor = match unit {
            'm' => 1,
            'h' => 60,
            'd' => 1440,
            _ => return Err(bad()),
        };
        if number == 0 {
            return Err(DurationError(format!(
                "`{s}` is zero; a duration must be positive"
            )));
        }
        number
            .checked_mul(factor)
            .map(Duration::from_minutes)
            .ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.short())
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A whole number of minutes (m), hours (h) or days (d), e.g. 60m, 2h, 14d.",
            "type": "string",
            "pattern": "^[1-9][0-9]*[mhd]$",
            "patternErrorMessage": "write a whole number and a unit: m (minutes), h (hours) or d (days), e.g. 30m, 1h, 14d"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let d: Duration = "60m".parse().unwrap();
        assert_eq!(d.minutes(), 60);
        assert_eq!(d.short(), "1h");
        assert_eq!(d.iso8601(), "PT1H");
        let d: Duration = "14d".parse().unwrap();
        assert_eq!(d.iso8601(), "P14D");
        assert_eq!("90m".parse::<Duration>().unwrap().iso8601(), "PT90M");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "m",
            "5",
            "5s",
            "0h",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }
}
