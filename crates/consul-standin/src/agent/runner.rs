//! Running an agent's checks: one task per interval check (script, HTTP, TCP) and one timer per
//! TTL check, each feeding results through Consul's status handler (the
//! `success_before_passing` / `failures_before_critical` thresholds) into the local state.
//!
//! Every task carries the generation of the check it was started for and only updates a check
//! of that generation, so a re-registered check is never touched by its predecessor's runner.
//! The HTTP and TCP probes sit here beside the loop (only scripts, which need process-group
//! handling, have a module of their own).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::agent::definition::{CheckDef, CheckKind};
use crate::agent::{CheckRun, LocalCheck, local_check, script, update_check};
use crate::catalog::{CRITICAL, PASSING, WARNING};
use crate::state::{Datacenter, State};

/// The result of one run, before thresholds.
#[derive(Debug, Clone)]
struct RunResult {
    status: &'static str,
    output: String,
    exit_code: Option<i32>,
    timed_out: bool,
}

/// Starts whatever drives `lc`: an interval loop or a TTL timer.
pub fn start(dc: &Arc<Datacenter>, agent_i: usize, lc: &mut LocalCheck) {
    let Some(def) = lc.def.clone() else { return };
    match def.kind {
        CheckKind::Ttl { .. } => restart_ttl(dc, agent_i, lc),
        _ => {
            let task = tokio::spawn(interval_loop(
                Arc::clone(dc),
                agent_i,
                def.id.clone(),
                lc.generation,
                def,
            ));
            lc.runner = Some(task.abort_handle());
        }
    }
}

/// (Re)arms a TTL check's timer; expiry makes the check critical with `TTL expired...`.
pub fn restart_ttl(dc: &Arc<Datacenter>, agent_i: usize, lc: &mut LocalCheck) {
    let Some(CheckKind::Ttl { ttl }) = lc.def.as_ref().map(|d| d.kind.clone()) else {
        return;
    };
    if let Some(h) = lc.ttl_timer.take() {
        h.abort();
    }
    let deadline = Instant::now() + ttl;
    let generation = lc.generation;
    let check_id = lc.check.check_id.clone();
    let dc2 = Arc::clone(dc);
    lc.ttl_deadline = Some(deadline);
    let task = tokio::spawn(async move {
        tokio::time::sleep_until(deadline.into()).await;
        dc2.write(|st, idx| expire_ttl(&dc2, st, agent_i, &check_id, generation, idx));
    });
    lc.ttl_timer = Some(task.abort_handle());
}

fn expire_ttl(
    dc: &Datacenter,
    st: &mut State,
    agent_i: usize,
    check_id: &str,
    generation: u64,
    idx: u64,
) {
    let Some(lc) = local_check(st, agent_i, check_id) else {
        return;
    };
    // An update that raced with this timer moved the deadline; it wins.
    if lc.generation != generation || lc.ttl_deadline.is_none_or(|d| Instant::now() < d) {
        return;
    }
    lc.ttl_deadline = None;
    let output = if lc.ttl_last_output.is_empty() {
        "TTL expired".to_string()
    } else {
        format!(
            "TTL expired (last output before timeout follows): {}",
            lc.ttl_last_output
        )
    };
    update_check(dc, st, agent_i, check_id, CRITICAL, &output, idx);
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Consul waits a random time within one interval before the first run, so that checks
/// registered together don't run in lockstep.
fn first_delay(dc: &Datacenter, interval: Duration) -> Duration {
    if dc.config.first_check_immediately || interval.is_zero() {
        return Duration::ZERO;
    }
    let ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::random_range(0..ms))
}

async fn interval_loop(
    dc: Arc<Datacenter>,
    agent_i: usize,
    check_id: String,
    generation: u64,
    def: CheckDef,
) {
    let interval = def.interval.max(dc.config.min_check_interval);
    let timeout = def.effective_timeout();
    let max_output = def.output_max_size.map_or(dc.config.output_max_size, |m| {
        m.min(dc.config.output_max_size)
    });
    // On a real host a check reaches its agent at the client default, 127.0.0.1:8500; a
    // stand-in agent listens elsewhere, so its checks are told where.
    let env: Vec<(String, String)> = dc.agents[agent_i]
        .http_addr
        .get()
        .map(|a| vec![("CONSUL_HTTP_ADDR".to_string(), a.to_string())])
        .unwrap_or_default();
    tokio::time::sleep(first_delay(&dc, interval)).await;
    loop {
        let started = SystemTime::now();
        let result = run_once(&def.kind, timeout, max_output, &env).await;
        let run = CheckRun {
            started_ms: unix_ms(started),
            finished_ms: unix_ms(SystemTime::now()),
            exit_code: result.exit_code,
            timed_out: result.timed_out,
            status: result.status.to_string(),
            applied: None,
            output: result.output.clone(),
        };
        dc.write(|st, idx| apply(&dc, st, agent_i, &check_id, generation, run, result, idx));
        tokio::time::sleep(interval).await;
    }
}

async fn run_once(
    kind: &CheckKind,
    timeout: Duration,
    max_output: usize,
    env: &[(String, String)],
) -> RunResult {
    match kind {
        CheckKind::Script { args } => {
            let r = script::run(args, timeout, max_output, env).await;
            RunResult {
                status: r.status,
                output: r.output,
                exit_code: r.exit_code,
                timed_out: r.timed_out,
            }
        }
        CheckKind::Http {
            url,
            method,
            header,
            body,
            ..
        } => {
            let (url, method, header, body) =
                (url.clone(), method.clone(), header.clone(), body.clone());
            let joined = tokio::task::spawn_blocking(move || {
                http_check(&url, &method, &header, &body, timeout, max_output)
            })
            .await;
            let (status, output) =
                joined.unwrap_or_else(|e| (CRITICAL, format!("check failed: {e}")));
            RunResult {
                status,
                output,
                exit_code: None,
                timed_out: false,
            }
        }
        CheckKind::Tcp { addr } => {
            let (status, output) = tcp_check(addr, timeout).await;
            RunResult {
                status,
                output,
                exit_code: None,
                timed_out: false,
            }
        }
        CheckKind::Ttl { .. } => RunResult {
            status: CRITICAL,
            output: String::new(),
            exit_code: None,
            timed_out: false,
        },
    }
}

/// Consul's `StatusHandler`: consecutive results needed before a change is applied; a warning
/// counts as a success. Returns the status to apply, if any.
fn threshold(lc: &mut LocalCheck, def: &CheckDef, status: &'static str) -> Option<&'static str> {
    if status == PASSING || status == WARNING {
        lc.successes = lc.successes.saturating_add(1);
        lc.failures = 0;
        (lc.successes >= def.success_before_passing).then_some(status)
    } else {
        lc.failures = lc.failures.saturating_add(1);
        lc.successes = 0;
        if lc.failures >= def.failures_before_critical {
            Some(CRITICAL)
        } else if lc.failures >= def.failures_before_warning {
            Some(WARNING)
        } else {
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn apply(
    dc: &Datacenter,
    st: &mut State,
    agent_i: usize,
    check_id: &str,
    generation: u64,
    run: CheckRun,
    result: RunResult,
    idx: u64,
) {
    let Some(lc) = local_check(st, agent_i, check_id) else {
        return;
    };
    if lc.generation != generation {
        return;
    }
    let Some(def) = lc.def.clone() else { return };
    let status = if result.timed_out {
        // Consul reports a timeout straight away, thresholds or not.
        lc.failures = lc.failures.saturating_add(1);
        lc.successes = 0;
        Some(CRITICAL)
    } else {
        threshold(lc, &def, result.status)
    };
    lc.push_history(CheckRun {
        applied: status.map(str::to_string),
        ..run
    });
    if let Some(status) = status {
        update_check(dc, st, agent_i, check_id, status, &result.output, idx);
    }
}

/// An HTTP check: 2xx passing, 429 warning, anything else (or no answer) critical.
fn http_check(
    url: &str,
    method: &str,
    header: &std::collections::BTreeMap<String, Vec<String>>,
    body: &str,
    timeout: Duration,
    max_output: usize,
) -> (&'static str, String) {
    let method = if method.is_empty() { "GET" } else { method };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("User-Agent", "Consul Health Check")
        .header("Accept", "text/plain, text/*, */*");
    for (k, values) in header {
        for v in values {
            builder = builder.header(k.as_str(), v.as_str());
        }
    }
    let sent = if body.is_empty() {
        builder
            .body(())
            .map_err(|e| e.to_string())
            .and_then(|r| agent.run(r).map_err(|e| e.to_string()))
    } else {
        builder
            .body(body.to_string())
            .map_err(|e| e.to_string())
            .and_then(|r| agent.run(r).map_err(|e| e.to_string()))
    };
    // Go's error text names the method like "Get".
    let go_method = {
        let lower = method.to_ascii_lowercase();
        let mut chars = lower.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    };
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return (CRITICAL, format!("{go_method} {url:?}: {e}")),
    };
    let code = resp.status();
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        let mut reader = resp.body_mut().as_reader();
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            if bytes.len() > max_output {
                let excess = bytes.len() - max_output;
                bytes.drain(..excess);
            }
        }
    }
    let output = format!(
        "HTTP {method} {url}: {} {} Output: {}",
        code.as_u16(),
        code.canonical_reason().unwrap_or(""),
        String::from_utf8_lossy(&bytes)
    );
    let status = if code.is_success() {
        PASSING
    } else if code.as_u16() == 429 {
        WARNING
    } else {
        CRITICAL
    };
    (status, output)
}

/// A TCP check: a completed connect is passing.
async fn tcp_check(addr: &str, timeout: Duration) -> (&'static str, String) {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => (PASSING, format!("TCP connect {addr}: Success")),
        Ok(Err(e)) => {
            let why = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
                _ => e.to_string(),
            };
            (CRITICAL, format!("dial tcp {addr}: {why}"))
        }
        Err(_) => (CRITICAL, format!("dial tcp {addr}: i/o timeout")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Check;

    fn def(sbp: u32, fbw: u32, fbc: u32) -> CheckDef {
        CheckDef {
            id: "c".into(),
            name: "c".into(),
            notes: String::new(),
            service_id: String::new(),
            kind: CheckKind::Script {
                args: vec!["true".into()],
            },
            interval: Duration::from_secs(1),
            timeout: None,
            status: None,
            success_before_passing: sbp,
            failures_before_warning: fbw,
            failures_before_critical: fbc,
            output_max_size: None,
            deregister_critical_service_after: None,
        }
    }

    fn local(d: &CheckDef) -> LocalCheck {
        let check = Check {
            node: "n".into(),
            check_id: "c".into(),
            name: "c".into(),
            status: CRITICAL.into(),
            notes: String::new(),
            output: String::new(),
            service_id: String::new(),
            service_name: String::new(),
            service_tags: vec![],
            kind: "script".into(),
            interval: String::new(),
            timeout: String::new(),
            definition: Default::default(),
            create_index: 0,
            modify_index: 0,
        };
        LocalCheck::new(Some(d.clone()), check)
    }

    #[test]
    fn thresholds_follow_status_handler() {
        let d = def(2, 1, 3);
        let mut lc = local(&d);
        assert_eq!(threshold(&mut lc, &d, PASSING), None);
        assert_eq!(threshold(&mut lc, &d, WARNING), Some(WARNING));
        assert_eq!(threshold(&mut lc, &d, CRITICAL), Some(WARNING));
        assert_eq!(threshold(&mut lc, &d, CRITICAL), Some(WARNING));
        assert_eq!(threshold(&mut lc, &d, CRITICAL), Some(CRITICAL));
        let d0 = def(0, 0, 0);
        let mut lc = local(&d0);
        assert_eq!(threshold(&mut lc, &d0, PASSING), Some(PASSING));
        assert_eq!(threshold(&mut lc, &d0, CRITICAL), Some(CRITICAL));
    }
}
