//! `sengu-drill manual on|off|status`: the one switch a person turns automatic failover off
//! and on with, and the one place to see the state. `on` needs a reason (bad input without
//! one, nothing changed) and takes an optional `--for`; `off` clears manual mode *and* the
//! post-failover block; `status` shows both parts, on, off or expired, for one name or for
//! every name that has a record.
//!
//! Exit codes: 0 done or shown; 1 Consul could not be read or written (the message says that
//! nothing changed, or what a re-read found); 2 bad input, nothing changed.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Hold, Holds, Written};
use crate::actionlog::ActionLog;
use crate::check::Format;
use crate::consul::{self, Client};
use crate::settings::{parse_timeout, SetupError};

/// The longest reason accepted: it is one line of every status output.
const MAX_REASON: usize = 200;

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Turn automatic failover off for NAME (needs --reason)
    On,
    /// Turn it back on: clears manual mode and any post-failover block
    Off,
    /// Show manual mode and the block (every name with a record, without --name)
    Status,
}

/// The flags of `sengu-drill manual`. They name one run, so none has a variable or a key.
#[derive(Debug, Clone, clap::Args)]
pub struct ManualArgs {
    #[arg(value_enum)]
    pub action: Action,
    /// The Redis service or the MySQL master node, as the other executables call it (e.g. redis, foo-db-master)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Why (required for on): shown in every status output and in the checks' output
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Turn manual mode off by itself after this long, e.g. 2h (on only) [default: until `off`]
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_timeout)]
    pub lasts: Option<Duration>,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    On { name: String, reason: String, lasts: Option<Duration> },
    Off { name: String },
    Status { name: Option<String> },
}

impl ManualArgs {
    /// Validates everything before anything is asked: a missing name or reason, a reason on
    /// several lines, `--for` with anything but `on` are bad input.
    pub fn request(&self) -> Result<Request, SetupError> {
        let name = match &self.name {
            Some(n) => {
                super::validate_name(n).map_err(SetupError::usage)?;
                Some(n.clone())
            }
            None if self.action == Action::Status => None,
            None => return Err(SetupError::usage("--name NAME is required: the Redis service or the MySQL master node")),
        };
        if self.lasts.is_some() && self.action != Action::On {
            return Err(SetupError::usage("--for is only for `on`"));
        }
        Ok(match self.action {
            Action::On => {
                let reason = self.reason.as_deref().map(str::trim).unwrap_or_default();
                if reason.is_empty() {
                    return Err(SetupError::usage("`manual on` needs --reason TEXT: say why automatic failover is off, for whoever finds it off"));
                }
                if reason.chars().any(char::is_control) || reason.len() > MAX_REASON {
                    return Err(SetupError::usage(format!("--reason must be one line of at most {MAX_REASON} bytes")));
                }
                Request::On { name: name.unwrap_or_default(), reason: reason.to_string(), lasts: self.lasts }
            }
            Action::Off => Request::Off { name: name.unwrap_or_default() },
            Action::Status => Request::Status { name },
        })
    }
}

/// What a run printed and how it exits.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(skip)]
    pub exit: u8,
    pub summary: String,
    pub changed: bool,
    pub holds: Vec<Shown>,
}

/// One name's record as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub holds: Holds,
    pub blocks_automatic_failover: bool,
    pub lines: Vec<String>,
}

impl Shown {
    fn of(holds: Holds, now: SystemTime) -> Shown {
        Shown { blocks_automatic_failover: holds.blocks_automatic_failover(now), lines: holds.status_lines(now), holds }
    }
}

impl Outcome {
    fn failed(summary: String) -> Outcome {
        Outcome { exit: 1, summary, changed: false, holds: Vec::new() }
    }

    /// Text: the summary, then each name's lines indented. JSON: one object.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => {
                let mut out = format!("sengu-drill: {}\n", self.summary);
                for shown in &self.holds {
                    for line in &shown.lines {
                        out.push_str(&format!("  {}: {line}\n", shown.holds.name));
                    }
                }
                out
            }
            Format::Json => {
                let mut value = serde_json::to_value(self).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.insert("exit_code".into(), self.exit.into());
                }
                format!("{value}\n")
            }
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit)
    }
}

/// Runs a request against Consul; each change goes to the action log.
pub fn run(client: &Client, request: &Request, log: &mut ActionLog) -> Outcome {
    let now = SystemTime::now();
    match request {
        Request::On { name, reason, lasts } => {
            let hold = Hold::now(reason.clone(), *lasts);
            match super::set_manual(client, name, &hold) {
                Ok(written) => {
                    let holds = written.holds().clone();
                    log.record("manual-on", &[("name", name), ("who", &hold.who), ("why", &hold.why), ("until", &hold.until.map(super::time_text).unwrap_or_else(|| "off".into()))]);
                    let line = holds.describe(now).unwrap_or_default();
                    Outcome { exit: 0, summary: format!("automatic failover off for {name}: {line}"), changed: true, holds: vec![Shown::of(holds, now)] }
                }
                Err(e) => Outcome::failed(not_changed("manual mode not turned on", name, &e)),
            }
        }
        Request::Off { name } => match super::clear(client, name) {
            Ok(Written::Changed(before)) => {
                let cleared: Vec<String> = before.status_lines(now).into_iter().filter(|l| !l.ends_with(": off") && !l.ends_with(": none")).collect();
                log.record("manual-off", &[("name", name), ("who", &super::who()), ("cleared", &cleared.join("; "))]);
                let after = Holds { manual: None, block: None, unreadable: None, modify_index: 0, ..before };
                Outcome {
                    exit: 0,
                    summary: format!("automatic failover on for {name}: cleared {}", cleared.join("; ")),
                    changed: true,
                    holds: vec![Shown::of(after, now)],
                }
            }
            Ok(Written::Unchanged(holds)) => {
                Outcome { exit: 0, summary: format!("automatic failover on for {name}: nothing to clear"), changed: false, holds: vec![Shown::of(holds, now)] }
            }
            Err(e) => Outcome::failed(not_changed("hold not cleared", name, &e)),
        },
        Request::Status { name: Some(name) } => match super::read(client, name) {
            Ok(holds) => {
                let summary = holds.describe(now).map_or_else(|| format!("automatic failover on for {name}"), |l| format!("{name}: {l}"));
                Outcome { exit: 0, summary, changed: false, holds: vec![Shown::of(holds, now)] }
            }
            Err(e) => Outcome::failed(format!("the hold of {name} could not be read: {e}")),
        },
        Request::Status { name: None } => match all(client) {
            Ok(list) => {
                let held: Vec<&str> = list.iter().filter(|h| h.blocks_automatic_failover(now)).map(|h| h.name.as_str()).collect();
                let summary = match held.as_slice() {
                    [] if list.is_empty() => "no hold record: automatic failover on everywhere".to_string(),
                    [] => format!("automatic failover on everywhere ({} expired record(s))", list.len()),
                    names => format!("automatic failover off for {}", names.join(", ")),
                };
                Outcome { exit: 0, summary, changed: false, holds: list.into_iter().map(|h| Shown::of(h, now)).collect() }
            }
            Err(e) => Outcome::failed(format!("the hold records could not be read: {e}")),
        },
    }
}

/// Every record under the prefix.
fn all(client: &Client) -> Result<Vec<Holds>, consul::Error> {
    let mut out = Vec::new();
    for pair in client.kv_list(super::PREFIX)? {
        let name = pair.key.trim_start_matches(super::PREFIX).to_string();
        if super::validate_name(&name).is_ok() {
            out.push(super::read(client, &name)?);
        }
    }
    Ok(out)
}

fn not_changed(what: &str, name: &str, e: &consul::Error) -> String {
    if e.may_have_applied() {
        format!("{what} for {name}: {e}; a re-read could not tell whether it was applied, run `sengu-drill manual status --name {name}`")
    } else {
        format!("{what} for {name}: {e}; nothing changed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(action: Action, name: Option<&str>, reason: Option<&str>, lasts: Option<u64>) -> ManualArgs {
        ManualArgs { action, name: name.map(Into::into), reason: reason.map(Into::into), lasts: lasts.map(Duration::from_secs) }
    }

    #[test]
    fn on_needs_a_name_and_a_one_line_reason() {
        let e = args(Action::On, Some("redis"), None, None).request().unwrap_err().to_string();
        assert!(e.contains("`manual on` needs --reason TEXT"), "{e}");
        assert!(args(Action::On, Some("redis"), Some("  "), None).request().is_err());
        assert!(args(Action::On, Some("redis"), Some("a\nb"), None).request().is_err());
        assert!(args(Action::On, None, Some("x"), None).request().unwrap_err().to_string().contains("--name NAME is required"));
        assert!(args(Action::On, Some("a b"), Some("x"), None).request().unwrap_err().to_string().contains("invalid name"));
        assert_eq!(
            args(Action::On, Some("redis"), Some(" migrating "), Some(7200)).request().unwrap(),
            Request::On { name: "redis".into(), reason: "migrating".into(), lasts: Some(Duration::from_secs(7200)) }
        );
    }

    #[test]
    fn off_and_status_take_no_duration_and_status_no_name() {
        assert!(args(Action::Off, Some("redis"), None, Some(60)).request().is_err());
        assert!(args(Action::Off, None, None, None).request().is_err());
        assert_eq!(args(Action::Off, Some("redis"), Some("done"), None).request().unwrap(), Request::Off { name: "redis".into() });
        assert_eq!(args(Action::Status, None, None, None).request().unwrap(), Request::Status { name: None });
    }
}
