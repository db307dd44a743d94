//! Repository automation, run as `cargo xtask <task>` through the alias in
//! `.cargo/config.toml` (the cargo-xtask pattern): it needs nothing but cargo and rustc, so a
//! fresh clone can run it. Each task is a module; nothing here ships to users.
//!
//! - `test`: install the Debian packages the tests start (Redis, Sentinel, MariaDB, dnsmasq) if
//!   any is missing, then `cargo test --workspace` with any further arguments passed on; without
//!   arguments, then the package check (`dist::check`: install, ask, remove the `.deb`).
//! - `demo`: the same install, a build of every executable, then the demo program: a local lab
//!   (Redis + Sentinel, MariaDB, consul-standin) running a planned Redis drill, a crash
//!   failover and a MySQL switchover, printed as a timeline; then a client host whose Consul
//!   agent dies, kept resolving by consul-hosts-fallback (`demo_fallback`).
//! - `bench`: the same in release mode, then the benchmark table (wall time and peak RSS per
//!   executable, the Redis drill's switchover figures over 20 rounds).
//! - `partitions`: the same in release mode, then the partition scenarios in private network
//!   namespaces, one table of figures (lost writes, two-master windows, DNS) per strategy.
//! - `man`: the man pages (`docs/man/`) and shell completions (`docs/completions/`), rendered
//!   from the executables' clap definitions; a test fails when the committed ones are stale.
//! - `dist`: the Debian package (`target/debian/sengu_<version>_<arch>.deb`): the executables,
//!   man pages, completions, systemd units and examples.
//!
//! Tests never depend on xtask: once the packages are there, plain `cargo test` passes too.

mod bench;
mod demo;
mod demo_fallback;
mod dist;
mod man;
mod packages;
mod partitions;
mod test;
#[cfg(test)]
mod tidy;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type DynError = Box<dyn std::error::Error>;

const HELP: &str = "\
Usage: cargo xtask <TASK> [ARGS...]

Tasks:
  test [ARGS...]  install missing test packages (as root), then cargo test --workspace [ARGS...];
                  without ARGS, then install, try and remove the Debian package (as root)
  demo            install missing test packages, build, then run the whole suite in a local lab:
                  a planned Redis drill, a crash failover, a MySQL switchover, Consul's state
  bench [ARGS...] install missing test packages, build in release mode, then print the table of
                  per-executable costs and switchover figures (--iterations N, --rounds N)
  partitions [ARGS...]
                  install missing test packages, build in release mode, then run the partition
                  scenarios (as root) and print one table per strategy (--runs N, --strategy S, --scenario N)
  man             write docs/man/*.1 and docs/completions/ from the executables' clap definitions
  dist [--profile release|dev]
                  build the executables, then the Debian package target/debian/sengu_<version>_<arch>.deb
  dist --check    build the dev executables, then install, try and remove their package (as root)";

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<(), DynError> {
    let mut args = std::env::args_os().skip(1);
    let task = args.next();
    match task.as_ref().and_then(|t| t.to_str()) {
        Some("test") => test::run(args.collect()),
        Some("demo") => demo::run(),
        Some(task) if demo_fallback::is_host_task(Some(task)) => demo_fallback::host(Path::new(&args.next().unwrap_or_default())),
        Some("bench") => bench::run(args.collect()),
        Some("partitions") => partitions::run(args.collect()),
        Some("man") => man::run(),
        Some("dist") => dist::run(args.collect()),
        Some("-h" | "--help" | "help") => {
            println!("{HELP}");
            Ok(())
        }
        None => Err(format!("no task given\n\n{HELP}").into()),
        Some(_) => Err(format!("unknown task {:?}\n\n{HELP}", task.unwrap_or_default()).into()),
    }
}

/// The workspace root: two levels above this crate's manifest, whatever the current directory.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir).to_path_buf()
}

/// A `cargo` command: the cargo that runs xtask (`$CARGO`), in the project root.
fn cargo<I: Into<OsString>>(args: impl IntoIterator<Item = I>) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root()).args(args.into_iter().map(Into::into));
    cmd
}

/// Runs `cmd` and fails unless it exits 0, naming the command.
fn run_checked(cmd: &mut Command) -> Result<(), DynError> {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}").into());
    }
    Ok(())
}
