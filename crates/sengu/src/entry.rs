//! Process start-up shared by every sengu binary, written once (the `uucore::bin!` idea).
//!
//! [`run`] parses the command line with clap, calls the binary's body and catches everything
//! that can go wrong on the way: a usage error (clap's message, also for a `clap::Error` the
//! body returns after its own argument checks), an error the body returns, and a panic. For a
//! check or a hook each of them exits 2: never 1, because 1 means "warning" to Consul and
//! "retry" to Sentinel, and never death by signal (the workspace keeps `panic = "unwind"` so a
//! panic can be caught here). A caller that acts on any non-zero exit gets [`Kind::FailSafe`]
//! instead, where the binary reports the failure and picks the code. A binary's `main` is then
//! one call: `sengu::entry::run(Kind::Check, |cli: Cli| …)`.

use std::any::Any;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

/// Any error a binary's body gives up with; its message (and its sources') is printed.
pub type Failure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the body returns: the exit code it decided on, or an error that [`run`] reports.
pub type BodyResult = Result<ExitCode, Failure>;

/// Reports a failure [`run`] caught, given as one line (no `error: ` prefix, no newline), on
/// the output it is handed, and returns the exit code.
pub type Refuse<'a> = &'a mut dyn FnMut(&str, &mut dyn Write) -> ExitCode;

/// How the binary reports a failure it could not turn into its own outcome, and how it exits.
pub enum Kind<'a> {
    /// A Consul check: the line reads `CRITICAL: …`, so Consul's output starts with the state;
    /// exit 2. Usage errors show clap's message on stderr only.
    Check,
    /// A hook or script: the line reads `<program>: …`; exit 2. Usage errors show clap's
    /// message on stderr only.
    Hook,
    /// A hook whose caller acts on any non-zero exit (mysqlfailover's `--exec-fail-check`
    /// fails over), so that a typo or a bug must not read as a verdict: every failure, usage
    /// errors included (clap's message still goes to stderr first), is handed to the function,
    /// which reports it (its output line, its durable log) and picks the exit code.
    FailSafe(Refuse<'a>),
}

impl fmt::Debug for Kind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Check => "Check",
            Kind::Hook => "Hook",
            Kind::FailSafe(_) => "FailSafe",
        })
    }
}

/// The exit status of a check or hook for anything [`run`] catches.
const FAILED: u8 = 2;

/// What [`run`] caught.
enum Caught {
    /// Arguments clap refused, or that the binary's own checks refused (a malformed
    /// positional host/port).
    Usage(clap::Error),
    /// An error or a panic, as one line.
    Failed(String),
}

/// `--print-config`: prints the resolved `settings` as TOML on stdout and exits 0; nothing is
/// asked or changed.
pub fn print_config<T: serde::Serialize>(settings: &T) -> BodyResult {
    let text = crate::settings::render(settings)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "# the settings this run would use (flags > environment > config file > defaults)")
        .and_then(|()| out.write_all(text.as_bytes()))
        .and_then(|()| out.flush())
        .map_err(|e| -> Failure { Box::new(e) })?;
    Ok(ExitCode::SUCCESS)
}

/// Parses `std::env::args_os()` into `C`, runs `body` and returns its exit code; see the
/// module doc for what happens to a failure. `--help` and `--version` exit 0.
pub fn run<C: clap::Parser>(kind: Kind<'_>, body: impl FnOnce(C) -> BodyResult) -> ExitCode {
    run_with(kind, std::env::args_os(), body, &mut std::io::stdout())
}

/// [`run`] with the arguments and the output stream given, for tests.
pub(crate) fn run_with<C: clap::Parser>(
    kind: Kind<'_>,
    args: impl IntoIterator<Item = OsString>,
    body: impl FnOnce(C) -> BodyResult,
    out: &mut dyn Write,
) -> ExitCode {
    let program = C::command().get_name().to_string();
    let caught = match C::try_parse_from(args) {
        Ok(cli) => match panic::catch_unwind(AssertUnwindSafe(|| body(cli))) {
            Ok(Ok(code)) => return code,
            Ok(Err(failure)) => match failure.downcast::<clap::Error>() {
                Ok(usage) => Caught::Usage(*usage),
                Err(failure) => match failure.downcast::<crate::settings::SetupError>() {
                    // A refused setting reads like clap's own refusal of a flag.
                    Ok(setup) => match *setup {
                        crate::settings::SetupError::Usage(usage) => Caught::Usage(usage.format(&mut C::command())),
                        other => Caught::Failed(error_chain(&other)),
                    },
                    Err(failure) => Caught::Failed(error_chain(failure.as_ref())),
                },
            },
            // The default panic hook has already put the location on stderr.
            Err(payload) => Caught::Failed(format!("internal error: {} (this is a bug in {program})", panic_message(payload.as_ref()))),
        },
        // `--help` and `--version`: clap prints them on stdout.
        Err(help) if help.exit_code() == 0 => {
            let _ = help.print();
            return ExitCode::SUCCESS;
        }
        Err(usage) => Caught::Usage(hide_stray_word(usage, &mut C::command())),
    };
    let line = match caught {
        Caught::Usage(usage) => {
            // clap prints usage errors on stderr.
            let _ = usage.print();
            match kind {
                Kind::FailSafe(_) => usage_line(&usage),
                Kind::Check | Kind::Hook => return ExitCode::from(FAILED),
            }
        }
        Caught::Failed(line) => line.replace('\n', " "),
    };
    let prefix = match kind {
        Kind::FailSafe(refuse) => return refuse(&line, out),
        Kind::Check => "CRITICAL".to_string(),
        Kind::Hook => program,
    };
    let _ = writeln!(out, "{prefix}: {line}").and_then(|()| out.flush());
    ExitCode::from(FAILED)
}

/// clap echoes an unexpected argument. A word without an option can be half of a password a
/// caller split (MHA and mysqlrpladmin put passwords on the command line), so that one is
/// not shown; an unknown `--option` is.
fn hide_stray_word(usage: clap::Error, command: &mut clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let stray = usage.kind() == ErrorKind::UnknownArgument
        && matches!(usage.get(ContextKind::InvalidArg), Some(ContextValue::String(arg)) if !arg.starts_with('-'));
    if stray {
        command.error(ErrorKind::UnknownArgument, "unexpected argument (a word without an option; not shown, as it may be a secret)")
    } else {
        usage
    }
}

/// clap's message up to the usage (which is already on stderr), on one line and without its
/// `error: ` prefix: `the following required arguments were not provided: <OLD_PORT>`.
fn usage_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let message: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let line = message.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
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
    fn fail_safe_hands_every_failure_to_the_binary_as_one_line() {
        let mut seen = Vec::new();
        let mut refuse = |line: &str, out: &mut dyn Write| {
            seen.push(line.to_string());
            let _ = writeln!(out, "refused: {line}");
            ExitCode::SUCCESS
        };
        let mut capture = |list: &[&str], body: &dyn Fn(Cli) -> BodyResult| {
            let mut out = Vec::new();
            let code = run_with(Kind::FailSafe(&mut refuse), args(list), body, &mut out);
            (code, String::from_utf8(out).unwrap())
        };
        assert_eq!(capture(&[], &|_| Ok(ExitCode::from(2))), (ExitCode::SUCCESS, "refused: the following required arguments were not provided: <HOST>\n".into()));
        assert_eq!(capture(&["h"], &|_| Ok(ExitCode::from(2))), (ExitCode::from(2), String::new()), "the body's own code passes through");
        assert_eq!(capture(&["h"], &|_| Err("bad\nconfig".into())).1, "refused: bad config\n");
        assert_eq!(capture(&["h"], &|_| panic!("boom")).1, "refused: internal error: boom (this is a bug in demo-hook)\n");
        assert_eq!(capture(&["--help"], &|_| Ok(ExitCode::from(2))), (ExitCode::SUCCESS, String::new()), "help is no failure");
        assert_eq!(seen.len(), 3, "{seen:?}");
    }

    #[test]
    fn a_stray_word_is_not_echoed_but_an_unknown_option_is() {
        let mut lines = Vec::new();
        let mut refuse = |line: &str, _: &mut dyn Write| {
            lines.push(line.to_string());
            ExitCode::SUCCESS
        };
        for list in [&["h", "half-of-a-s3cret"][..], &["h", "--bogus"][..]] {
            run_with(Kind::FailSafe(&mut refuse), args(list), |_: Cli| Ok(ExitCode::SUCCESS), &mut Vec::new());
        }
        assert_eq!(lines[0], "unexpected argument (a word without an option; not shown, as it may be a secret)");
        assert!(lines[1].contains("unexpected argument '--bogus' found"), "{lines:?}");
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
