//! Process start-up shared by every sengu binary, written once (the `uucore::bin!` idea).
//!
//! [`run`] parses the command line with clap, calls the binary's body and turns everything that
//! can go wrong on the way into exit 2: a usage error (clap's message, also for a `clap::Error`
//! the body returns after its own argument checks), an error the body returns, and a panic. Never 1, because 1 means "warning" to Consul and "retry" to Sentinel, and never
//! death by signal (the workspace keeps `panic = "unwind"` so a panic can be caught here). A
//! binary's `main` is then one call: `sengu::entry::run(Kind::Check, |cli: Cli| …)`.

use std::any::Any;
use std::ffi::OsString;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

/// Any error a binary's body gives up with; its message (and its sources') is printed.
pub type Failure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the body returns: the exit code it decided on, or an error that means exit 2.
pub type BodyResult = Result<ExitCode, Failure>;

/// How the binary reports a failure it could not turn into its own outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Consul check: the line reads `CRITICAL: …`, so Consul's output starts with the state.
    Check,
    /// A hook or script: the line reads `<program>: …`.
    Hook,
}

/// The exit status for anything [`run`] catches: usage errors, errors and panics.
const FAILED: u8 = 2;

/// Parses `std::env::args_os()` into `C`, runs `body` and returns its exit code; see the
/// module doc for what becomes exit 2. `--help` and `--version` exit 0.
pub fn run<C: clap::Parser>(kind: Kind, body: impl FnOnce(C) -> BodyResult) -> ExitCode {
    run_with(kind, std::env::args_os(), body, &mut std::io::stdout())
}

/// [`run`] with the arguments and the output stream given, for tests.
fn run_with<C: clap::Parser>(
    kind: Kind,
    args: impl IntoIterator<Item = OsString>,
    body: impl FnOnce(C) -> BodyResult,
    out: &mut dyn Write,
) -> ExitCode {
    let program = C::command().get_name().to_string();
    let cli = match C::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help to stdout and usage errors to stderr, and picks 0 or 2.
            let _ = error.print();
            return ExitCode::from(if error.exit_code() == 0 { 0 } else { FAILED });
        }
    };
    let line = match panic::catch_unwind(AssertUnwindSafe(|| body(cli))) {
        Ok(Ok(code)) => return code,
        Ok(Err(failure)) => match failure.downcast::<clap::Error>() {
            // Arguments clap accepted but the binary's own checks refused (a malformed
            // positional host/port): report them exactly like clap's usage errors.
            Ok(usage) => {
                let _ = usage.print();
                return ExitCode::from(FAILED);
            }
            Err(failure) => error_chain(failure.as_ref()),
        },
        // The default panic hook has already put the location on stderr.
        Err(payload) => format!("internal error: {} (this is a bug in {program})", panic_message(payload.as_ref())),
    };
    let prefix = match kind {
        Kind::Check => "CRITICAL".to_string(),
        Kind::Hook => program,
    };
    let _ = writeln!(out, "{prefix}: {}", line.replace('\n', " ")).and_then(|()| out.flush());
    ExitCode::from(FAILED)
}

/// `error: cause: cause`, the way `{:#}` prints an anyhow chain.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // thiserror's `#[error("…: {0}")]` often repeats the source; don't print it twice.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic with a non-text payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(name = "demo-hook")]
    struct Cli {
        host: String,
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("demo-hook").chain(list.iter().copied()).map(OsString::from).collect()
    }

    fn run_capture(kind: Kind, list: &[&str], body: impl FnOnce(Cli) -> BodyResult) -> (ExitCode, String) {
        let mut out = Vec::new();
        let code = run_with(kind, args(list), body, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_bodys_exit_code_passes_through() {
        for n in [0, 1, 2, 3] {
            let (code, out) = run_capture(Kind::Check, &["h"], |cli| {
                assert_eq!(cli.host, "h");
                Ok(ExitCode::from(n))
            });
            assert_eq!((code, out.as_str()), (ExitCode::from(n), ""));
        }
    }

    #[test]
    fn a_panic_in_a_check_is_critical_with_exit_two() {
        let (code, out) = run_capture(Kind::Check, &["h"], |_| panic!("index out of range"));
        assert_eq!(code, ExitCode::from(2));
        assert_eq!(out, "CRITICAL: internal error: index out of range (this is a bug in demo-hook)\n");
    }

    #[test]
    fn a_panic_with_a_formatted_message_in_a_hook_names_the_program() {
        let (code, out) = run_capture(Kind::Hook, &["h"], |cli| panic!("no {}\nsecond line", cli.host));
        assert_eq!(code, ExitCode::from(2));
        assert_eq!(out, "demo-hook: internal error: no h second line (this is a bug in demo-hook)\n");
    }

    #[test]
    fn an_error_exits_two_with_its_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read config file /x")]
        struct Outer(#[source] std::io::Error);
        let (code, out) = run_capture(Kind::Check, &["h"], |_| {
            Err(Outer(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")).into())
        });
        assert_eq!(code, ExitCode::from(2));
        assert_eq!(out, "CRITICAL: cannot read config file /x: no such file\n");
    }

    #[test]
    fn a_usage_error_from_the_body_exits_two_without_a_critical_line() {
        use clap::CommandFactory;
        let (code, out) = run_capture(Kind::Check, &["h"], |_| {
            Err(Cli::command().error(clap::error::ErrorKind::ValueValidation, "invalid port \"x\"").into())
        });
        assert_eq!(code, ExitCode::from(2));
        assert_eq!(out, "", "clap prints usage errors on stderr");
    }

    #[test]
    fn usage_errors_exit_two_and_help_exits_zero() {
        let called = std::cell::Cell::new(false);
        let (code, _) = run_capture(Kind::Hook, &[], |_| {
            called.set(true);
            Ok(ExitCode::SUCCESS)
        });
        assert_eq!(code, ExitCode::from(2));
        let (code, _) = run_capture(Kind::Hook, &["a", "b"], |_| Ok(ExitCode::SUCCESS));
        assert_eq!(code, ExitCode::from(2));
        let (code, _) = run_capture(Kind::Hook, &["--help"], |_| Ok(ExitCode::SUCCESS));
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(!called.get(), "the body must not run on a usage error");
    }
}
