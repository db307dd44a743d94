//! What a run tells: the exit code mysqlfailover acts on, one human line on stdout (or one JSON
//! object), and one line in the durable log with every observer's answer, so an operator can
//! see afterwards why a failover did or did not start.

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::verdict::{Category, ConsulView, Decision, MonitorView, Policy, Testimony, WhenNoReplicas};
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::check::Format;

/// The action name of every log line this check writes.
pub const ACTION: &str = "fail-check";

/// mysqlfailover's `--exec-fail-check` contract: 0 means "no failover", anything else means
/// "fail over now". Nothing else is ever returned, so a bug or bad input cannot start one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    NoFailover,
    Failover,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::NoFailover => 0,
            Exit::Failover => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Where this run's replica list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `--replica` / `[mysql-fail-check] replicas`.
    Config,
    /// `SHOW SLAVE HOSTS` on the master, this run.
    Master,
    /// The list recorded the last time the master answered.
    Recorded,
    /// The instances of the Consul replica service.
    Consul,
    /// Nowhere: no replica is known.
    None,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Config => "config",
            Source::Master => "master",
            Source::Recorded => "recorded",
            Source::Consul => "consul",
            Source::None => "none",
        })
    }
}

/// A finished run, or a refusal to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    Checked(Box<Checked>),
    /// Bad input or settings: nothing was checked and nothing fails over.
    Refused { problem: String },
}

/// Everything one run saw and decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    #[serde(serialize_with = "as_text")]
    pub master: HostPort,
    pub monitor: MonitorView,
    pub replicas_from: Source,
    pub consul: Option<ConsulView>,
    pub decision: Decision,
    pub confirm_runs: u32,
    #[serde(serialize_with = "as_secs")]
    pub fail_after: Duration,
    /// Problems that did not stop the run (state file, replica discovery, Consul).
    pub notes: Vec<String>,
    /// Manual mode and the post-failover block ([`crate::hold`]): a verdict of "dead" fails
    /// over only when this is [`HoldCheck::Off`].
    pub hold: HoldCheck,
}

/// What the hold record said on this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HoldCheck {
    /// Nothing holds automatic failover off (or the hold was not read).
    Off,
    /// Manual mode or a post-failover block holds: no failover, whatever the verdict.
    Held { name: String, line: String },
    /// The record could not be read. A dead verdict then does not fail over: manual mode cannot
    /// be ruled out, and the hooks could not publish the new master in that Consul either.
    Unreadable { name: String, error: String },
}

impl HoldCheck {
    /// True when a dead verdict must not fail over.
    pub fn stops_failover(&self) -> bool {
        !matches!(self, HoldCheck::Off)
    }
}

impl Checked {
    pub fn new(master: HostPort, monitor: MonitorView, replicas_from: Source, consul: Option<ConsulView>, decision: Decision, policy: &Policy, notes: Vec<String>) -> Checked {
        Checked {
            master,
            monitor,
            replicas_from,
            consul,
            decision,
            confirm_runs: policy.confirm_runs.max(1),
            fail_after: policy.fail_after,
            notes,
            hold: HoldCheck::Off,
        }
    }
}

impl Report {
    pub fn exit(&self) -> Exit {
        match self {
            Report::Checked(c) if c.decision.failover && !c.hold.stops_failover() => Exit::Failover,
            _ => Exit::NoFailover,
        }
    }

    /// The one line for people: `mysql-fail-check: …`, with `CRITICAL:` first when an operator
    /// must act (bad input, or no replica could testify).
    pub fn line(&self) -> String {
        match self {
            Report::Refused { problem } => format!("mysql-fail-check: CRITICAL: bad input, no failover: {problem}"),
            Report::Checked(c) => format!("mysql-fail-check: {}", summary(c)),
        }
    }

    /// Prints the report in `format` on stdout and returns the exit code.
    pub fn print(&self, format: Format) -> ExitCode {
        match format {
            Format::Text => println!("{}", self.line()),
            Format::Json => println!("{}", self.json()),
        }
        self.exit().into()
    }

    /// One JSON object: the report plus `summary`, `decision` and `exit_code`.
    pub fn json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("summary".into(), self.line().into());
            map.insert("exit".into(), serde_json::to_value(self.exit()).unwrap_or_default());
            map.insert("exit_code".into(), self.exit().code().into());
        }
        value.to_string()
    }

    /// Writes the run's one line to the durable log.
    pub fn log(&self, log: &mut ActionLog) {
        let decision = if self.exit() == Exit::Failover { "failover" } else { "no-failover" };
        let c = match self {
            Report::Refused { problem } => {
                log.record(ACTION, &[("decision", &decision), ("category", &"BadInput"), ("problem", problem), ("summary", &self.line())]);
                return;
            }
            Report::Checked(c) => c,
        };
        let runs = format!("{}/{}", c.decision.dead_runs, c.confirm_runs);
        let dead_for = c.decision.dead_for.map(|d| crate::human::duration(Duration::from_secs(d.as_secs())).to_string());
        let consul = c.consul.as_ref().map_or("off".to_string(), ToString::to_string);
        let replicas: Vec<(String, String)> =
            c.decision.replicas.iter().enumerate().map(|(i, a)| (format!("replica.{}", i + 1), format!("{} {}", a.addr, a.testimony))).collect();
        let notes: Vec<(String, &String)> = c.notes.iter().enumerate().map(|(i, n)| (format!("note.{}", i + 1), n)).collect();
        let summary = self.line();
        let rule = c.decision.rule.map(WhenNoReplicas::as_str);

        let mut fields: Vec<(&str, &dyn fmt::Display)> = vec![
            ("master", &c.master),
            ("decision", &decision),
            ("category", &c.decision.category),
            ("dead_runs", &runs),
        ];
        if let Some(d) = &dead_for {
            fields.push(("dead_for", d));
        }
        if let Some(rule) = &rule {
            fields.push(("when_no_replicas", rule));
        }
        fields.push(("monitor", &c.monitor));
        fields.push(("replicas_from", &c.replicas_from));
        for (key, value) in &replicas {
            fields.push((key, value));
        }
        fields.push(("consul", &consul));
        let hold = match &c.hold {
            HoldCheck::Off => None,
            HoldCheck::Held { line, .. } => Some(line.clone()),
            HoldCheck::Unreadable { error, .. } => Some(format!("unreadable: {error}")),
        };
        if let Some(hold) = &hold {
            fields.push(("hold", hold));
        }
        for (key, value) in &notes {
            fields.push((key, *value));
        }
        fields.push(("summary", &summary));
        log.record(ACTION, &fields);
    }
}

/// The human summary of a checked run, after `mysql-fail-check: `. A hold leads the line
/// when it is what stops a failover, and follows it otherwise.
fn summary(c: &Checked) -> String {
    let verdict = verdict_summary(c);
    match &c.hold {
        HoldCheck::Off => verdict,
        HoldCheck::Held { name, line } if c.decision.failover => {
            format!("no failover: automatic failover is off for {name} ({line}); without that: {verdict}")
        }
        HoldCheck::Unreadable { name, error } if c.decision.failover => format!(
            "CRITICAL: no failover: the hold record of {name} could not be read ({error}), so manual mode cannot be ruled out; without that: {verdict}"
        ),
        HoldCheck::Held { name, line } => format!("{verdict}; automatic failover is off for {name} ({line})"),
        HoldCheck::Unreadable { .. } => verdict,
    }
}

fn verdict_summary(c: &Checked) -> String {
    let d = &c.decision;
    let m = &c.master;
    let count = |pred: fn(&Testimony) -> bool| d.replicas.iter().filter(|a| pred(&a.testimony)).count();
    let relevant = count(Testimony::is_relevant);
    let lost = count(Testimony::says_lost);
    let receiving = count(Testimony::says_alive);
    let why = match d.category {
        Category::NoProblem => return format!("master {m} is up ({}): no failover", d.category),
        Category::AllMasterReplicasNotReplicating => {
            return format!("master {m} is up, but {lost} of {relevant} replicas lost it ({}): no failover", d.category);
        }
        Category::UnreachableMaster => {
            return format!(
                "master unreachable from the monitor, replicas still replicating — no failover ({}: {receiving} of {relevant} replicas receive from {m})",
                d.category
            );
        }
        Category::DeadMaster | Category::DeadMasterAndSomeReplicas => {
            format!("{}: unreachable from the monitor and lost by {lost} of {relevant} replicas", d.category)
        }
        Category::DeadMasterAndReplicas => format!("{}: none of {relevant} replicas could be asked", d.category),
        Category::DeadMasterWithoutReplicas => format!("{}: no replica of it is known", d.category),
        Category::UnreachableMasterWithStoppedReplicas => format!("{}: its replicas have stopped replicating", d.category),
    };
    let rule = match (d.rule, &c.consul) {
        (None, _) => String::new(),
        (Some(WhenNoReplicas::Consul), Some(view)) => format!("; when_no_replicas = consul: {view}"),
        (Some(WhenNoReplicas::Consul), None) => "; when_no_replicas = consul, but no consul node is set".to_string(),
        (Some(rule), _) => format!("; when_no_replicas = {}", rule.as_str()),
    };
    if !d.dead {
        return format!("CRITICAL: master {m} is unreachable and no replica can tell ({why}{rule}): no failover");
    }
    let mut progress = format!("dead on {} consecutive runs, {} needed", d.dead_runs, c.confirm_runs);
    if !c.fail_after.is_zero() {
        let dead_for = Duration::from_secs(d.dead_for.unwrap_or_default().as_secs());
        progress.push_str(&format!(", for {} of {}", crate::human::duration(dead_for), crate::human::duration(c.fail_after)));
    }
    if d.failover {
        format!("master {m} is dead ({why}{rule}), confirmed: {progress}: failover")
    } else {
        format!("master {m} looks dead ({why}{rule}), not yet confirmed: {progress}: no failover yet")
    }
}

fn as_text<S: serde::Serializer>(v: &HostPort, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn as_secs<S: serde::Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::CheckStatus;
    use crate::fail_check::verdict::{Answer, Testimony};
    use crate::mysql::IoState;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn checked(category: Category, dead: bool, failover: bool, replicas: Vec<Testimony>) -> Checked {
        let replicas = replicas.into_iter().enumerate().map(|(i, t)| Answer { addr: hp(&format!("10.0.0.{}:3306", 12 + i)), testimony: t }).collect();
        let decision = Decision {
            category,
            replicas,
            dead,
            rule: category.lacks_witnesses().then_some(WhenNoReplicas::NoFailover),
            dead_runs: u32::from(dead) + u32::from(failover),
            dead_for: dead.then_some(Duration::from_millis(15_400)),
            failover,
        };
        let monitor = MonitorView::Unreachable { error: "mysql 10.0.0.11:3306 is unreachable: Connection refused".into() };
        Checked::new(hp("10.0.0.11:3306"), monitor, Source::Recorded, None, decision, &Policy::default(), vec![])
    }

    fn line(c: Checked) -> String {
        Report::Checked(Box::new(c)).line()
    }

    fn lost() -> Testimony {
        Testimony::Lost { io: IoState::Connecting, code: Some(2003), silent_secs: None }
    }

    #[test]
    fn each_situation_reads_as_one_line() {
        let receiving = Testimony::Receiving { silent_secs: None };
        assert_eq!(
            line(checked(Category::UnreachableMaster, false, false, vec![receiving.clone(), receiving])),
            "mysql-fail-check: master unreachable from the monitor, replicas still replicating — no failover (UnreachableMaster: 2 of 2 replicas receive from 10.0.0.11:3306)"
        );
        assert_eq!(
            line(checked(Category::DeadMaster, true, false, vec![lost(), lost()])),
            "mysql-fail-check: master 10.0.0.11:3306 looks dead (DeadMaster: unreachable from the monitor and lost by 2 of 2 replicas), not yet confirmed: dead on 1 consecutive runs, 2 needed: no failover yet"
        );
        assert_eq!(
            line(checked(Category::DeadMasterAndSomeReplicas, true, true, vec![lost(), Testimony::Unreachable { error: "x".into() }])),
            "mysql-fail-check: master 10.0.0.11:3306 is dead (DeadMasterAndSomeReplicas: unreachable from the monitor and lost by 1 of 2 replicas), confirmed: dead on 2 consecutive runs, 2 needed: failover"
        );
        assert_eq!(
            line(checked(Category::DeadMasterAndReplicas, false, false, vec![Testimony::Unreachable { error: "x".into() }])),
            "mysql-fail-check: CRITICAL: master 10.0.0.11:3306 is unreachable and no replica can tell (DeadMasterAndReplicas: none of 1 replicas could be asked; when_no_replicas = no-failover): no failover"
        );
        let mut c = checked(Category::DeadMaster, true, false, vec![lost()]);
        c.fail_after = Duration::from_secs(30);
        assert!(line(c).ends_with("dead on 1 consecutive runs, 2 needed, for 15s of 30s: no failover yet"));
    }

    #[test]
    fn a_hold_stops_a_confirmed_failover_and_leads_the_line() {
        let line_of = |c: &Checked| Report::Checked(Box::new(c.clone())).line();
        let mut c = checked(Category::DeadMaster, true, true, vec![lost(), lost()]);
        c.hold = HoldCheck::Held { name: "foo-db-master".into(), line: "manual mode on since 2025-05-01T10:00:00Z by alice@db3: \"migrating\"".into() };
        let report = Report::Checked(Box::new(c.clone()));
        assert_eq!(report.exit(), Exit::NoFailover);
        assert_eq!(
            line_of(&c),
            "mysql-fail-check: no failover: automatic failover is off for foo-db-master (manual mode on since 2025-05-01T10:00:00Z by alice@db3: \"migrating\"); \
             without that: master 10.0.0.11:3306 is dead (DeadMaster: unreachable from the monitor and lost by 2 of 2 replicas), confirmed: dead on 2 consecutive runs, 2 needed: failover"
        );
        c.hold = HoldCheck::Unreadable { name: "foo-db-master".into(), error: "consul at a:1 is unreachable: refused".into() };
        assert_eq!(Report::Checked(Box::new(c.clone())).exit(), Exit::NoFailover, "an unreadable hold stops a failover");
        assert!(line_of(&c).starts_with("mysql-fail-check: CRITICAL: no failover: the hold record of foo-db-master could not be read"), "{}", line_of(&c));
        let mut alive = checked(Category::NoProblem, false, false, vec![]);
        alive.hold = HoldCheck::Unreadable { name: "foo-db-master".into(), error: "x".into() };
        assert_eq!(line_of(&alive), "mysql-fail-check: master 10.0.0.11:3306 is up (NoProblem): no failover", "an unreadable hold does not matter while the master is up");
        alive.hold = HoldCheck::Held { name: "foo-db-master".into(), line: "manual".into() };
        assert!(line_of(&alive).ends_with("no failover; automatic failover is off for foo-db-master (manual)"), "{}", line_of(&alive));
    }

    #[test]
    fn the_log_line_names_every_observer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = ActionLog::open("mysql-fail-check", &crate::actionlog::Target { file: Some(path.clone()), syslog: false });
        let mut c = checked(Category::DeadMaster, true, true, vec![lost(), Testimony::OtherMaster { master: "10.0.0.99:3306".into() }]);
        c.consul = Some(ConsulView::Node { node: "db1".into(), serf_health: Some(CheckStatus::Critical), failing: vec![] });
        c.notes.push("state file x is corrupt: starting fresh".into());
        Report::Checked(Box::new(c)).log(&mut log);
        let text = std::fs::read_to_string(&path).unwrap();
        let fields = text.split_once(" action=").unwrap().1;
        assert_eq!(
            fields,
            "fail-check master=10.0.0.11:3306 decision=failover category=DeadMaster dead_runs=2/2 dead_for=15s \
             monitor=\"unreachable: mysql 10.0.0.11:3306 is unreachable: Connection refused\" replicas_from=recorded \
             replica.1=\"10.0.0.12:3306 lost (IO Connecting, error 2003)\" \
             replica.2=\"10.0.0.13:3306 replicates from another master 10.0.0.99:3306\" \
             consul=\"node db1 serfHealth critical\" note.1=\"state file x is corrupt: starting fresh\" \
             summary=\"mysql-fail-check: master 10.0.0.11:3306 is dead (DeadMaster: unreachable from the monitor and lost by 1 of 1 replicas), confirmed: dead on 2 consecutive runs, 2 needed: failover\"\n"
        );
    }

    #[test]
    fn json_carries_the_exit_code_and_the_answers() {
        let report = Report::Checked(Box::new(checked(Category::DeadMaster, true, true, vec![lost()])));
        let v: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!((v["exit_code"].as_u64(), v["exit"].as_str()), (Some(2), Some("failover")));
        assert_eq!(v["decision"]["category"], "DeadMaster");
        assert_eq!(v["decision"]["replicas"][0]["answer"], "lost");
        assert_eq!(v["monitor"]["state"], "unreachable");
        let refused = Report::Refused { problem: "bad".into() };
        assert_eq!(refused.exit(), Exit::NoFailover);
        let v: serde_json::Value = serde_json::from_str(&refused.json()).unwrap();
        assert_eq!((v["exit_code"].as_u64(), v["kind"].as_str()), (Some(0), Some("refused")));
    }
}
