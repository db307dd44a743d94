//! One clock for everything a drill round observes: the probes, the DNS sampler, the sentinel
//! watcher and the switch itself run in different threads, and their events only make a
//! timeline when they are stamped against the same instant (the start of the switch).

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

/// Milliseconds relative to the start of the switch (negative: before it), the unit of every
/// time in a report.
pub type Millis = f64;

/// The reference instant of one round.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    zero: Instant,
    wall: SystemTime,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Clock {
        Clock { zero: Instant::now(), wall: SystemTime::now() }
    }

    /// A clock whose zero is `at` (a moment already recorded, such as the start of the switch).
    pub fn from_instant(at: Instant) -> Clock {
        let now = Instant::now();
        let wall = SystemTime::now();
        let wall = match now.checked_duration_since(at) {
            Some(ago) => wall.checked_sub(ago).unwrap_or(wall),
            None => wall + at.duration_since(now),
        };
        Clock { zero: at, wall }
    }

    /// The instant of zero.
    pub fn zero(&self) -> Instant {
        self.zero
    }

    /// `at` in milliseconds from zero.
    pub fn ms_at(&self, at: Instant) -> Millis {
        match at.checked_duration_since(self.zero) {
            Some(d) => d.as_secs_f64() * 1000.0,
            None => -(self.zero.duration_since(at).as_secs_f64() * 1000.0),
        }
    }

    /// Now, in milliseconds from zero.
    pub fn now_ms(&self) -> Millis {
        self.ms_at(Instant::now())
    }

    /// The wall-clock time of zero, for the report header and the history key.
    pub fn wall(&self) -> SystemTime {
        self.wall
    }
}

/// What happened at one moment of a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When, in milliseconds from the start of the switch.
    pub at_ms: Millis,
    /// A stable, lower-case label such as `consul tags flipped`.
    pub what: String,
    /// Which server, offset or answer, when it helps.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Events collected from several threads; read out sorted by time.
#[derive(Debug, Default)]
pub struct Timeline {
    events: Mutex<Vec<(Instant, String, String)>>,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Records `what` as happening now.
    pub fn mark(&self, what: &str, detail: impl Into<String>) {
        self.mark_at(Instant::now(), what, detail);
    }

    /// Records `what` as happening at `at` (a probe's acknowledgement, stamped when it arrived).
    pub fn mark_at(&self, at: Instant, what: &str, detail: impl Into<String>) {
        if let Ok(mut events) = self.events.lock() {
            events.push((at, what.to_string(), detail.into()));
        }
    }

    /// When `what` was first recorded, if it was.
    pub fn first(&self, what: &str) -> Option<Instant> {
        let events = self.events.lock().ok()?;
        events.iter().filter(|(_, w, _)| w == what).map(|(at, _, _)| *at).min()
    }

    /// Every event, stamped against `clock`, in time order.
    pub fn events(&self, clock: &Clock) -> Vec<Event> {
        let mut out: Vec<(Instant, Event)> = match self.events.lock() {
            Ok(events) => events
                .iter()
                .map(|(at, what, detail)| (*at, Event { at_ms: round_ms(clock.ms_at(*at)), what: what.clone(), detail: detail.clone() }))
                .collect(),
            Err(_) => Vec::new(),
        };
        out.sort_by_key(|(at, _)| *at);
        out.into_iter().map(|(_, e)| e).collect()
    }
}

/// Milliseconds rounded to 0.1 ms: finer digits are noise on a loopback lab and clutter the
/// report.
pub fn round_ms(ms: Millis) -> Millis {
    (ms * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn events_before_zero_read_negative_and_come_out_sorted() {
        let clock = Clock::start();
        let timeline = Timeline::new();
        let now = clock.zero - Duration::from_millis(50);
        timeline.mark_at(now + Duration::from_millis(60), "later", "");
        timeline.mark_at(now, "earlier", "x");
        let events = timeline.events(&clock);
        assert_eq!(events.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(), ["earlier", "later"]);
        assert!(events[0].at_ms < -40.0 && events[0].at_ms > -60.0, "{events:?}");
        assert!(events[1].at_ms > 0.0);
        assert_eq!(timeline.first("later"), Some(now + Duration::from_millis(60)));
        assert_eq!(timeline.first("never"), None);
    }

    #[test]
    fn a_clock_can_start_at_a_recorded_moment() {
        let then = Instant::now() - Duration::from_millis(50);
        let clock = Clock::from_instant(then);
        assert!(clock.now_ms() >= 50.0);
        let ago = SystemTime::now().duration_since(clock.wall()).unwrap();
        assert!(ago >= Duration::from_millis(50) && ago < Duration::from_secs(5), "{ago:?}");
    }

    #[test]
    fn milliseconds_round_to_a_tenth() {
        assert_eq!(round_ms(12.345), 12.3);
        assert_eq!(round_ms(-0.06), -0.1);
    }
}
