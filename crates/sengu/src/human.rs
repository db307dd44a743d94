//! Durations for people, rounded to what matters: `221ms`, `2.0s`, `45s`, `1m30s`. One helper
//! for every message, log line and report, so that no output shows `1s 999ms 993us 921ns` (what
//! `humantime::format_duration` prints for a measured time).
//!
//! The precision follows the size: whole milliseconds below a second, tenths of a second up to
//! ten seconds, whole seconds up to a minute, then minutes and seconds, then hours and minutes.
//! A value is rounded (half up) before its unit is chosen, so 999.6 ms is `1.0s`, never
//! `1000ms`. The output parses back with [`crate::settings::parse_duration`].

use std::time::Duration;

const NS_PER_US: u128 = 1_000;
const NS_PER_MS: u128 = 1_000_000;
const NS_PER_TENTH: u128 = 100_000_000;
const NS_PER_S: u128 = 1_000_000_000;

/// `d` rounded to what matters; see the module doc.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let round = |unit: u128| (ns + unit / 2) / unit;
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < NS_PER_US {
        return format!("{ns}ns");
    }
    if round(NS_PER_US) < 1_000 {
        return format!("{}us", round(NS_PER_US));
    }
    if round(NS_PER_MS) < 1_000 {
        return format!("{}ms", round(NS_PER_MS));
    }
    let tenths = round(NS_PER_TENTH);
    if tenths < 100 {
        return format!("{}.{}s", tenths / 10, tenths % 10);
    }
    let secs = round(NS_PER_S);
    if secs < 60 {
        return format!("{secs}s");
    }
    if secs < 3600 {
        return match (secs / 60, secs % 60) {
            (m, 0) => format!("{m}m"),
            (m, s) => format!("{m}m{s}s"),
        };
    }
    let minutes = round(60 * NS_PER_S);
    match (minutes / 60, minutes % 60) {
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// A duration as the config file writes it, exactly (`1s 500ms`): for `--print-config`, via
/// `#[serde(serialize_with = "crate::human::exact")]`.
pub fn exact<S: serde::Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn measured_times_lose_their_noise() {
        assert_eq!(duration(Duration::new(1, 999_993_921)), "2.0s");
        assert_eq!(duration(Duration::from_nanos(221_400_000)), "221ms");
        assert_eq!(duration(Duration::from_nanos(1_234_567_890)), "1.2s");
        assert_eq!(duration(Duration::from_nanos(39_999_871_000)), "40s");
    }

    #[test]
    fn each_size_gets_its_precision() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(800), "800ns"),
            (Duration::from_micros(15), "15us"),
            (ms(1), "1ms"),
            (ms(200), "200ms"),
            (ms(999), "999ms"),
            (ms(1000), "1.0s"),
            (ms(1500), "1.5s"),
            (ms(9_940), "9.9s"),
            (ms(10_000), "10s"),
            (ms(55_000), "55s"),
            (ms(60_000), "1m"),
            (ms(90_000), "1m30s"),
            (ms(600_000), "10m"),
            (ms(3_600_000), "1h"),
            (ms(5_430_000), "1h31m"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn rounding_happens_before_the_unit_is_chosen() {
        assert_eq!(duration(Duration::from_nanos(999_600_000)), "1.0s");
        assert_eq!(duration(Duration::from_nanos(999_600)), "1ms");
        assert_eq!(duration(ms(9_960)), "10s");
        assert_eq!(duration(ms(59_600)), "1m");
    }

    #[test]
    fn the_output_parses_back() {
        for d in [ms(250), ms(2_000), ms(1_500), ms(45_000), ms(90_000), ms(5_460_000)] {
            let text = duration(d);
            assert_eq!(crate::settings::parse_duration(&text), Ok(d), "{text}");
        }
    }
}
