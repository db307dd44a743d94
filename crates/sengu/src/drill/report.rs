//! What a drill found, as one value rendered two ways (text for people, JSON for machines and
//! for the history in Consul KV): the pre-checks, each round's timeline, its figures and its
//! invariants, and a summary over the rounds. The exit code is decided here too, so the
//! binary only prints. One piece past 400 lines: one value and its two renderings, a quarter
//! of it tests.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use super::timeline::{round_ms, Event, Millis};

/// Which kind of drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillKind {
    Redis,
    Mysql,
}

impl DrillKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillKind::Redis => "redis",
            DrillKind::Mysql => "mysql",
        }
    }
}

/// One condition checked before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreCheck {
    pub name: String,
    pub ok: bool,
    pub text: String,
}

/// Before a further round: runs `attempt` (the pre-checks, and what they found when they
/// passed) every 100 ms until it finds something or `settle` has passed (after a switch the
/// servers and sentinels take a moment to agree); then the failed checks, one line each.
pub fn wait_prechecks<T>(settle: std::time::Duration, mut attempt: impl FnMut() -> (Vec<PreCheck>, Option<T>)) -> Result<T, Vec<String>> {
    let deadline = std::time::Instant::now() + settle;
    loop {
        let (checks, found) = attempt();
        if let Some(found) = found {
            return Ok(found);
        }
        if std::time::Instant::now() >= deadline {
            return Err(checks.into_iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.text)).collect());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

impl PreCheck {
    pub fn ok(name: &str, text: impl Into<String>) -> PreCheck {
        PreCheck { name: name.to_string(), ok: true, text: text.into() }
    }

    pub fn failed(name: &str, text: impl Into<String>) -> PreCheck {
        PreCheck { name: name.to_string(), ok: false, text: text.into() }
    }
}

/// The figures of one round. Times are milliseconds; `None` when it could not be measured
/// (e.g. no write ever reached the new master).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Last write acknowledged by the old master to the first acknowledged by the new one, as
    /// the probe writer saw it through the DNS name.
    pub write_unavailable_ms: Option<Millis>,
    /// The longest gap between two successful reads through the DNS name.
    pub read_unavailable_ms: Option<Millis>,
    /// The longest time without an acknowledged write after the first one on the new master:
    /// a second outage once the switch looked done (something undid or fenced the new master).
    #[serde(default)]
    pub write_gap_after_switch_ms: Option<Millis>,
    /// Start of the switch to the first DNS answer naming only the new master.
    pub dns_convergence_ms: Option<Millis>,
    /// DNS naming the new master minus the first sentinel naming it (negative: DNS was first).
    /// Redis only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_after_sentinels_ms: Option<Millis>,
    pub writes_acknowledged: u64,
    /// Acknowledged sequence numbers missing from the new master afterwards. Must be 0.
    pub writes_lost: u64,
    /// DNS answers that named more than one address for the master name. Must be 0.
    pub two_masters_in_dns: u64,
    pub dns_samples: u64,
}

/// A rule a round must keep, and whether it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invariant {
    pub name: String,
    pub held: bool,
    pub detail: String,
}

impl Invariant {
    pub fn new(name: &str, held: bool, detail: impl Into<String>) -> Invariant {
        Invariant { name: name.to_string(), held, detail: detail.into() }
    }
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundOutcome {
    /// The switch happened and every invariant held.
    Passed,
    /// The switch happened but an invariant broke.
    Failed,
    /// A step missed its deadline or refused; the drill restored what it could (see `notes`).
    Aborted,
}

/// One switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// 1-based.
    pub round: u32,
    /// The master before the switch (`host:port`).
    pub from: String,
    /// The master after it, when there is one.
    pub to: Option<String>,
    /// RFC 3339, UTC: when the switch started.
    pub started_at: String,
    pub outcome: RoundOutcome,
    pub timeline: Vec<Event>,
    pub figures: Figures,
    pub invariants: Vec<Invariant>,
    /// Why it aborted, what was restored, anything an operator should know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Round {
    /// A further round that was not started: its pre-checks (`failed`) did not pass within
    /// `waited`.
    pub fn not_started(round: u32, from: String, failed: Vec<String>, waited: std::time::Duration) -> Round {
        let mut notes = vec![format!("pre-checks did not pass within {}; the round was not started", crate::human::duration(waited))];
        notes.extend(failed);
        Round {
            round,
            from,
            to: None,
            started_at: super::rfc3339(std::time::SystemTime::now()),
            outcome: RoundOutcome::Aborted,
            timeline: Vec::new(),
            figures: Figures::default(),
            invariants: Vec::new(),
            notes,
        }
    }

    /// Passed when every invariant held; an aborted round stays aborted.
    pub fn settle_outcome(&mut self) {
        if self.outcome != RoundOutcome::Aborted {
            self.outcome = if self.invariants.iter().all(|i| i.held) { RoundOutcome::Passed } else { RoundOutcome::Failed };
        }
    }
}

/// Median and maximum of one figure over the rounds that measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub median: Option<Millis>,
    pub max: Option<Millis>,
    /// How many rounds measured it.
    pub n: usize,
}

impl Stat {
    pub fn of(values: impl IntoIterator<Item = Option<Millis>>) -> Stat {
        let mut v: Vec<Millis> = values.into_iter().flatten().collect();
        v.sort_by(f64::total_cmp);
        let median = match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        };
        Stat { median: median.map(round_ms), max: v.last().copied(), n: v.len() }
    }
}

/// The figures over all rounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub rounds: usize,
    pub rounds_passed: usize,
    pub write_unavailable_ms: Stat,
    pub read_unavailable_ms: Stat,
    pub dns_convergence_ms: Stat,
    #[serde(default)]
    pub dns_after_sentinels_ms: Stat,
    pub writes_acknowledged: u64,
    pub writes_lost: u64,
    pub two_masters_in_dns: u64,
}

impl Summary {
    pub fn of(rounds: &[Round]) -> Summary {
        let f = |pick: fn(&Figures) -> Option<Millis>| Stat::of(rounds.iter().map(|r| pick(&r.figures)));
        Summary {
            rounds: rounds.len(),
            rounds_passed: rounds.iter().filter(|r| r.outcome == RoundOutcome::Passed).count(),
            write_unavailable_ms: f(|x| x.write_unavailable_ms),
            read_unavailable_ms: f(|x| x.read_unavailable_ms),
            dns_convergence_ms: f(|x| x.dns_convergence_ms),
            dns_after_sentinels_ms: f(|x| x.dns_after_sentinels_ms),
            writes_acknowledged: rounds.iter().map(|r| r.figures.writes_acknowledged).sum(),
            writes_lost: rounds.iter().map(|r| r.figures.writes_lost).sum(),
            two_masters_in_dns: rounds.iter().map(|r| r.figures.two_masters_in_dns).sum(),
        }
    }
}

/// A whole drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub kind: DrillKind,
    /// The Consul service (or node) the drill switched.
    pub service: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Every round passed (and there was at least one).
    pub passed: bool,
    /// A pre-check failed, so nothing was changed.
    pub refused: bool,
    /// The first round's pre-checks.
    pub prechecks: Vec<PreCheck>,
    pub rounds: Vec<Round>,
    pub summary: Summary,
    /// Where the report was stored in Consul KV, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_key: Option<String>,
    /// Why it was not stored, if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_error: Option<String>,
}

/// Exit codes: 0 only when every invariant held in every round.
pub const EXIT_PASSED: u8 = 0;
/// A round failed an invariant or aborted.
pub const EXIT_FAILED: u8 = 1;
/// A pre-check failed: the drill refused to start and changed nothing (as for bad input).
pub const EXIT_REFUSED: u8 = 2;

impl Report {
    pub fn new(kind: DrillKind, service: &str, started_at: String) -> Report {
        Report {
            kind,
            service: service.to_string(),
            started_at,
            passed: false,
            refused: false,
            prechecks: Vec::new(),
            rounds: Vec::new(),
            summary: Summary::default(),
            history_key: None,
            history_error: None,
        }
    }

    /// Recomputes `passed` and the summary from the rounds.
    pub fn finish(&mut self) {
        self.summary = Summary::of(&self.rounds);
        self.passed = !self.refused && !self.rounds.is_empty() && self.rounds.iter().all(|r| r.outcome == RoundOutcome::Passed);
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit_status())
    }

    pub fn exit_status(&self) -> u8 {
        if self.passed {
            EXIT_PASSED
        } else if self.refused {
            EXIT_REFUSED
        } else {
            EXIT_FAILED
        }
    }

    /// Line 1 of the text form.
    pub fn headline(&self) -> String {
        let what = format!("{} drill of {:?}", self.kind.as_str(), self.service);
        if self.refused {
            let failed: Vec<&str> = self.prechecks.iter().filter(|c| !c.ok).map(|c| c.text.as_str()).collect();
            return format!("REFUSED: {what} did not start, nothing was changed: {}", failed.join("; "));
        }
        let s = &self.summary;
        let status = if self.passed { "PASSED" } else { "FAILED" };
        format!(
            "{status}: {what}: {} of {} round(s) passed, {} acknowledged write(s) lost, {}",
            s.rounds_passed,
            s.rounds,
            s.writes_lost,
            if s.two_masters_in_dns == 0 { "never two masters in DNS".to_string() } else { format!("{} DNS answer(s) named two masters", s.two_masters_in_dns) }
        )
    }

    /// The report in `format`.
    pub fn render(&self, format: crate::check::Format) -> String {
        match format {
            crate::check::Format::Text => self.render_text(),
            crate::check::Format::Json => self.render_json(),
        }
    }

    pub fn render_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"cannot render the report: {e}\"}}"))
    }

    pub fn render_text(&self) -> String {
        let mut out = self.headline();
        out.push('\n');
        if !self.prechecks.is_empty() {
            out.push_str("pre-checks:\n");
            for c in &self.prechecks {
                let _ = writeln!(out, "  [{}] {}: {}", if c.ok { "ok" } else { "FAILED" }, c.name, c.text);
            }
        }
        let total = self.rounds.len();
        for r in &self.rounds {
            render_round(&mut out, r, total, self.kind);
        }
        if total > 1 {
            render_summary(&mut out, &self.summary, self.kind);
        }
        match (&self.history_key, &self.history_error) {
            (Some(key), _) => {
                let _ = writeln!(out, "stored in Consul KV: {key}");
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "not stored in Consul KV: {e}");
            }
            (None, None) => {}
        }
        out
    }
}

fn ms(v: Option<Millis>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.1} ms"))
}

fn render_round(out: &mut String, r: &Round, total: usize, kind: DrillKind) {
    let to = r.to.as_deref().unwrap_or("?");
    let _ = writeln!(out, "round {} of {total}: {} -> {to}, {} (started {})", r.round, r.from, outcome_word(r.outcome), r.started_at);
    for e in &r.timeline {
        let detail = if e.detail.is_empty() { String::new() } else { format!(": {}", e.detail) };
        let _ = writeln!(out, "  {:>9.1} ms  {}{detail}", e.at_ms, e.what);
    }
    let f = &r.figures;
    let _ = writeln!(out, "  write-unavailable   {:>10}  last write acknowledged by the old master -> first by the new one", ms(f.write_unavailable_ms));
    let _ = writeln!(out, "  read-unavailable    {:>10}  longest gap between two successful reads", ms(f.read_unavailable_ms));
    let _ = writeln!(out, "  write gap after     {:>10}  longest gap between writes once the new master took them", ms(f.write_gap_after_switch_ms));
    let _ = writeln!(out, "  DNS convergence     {:>10}  switch started -> DNS names only the new master", ms(f.dns_convergence_ms));
    if kind == DrillKind::Redis {
        let _ = writeln!(out, "  DNS vs sentinels    {:>10}  DNS names the new master - first sentinel names it (negative: DNS first)", ms(f.dns_after_sentinels_ms));
    }
    let _ = writeln!(out, "  writes              {} acknowledged, {} lost", f.writes_acknowledged, f.writes_lost);
    let _ = writeln!(out, "  two masters in DNS  {} of {} answers", f.two_masters_in_dns, f.dns_samples);
    for i in &r.invariants {
        let detail = if i.detail.is_empty() { String::new() } else { format!(" ({})", i.detail) };
        let _ = writeln!(out, "  [{}] {}{detail}", if i.held { "ok" } else { "BROKEN" }, i.name);
    }
    for n in &r.notes {
        // A command's output spans lines: keep them under the note.
        let _ = writeln!(out, "  note: {}", n.trim_end().replace('\n', "\n        "));
    }
}

fn render_summary(out: &mut String, s: &Summary, kind: DrillKind) {
    let stat = |label: &str, st: &Stat| format!("{label} median {} max {}", ms(st.median), ms(st.max));
    let mut parts = vec![stat("write-unavailable", &s.write_unavailable_ms), stat("DNS convergence", &s.dns_convergence_ms)];
    if kind == DrillKind::Redis {
        parts.push(stat("DNS vs sentinels", &s.dns_after_sentinels_ms));
    }
    let _ = writeln!(out, "summary over {} rounds ({} passed): {}", s.rounds, s.rounds_passed, parts.join("; "));
    let _ = writeln!(out, "  {} writes acknowledged, {} lost; {} two-master DNS answers", s.writes_acknowledged, s.writes_lost, s.two_masters_in_dns);
}

fn outcome_word(o: RoundOutcome) -> &'static str {
    match o {
        RoundOutcome::Passed => "passed",
        RoundOutcome::Failed => "FAILED",
        RoundOutcome::Aborted => "ABORTED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(n: u32, window: Option<f64>, held: bool) -> Round {
        Round {
            round: n,
            from: "127.0.0.11:6379".into(),
            to: Some("127.0.0.12:6379".into()),
            started_at: "2025-05-01T10:00:00.000Z".into(),
            outcome: RoundOutcome::Passed,
            timeline: vec![Event { at_ms: 0.0, what: "writes paused on the old master".into(), detail: String::new() }],
            figures: Figures { write_unavailable_ms: window, writes_acknowledged: 10, ..Figures::default() },
            invariants: vec![Invariant::new("no acknowledged write lost", held, "")],
            notes: Vec::new(),
        }
    }

    #[test]
    fn median_and_max_skip_unmeasured_rounds() {
        let s = Stat::of([Some(3.0), None, Some(1.0), Some(2.0), Some(10.0)]);
        assert_eq!((s.median, s.max, s.n), (Some(2.5), Some(10.0), 4));
        assert_eq!(Stat::of([None]).median, None);
    }

    #[test]
    fn a_broken_invariant_fails_the_round_and_the_drill() {
        let mut r = round(1, Some(200.0), false);
        r.settle_outcome();
        assert_eq!(r.outcome, RoundOutcome::Failed);
        let mut report = Report::new(DrillKind::Redis, "redis", "t".into());
        report.rounds = vec![round(1, Some(200.0), true), r];
        report.rounds[0].settle_outcome();
        report.finish();
        assert!(!report.passed);
        assert_eq!(report.exit_status(), EXIT_FAILED);
        assert!(report.headline().starts_with("FAILED: redis drill of \"redis\": 1 of 2 round(s) passed"), "{}", report.headline());
        let text = report.render_text();
        assert!(text.contains("[BROKEN] no acknowledged write lost") && text.contains("summary over 2 rounds"), "{text}");
    }

    #[test]
    fn a_refused_drill_says_why_and_exits_2() {
        let mut report = Report::new(DrillKind::Redis, "redis", "t".into());
        report.refused = true;
        report.prechecks = vec![PreCheck::ok("sentinels", "3 agree"), PreCheck::failed("dns", "two masters in DNS")];
        report.finish();
        assert_eq!(report.exit_status(), EXIT_REFUSED);
        assert_eq!(report.headline(), "REFUSED: redis drill of \"redis\" did not start, nothing was changed: two masters in DNS");
    }

    #[test]
    fn json_round_trips() {
        let mut report = Report::new(DrillKind::Mysql, "mysql", "t".into());
        report.rounds = vec![round(1, Some(12.5), true)];
        report.finish();
        let back: Report = serde_json::from_str(&report.render_json()).unwrap();
        assert_eq!(back, report);
        assert!(back.passed && back.exit_status() == EXIT_PASSED);
    }
}
