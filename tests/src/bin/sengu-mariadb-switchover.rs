//! `sengu-mariadb-switchover`: a planned MariaDB GTID switchover done the way `mysqlrpladmin
//! switchover` does it, for the demo and the MySQL drill (mysqlrpladmin cannot manage MariaDB,
//! reference D1): run `--exec-before` with four arguments, lock the old master (`read_only`,
//! then `FLUSH TABLES WITH READ LOCK`), wait until the new master has applied everything,
//! promote it, make the old master its replica, and run `--exec-after` with the two arguments
//! of a switchover. Test tooling: it logs in as the testbed's root user.
//!
//! Usage: `sengu-mariadb-switchover --old HOST:PORT --new HOST:PORT [--before-exec PATH]
//! [--after-exec PATH]`. Exit 0 when the new master took over; 1 otherwise, with the reason.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};
use testbed::mariadb::{REPL_PASSWORD, REPL_USER, ROOT_USER};

/// How long the new master may take to apply the old one's last transactions.
const CATCH_UP_SECONDS: u64 = 10;

struct Args {
    old: SocketAddr,
    new: SocketAddr,
    before: Option<PathBuf>,
    after: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut old, mut new, mut before, mut after) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--old" => old = Some(value.parse().map_err(|e| format!("--old {value:?}: {e}"))?),
            "--new" => new = Some(value.parse().map_err(|e| format!("--new {value:?}: {e}"))?),
            "--before-exec" => before = Some(PathBuf::from(value)),
            "--after-exec" => after = Some(PathBuf::from(value)),
            // mysqlrpladmin's login form, accepted and echoed the way mysqlrpladmin's verbose
            // output does, so the drill's redaction of argv and output is tested against it.
            "--master" => println!("# master on {value}: ok"),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { old: old.ok_or("--old HOST:PORT is required")?, new: new.ok_or("--new HOST:PORT is required")?, before, after })
}

fn connect(addr: SocketAddr) -> Result<Conn, String> {
    let opts = OptsBuilder::new()
        .ip_or_hostname(Some(addr.ip().to_string()))
        .tcp_port(addr.port())
        .user(Some(ROOT_USER))
        .prefer_socket(false)
        .tcp_connect_timeout(Some(Duration::from_secs(2)))
        .read_timeout(Some(Duration::from_secs(CATCH_UP_SECONDS + 5)));
    Conn::new(opts).map_err(|e| format!("mysql {addr}: {e}"))
}

fn exec(conn: &mut Conn, addr: SocketAddr, sql: &str) -> Result<(), String> {
    conn.query_drop(sql).map_err(|e| format!("mysql {addr}: {sql}: {e}"))
}

/// Runs a hook like mysqlrpladmin: the bare path plus positional arguments; its exit code is
/// only logged (mysqlrpladmin 1.6.5 does not stop for it either).
fn hook(path: &Option<PathBuf>, args: &[String], start: Instant) {
    let Some(path) = path else { return };
    match Command::new(path).args(args).output() {
        Ok(out) => {
            let first = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string();
            say(start, &format!("{} {} -> {}: {first}", path.display(), args.join(" "), out.status));
        }
        Err(e) => say(start, &format!("cannot run {}: {e}", path.display())),
    }
}

fn say(start: Instant, what: &str) {
    println!("{:>7.1} ms  {what}", start.elapsed().as_secs_f64() * 1000.0);
}

fn switchover(a: &Args) -> Result<(), String> {
    let start = Instant::now();
    let (old, new) = (a.old, a.new);
    let mut old_conn = connect(old)?;
    let mut new_conn = connect(new)?;
    hook(&a.before, &[old.ip().to_string(), old.port().to_string(), new.ip().to_string(), new.port().to_string()], start);

    exec(&mut old_conn, old, "SET GLOBAL read_only = 1")?;
    exec(&mut old_conn, old, "FLUSH TABLES WITH READ LOCK")?;
    let pos: String = old_conn.query_first("SELECT @@gtid_binlog_pos").map_err(|e| format!("mysql {old}: {e}"))?.unwrap_or_default();
    say(start, &format!("locked the old master {old} at GTID {pos:?}"));

    let caught: Option<i64> = new_conn
        .exec_first::<i64, _, _>("SELECT MASTER_GTID_WAIT(?, ?)", (pos.as_str(), CATCH_UP_SECONDS))
        .map_err(|e| format!("mysql {new}: MASTER_GTID_WAIT: {e}"))?;
    if caught != Some(0) {
        let _ = exec(&mut old_conn, old, "UNLOCK TABLES");
        let _ = exec(&mut old_conn, old, "SET GLOBAL read_only = 0");
        return Err(format!("{new} did not reach {pos:?} within {CATCH_UP_SECONDS}s; the old master was unlocked"));
    }
    for sql in ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"] {
        exec(&mut new_conn, new, sql)?;
    }
    say(start, &format!("promoted {new}"));

    exec(&mut old_conn, old, "UNLOCK TABLES")?;
    let change = format!(
        "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', \
         MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1",
        new.ip(),
        new.port()
    );
    exec(&mut old_conn, old, &change)?;
    exec(&mut old_conn, old, "START SLAVE")?;
    say(start, &format!("{old} replicates from {new}"));

    hook(&a.after, &[new.ip().to_string(), new.port().to_string()], start);
    Ok(())
}

fn main() -> ExitCode {
    let outcome = parse().and_then(|a| switchover(&a));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sengu-mariadb-switchover: {e}");
            ExitCode::FAILURE
        }
    }
}
