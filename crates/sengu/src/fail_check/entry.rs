//! Process start-up for `mysql-fail-check`, where every failure exits 0.
//!
//! mysqlfailover reads any non-zero exit of `--exec-fail-check` as "fail over now", so the
//! usual rule of [`crate::entry`] (usage errors, errors and panics exit 2) would let a typo in
//! the config file, a bad `SENGU_*` value or a bug fail over a healthy master. Here each of them
//! is a refusal ([`crate::entry::Kind::FailSafe`]): clap's message (usage errors) on stderr, one
//! `mysql-fail-check: CRITICAL: …` line on stdout, that line in the durable log, and exit 0: the
//! master stays, and the log says why nothing is checked.

use std::io::Write;
use std::process::ExitCode;

use crate::actionlog::{ActionLog, Target};
use crate::entry::{self, BodyResult, Kind};
use crate::settings::ConfigFile;

/// The program name in log lines and messages.
pub const PROGRAM: &str = "mysql-fail-check";

/// Parses `std::env::args_os()` into `C`, runs `body` and returns its exit code; see the module
/// doc for what becomes a logged exit 0. `--help` and `--version` exit 0 too.
pub fn run<C: clap::Parser>(body: impl FnOnce(C) -> BodyResult) -> ExitCode {
    entry::run(Kind::FailSafe(&mut |problem, out| refuse(problem, out, &mut ActionLog::open(PROGRAM, &fallback_target()))), body)
}

/// Logs and prints a run that could not start, and exits 0.
fn refuse(problem: &str, out: &mut dyn Write, log: &mut ActionLog) -> ExitCode {
    let report = super::refuse(problem, log);
    let _ = writeln!(out, "{}", report.line()).and_then(|()| out.flush());
    report.exit().into()
}

/// Where to log when the command line or the config could not be read: the log named by
/// `SENGU_LOG_FILE`/`SENGU_SYSLOG` (how mysqlfailover's environment passes it), else the
/// config file's `[log]` table if that file at least parses. Flags are not consulted: they
/// are what failed to parse.
fn fallback_target() -> Target {
    let env_file = std::env::var_os("SENGU_LOG_FILE").filter(|v| !v.is_empty()).map(Into::into);
    // The words clap's BoolishValueParser takes for true, which `--syslog` uses.
    let env_syslog = std::env::var("SENGU_SYSLOG").is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "y" | "yes" | "t" | "true" | "on" | "1"));
    let config = std::env::var_os("SENGU_CONFIG").filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    let from_env = crate::settings::LogArgs { file: env_file, syslog: env_syslog.then_some(true) };
    ConfigFile::discover(config.as_deref())
        .ok()
        .and_then(|c| crate::settings::layer(&from_env, &c).ok())
        .unwrap_or(from_env)
        .target()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(name = "mysql-fail-check")]
    struct Cli {
        host: String,
        port: String,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        runs: Option<u32>,
    }

    /// [`run`] with the arguments, the output and the log given.
    fn run_capture(list: &[&str], body: impl FnOnce(Cli) -> BodyResult) -> (ExitCode, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        let target = Target { file: Some(path.clone()), syslog: false };
        let args = std::iter::once("mysql-fail-check").chain(list.iter().copied()).map(OsString::from);
        let mut out = Vec::new();
        let mut refuse = |problem: &str, out: &mut dyn Write| refuse(problem, out, &mut ActionLog::open(PROGRAM, &target));
        let code = entry::run_with(Kind::FailSafe(&mut refuse), args, body, &mut out);
        (code, String::from_utf8(out).unwrap(), std::fs::read_to_string(&path).unwrap_or_default())
    }

    #[test]
    fn the_bodys_exit_code_passes_through() {
        let (code, out, log) = run_capture(&["h", "1"], |_| Ok(ExitCode::from(2)));
        assert_eq!((code, out.as_str(), log.as_str()), (ExitCode::from(2), "", ""));
    }

    #[test]
    fn usage_errors_exit_zero_with_a_logged_critical_line() {
        let (_, out, _) = run_capture(&["h"], |_| Ok(ExitCode::from(2)));
        assert_eq!(out, "mysql-fail-check: CRITICAL: bad input, no failover: the following required arguments were not provided: <PORT>\n");
        for args in [&["h"][..], &["h", "1", "extra"], &["h", "1", "--runs", "0"]] {
            let (code, out, log) = run_capture(args, |_| Ok(ExitCode::from(2)));
            assert_eq!(code, ExitCode::SUCCESS, "{args:?}");
            assert!(out.starts_with("mysql-fail-check: CRITICAL: bad input, no failover: "), "{out}");
            assert_eq!(out.lines().count(), 1, "{out}");
            assert!(log.contains(" action=fail-check decision=no-failover category=BadInput problem="), "{log}");
        }
    }

    #[test]
    fn an_error_or_a_panic_in_the_body_exits_zero() {
        let (code, out, log) = run_capture(&["h", "1"], |_| Err("cannot read config file /x".into()));
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(out, "mysql-fail-check: CRITICAL: bad input, no failover: cannot read config file /x\n");
        assert!(log.contains("problem=\"cannot read config file /x\""), "{log}");
        let (code, out, _) = run_capture(&["h", "1"], |_| panic!("boom"));
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(out.contains("internal error: boom (this is a bug in mysql-fail-check)"), "{out}");
    }

    #[test]
    fn help_exits_zero_without_a_log_line() {
        let (code, out, log) = run_capture(&["--help"], |_| Ok(ExitCode::from(2)));
        assert_eq!((code, out.as_str(), log.as_str()), (ExitCode::SUCCESS, "", ""));
    }
}
