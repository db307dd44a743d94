//! How a MySQL hook run ends: its exit code ([`HookExit`], the one table of codes both hooks
//! share, for mysqlfailover's `--script-threshold`) and the [`Report`] it prints, whose first line
//! always says what Consul holds afterwards.

use std::fmt;
use std::process::ExitCode;

use serde::Serialize;

use crate::check::Format;
use crate::consul::{self, ErrorClass};

/// The exit codes of `mysql-before-exec` and `mysql-after-exec`. No bare number appears
/// anywhere else; [`From<HookExit> for ExitCode`](HookExit#impl-From<HookExit>-for-ExitCode)
/// is the one place they become a status.
///
/// mysqlfailover 1.6.5 only logs a hook's exit code; releases up to 1.6.4 abort the failover
/// when it is at least `--script-threshold`, so the codes are ordered by how much an operator
/// should want that: the higher, the more a human must look before the move goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookExit {
    /// 0: Consul is as the hook wants it (also when it already was).
    Done,
    /// 1: Consul could not be reached or kept changing under us; the transaction was not
    /// applied, and running the hook again is safe.
    ConsulNotUpdated,
    /// 2: bad arguments or settings; nothing was touched. (Also what `sengu::entry` uses for
    /// usage errors and panics.)
    BadInput,
    /// 3: the new master failed verification. Shown read-only or still replicating: Consul
    /// holds no master record rather than a wrong one. Only not verifiable (unreachable, timed
    /// out, access denied): a record that already names it is left as it is.
    NewMasterRejected,
    /// 4: Consul refused the request (ACL denied, TLS, a request it rejects); retrying will not
    /// help until the token, policy or TLS settings are fixed.
    ConsulRefused,
    /// 5: Consul names a different server that is itself a writable master; it was left in
    /// place, since overwriting it could hide a split brain.
    OtherMaster,
    /// 6: Consul was updated, but its DNS did not answer the new address before the deadline
    /// (`--wait-dns`).
    DnsNotUpdated,
    /// 7: MHA's `status`: Consul's master record and the master MHA monitors disagree (or the
    /// master is not a writable master). Nothing was changed.
    Disagrees,
}

impl HookExit {
    /// The numeric exit status.
    pub fn code(self) -> u8 {
        match self {
            HookExit::Done => 0,
            HookExit::ConsulNotUpdated => 1,
            HookExit::BadInput => 2,
            HookExit::NewMasterRejected => 3,
            HookExit::ConsulRefused => 4,
            HookExit::OtherMaster => 5,
            HookExit::DnsNotUpdated => 6,
            HookExit::Disagrees => 7,
        }
    }

    /// The exit status MHA is given: 0 carries on; 10 is MHA's "proceeding" (it logs a warning
    /// and carries on), for a master published whose DNS answer was late; any other code makes
    /// MHA abort the switch before it turns `read_only` off on the new master.
    pub fn mha_code(self) -> u8 {
        match self {
            HookExit::DnsNotUpdated => 10,
            other => other.code(),
        }
    }

    /// The exit for a failed Consul call: unavailable or conflicting means "not updated, retry
    /// is safe"; everything else means Consul refused what we sent.
    pub fn for_consul_error(error: &consul::Error) -> HookExit {
        match error.class() {
            ErrorClass::Unavailable | ErrorClass::Conflict => HookExit::ConsulNotUpdated,
            ErrorClass::Denied | ErrorClass::NotFound | ErrorClass::Protocol | ErrorClass::Config => HookExit::ConsulRefused,
        }
    }
}

impl From<HookExit> for ExitCode {
    fn from(exit: HookExit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// What a hook run tells its caller: one summary line that says what happened and what Consul
/// holds now, then detail lines (each change, the fencing result, notes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    #[serde(skip)]
    pub exit: HookExit,
    pub summary: String,
    pub details: Vec<String>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    outcome: HookExit,
    exit_code: u8,
    summary: &'a str,
    details: &'a [String],
}

impl Report {
    pub fn new(exit: HookExit, summary: impl Into<String>) -> Report {
        Report { exit, summary: summary.into(), details: Vec::new() }
    }

    pub fn detail(mut self, line: impl Into<String>) -> Report {
        self.details.push(line.into());
        self
    }

    /// Text: `<program>: <summary>` and one indented line per detail. JSON: one object with
    /// the outcome, the exit code, the summary and the details.
    pub fn render(&self, program: &str, format: Format) -> String {
        match format {
            Format::Text => {
                let mut text = format!("{program}: {}\n", self.summary);
                for line in &self.details {
                    text.push_str("  ");
                    text.push_str(line);
                    text.push('\n');
                }
                text
            }
            Format::Json => {
                let json = JsonReport { outcome: self.exit, exit_code: self.exit.code(), summary: &self.summary, details: &self.details };
                // Serialising strings and a unit enum cannot fail; an empty object is the fallback.
                let mut text = serde_json::to_string(&json).unwrap_or_else(|_| "{}".to_string());
                text.push('\n');
                text
            }
        }
    }

    /// Prints the report on stdout (mysqlfailover keeps it only with `--verbose`, which is why
    /// the action log exists) and returns the exit code.
    pub fn print(&self, program: &str, format: Format) -> ExitCode {
        self.print_with_code(program, format, self.exit.code())
    }

    /// [`Report::print`] for MHA, which reads exit statuses its own way ([`HookExit::mha_code`]).
    pub fn print_for_mha(&self, program: &str, format: Format) -> ExitCode {
        self.print_with_code(program, format, self.exit.mha_code())
    }

    fn print_with_code(&self, program: &str, format: Format, code: u8) -> ExitCode {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.render(program, format).as_bytes()).and_then(|()| out.flush());
        ExitCode::from(code)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_table() {
        let table = [
            (HookExit::Done, 0),
            (HookExit::ConsulNotUpdated, 1),
            (HookExit::BadInput, 2),
            (HookExit::NewMasterRejected, 3),
            (HookExit::ConsulRefused, 4),
            (HookExit::OtherMaster, 5),
            (HookExit::DnsNotUpdated, 6),
            (HookExit::Disagrees, 7),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code);
            assert_eq!(ExitCode::from(exit), ExitCode::from(code));
            let mha = if exit == HookExit::DnsNotUpdated { 10 } else { code };
            assert_eq!(exit.mha_code(), mha, "MHA carries on only on 0 and 10");
        }
    }

    #[test]
    fn consul_errors_map_to_retry_or_refused() {
        let unreachable = consul::Error::Unreachable { addr: "a:1".into(), reason: "refused".into() };
        assert_eq!(HookExit::for_consul_error(&unreachable), HookExit::ConsulNotUpdated);
        let rolled_back = consul::Error::TxnRolledBack { addr: "a:1".into(), errors: vec![] };
        assert_eq!(HookExit::for_consul_error(&rolled_back), HookExit::ConsulNotUpdated);
        let denied = consul::Error::AclDenied { addr: "a:1".into(), request: "PUT /v1/txn".into(), body: "ACL not found".into() };
        assert_eq!(HookExit::for_consul_error(&denied), HookExit::ConsulRefused);
    }

    #[test]
    fn text_and_json_render_the_same_report() {
        let report = Report::new(HookExit::NewMasterRejected, "new master not published").detail("removed node foo-db-master");
        assert_eq!(report.render("mysql-after-exec", Format::Text), "mysql-after-exec: new master not published\n  removed node foo-db-master\n");
        let json: serde_json::Value = serde_json::from_str(&report.render("mysql-after-exec", Format::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"outcome": "new_master_rejected", "exit_code": 3, "summary": "new master not published",
                               "details": ["removed node foo-db-master"]})
        );
    }
}
