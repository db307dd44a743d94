//! The fallback's entries (name → addresses), the state file that keeps the last good ones,
//! and [`plan`]: the pure rules that turn what Consul's health API said into the next entries.
//!
//! | what Consul said for a name | next entry |
//! |---|---|
//! | the service could not be read (agent unreachable, timeout, error) | the last good entry, unchanged |
//! | master name: one passing address | that address |
//! | master name: two or more passing addresses | the last good entry (none if there was none), and a note saying so |
//! | replica name: passing addresses | all of them |
//! | no passing instance | no entry: the name is absent in Consul, so it is absent here too |
//!
//! The last row mirrors Consul rather than keeping an old address: a master unpublished in
//! the middle of a move must not come back as the old master if the agent dies just then.
//! The state file is never read by a resolver; it is only the memory of the last good answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Name → its addresses (sorted, distinct). A name is lower-case and has no trailing dot.
pub type Entries = BTreeMap<String, Vec<IpAddr>>;

/// Whether a name carries the single master or the set of replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Master,
    Replicas,
}

/// One name the fallback keeps and what Consul's health API said for it in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub name: String,
    pub kind: Kind,
    /// The passing instances' addresses (distinct, sorted), or why they could not be read.
    pub answer: Result<Vec<IpAddr>, String>,
}

/// What the next entries are, and what an operator should hear about them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub entries: Entries,
    /// One line per name whose last good entry was kept instead of Consul's answer.
    pub kept: Vec<String>,
}

/// Applies the module's table to every observed name; names not observed are dropped (they
/// are no longer configured).
pub fn plan(previous: &Entries, observed: &[Observed]) -> Plan {
    let mut next = Plan::default();
    for o in observed {
        let last = previous.get(&o.name);
        let keep = |next: &mut Plan, why: String| {
            let kept = match last {
                Some(addrs) => {
                    next.entries.insert(o.name.clone(), addrs.clone());
                    format!("kept the last good entry {}", join(addrs))
                }
                None => "not written (no last good entry)".to_string(),
            };
            next.kept.push(format!("{}: {why}: {kept}", o.name));
        };
        match (&o.answer, o.kind) {
            (Err(why), _) => keep(&mut next, format!("not read from Consul ({why})")),
            (Ok(addrs), Kind::Master) if addrs.len() > 1 => keep(&mut next, format!("{} masters in Consul ({})", addrs.len(), join(addrs))),
            (Ok(addrs), _) if addrs.is_empty() => {}
            (Ok(addrs), _) => {
                next.entries.insert(o.name.clone(), addrs.clone());
            }
        }
    }
    next
}

fn join(addrs: &[IpAddr]) -> String {
    addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

/// The first lines of the state file.
const STATE_HEADER: &str = "\
# Written by consul-hosts-fallback: the last good answers of Consul's health API (passing
# instances only), in /etc/hosts format. No resolver reads this file; its entries are copied
# into the managed block of the hosts file only while the local DNS cannot answer. Do not edit.
";

/// The state file's text: the header, then one `address name` line per address.
pub fn render_state(entries: &Entries) -> String {
    let mut text = STATE_HEADER.to_string();
    text.push_str(&render_lines(entries));
    text
}

/// `address name` lines, by name, then address.
pub fn render_lines(entries: &Entries) -> String {
    let mut text = String::new();
    for (name, addrs) in entries {
        for addr in addrs {
            let _ = writeln!(text, "{addr} {name}");
        }
    }
    text
}

/// Reads `address name…` lines (comments and blank lines skipped) into entries. A line that is
/// not of that form is an error naming its 1-based number: the file is then left alone.
pub fn parse_lines(text: &str) -> Result<Entries, (usize, String)> {
    let mut entries = Entries::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let addr = fields.next().unwrap_or("");
        let addr: IpAddr = addr.parse().map_err(|_| (i + 1, format!("{addr:?} is not an IP address")))?;
        let mut named = false;
        for name in fields {
            named = true;
            let list = entries.entry(normalize(name)).or_default();
            if !list.contains(&addr) {
                list.push(addr);
                list.sort();
            }
        }
        if !named {
            return Err((i + 1, format!("no name after {addr}")));
        }
    }
    Ok(entries)
}

/// A name as entries key it: lower-case, without a trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn seen(name: &str, kind: Kind, answer: Result<Vec<IpAddr>, String>) -> Observed {
        Observed { name: name.into(), kind, answer }
    }

    fn entries(pairs: &[(&str, &[IpAddr])]) -> Entries {
        pairs.iter().map(|(n, a)| (n.to_string(), a.to_vec())).collect()
    }

    const M: &str = "master.redis.service.consul";
    const R: &str = "replica.redis.service.consul";

    #[test]
    fn one_passing_master_is_written() {
        let p = plan(&Entries::new(), &[seen(M, Kind::Master, Ok(vec![ip(11)]))]);
        assert_eq!(p.entries, entries(&[(M, &[ip(11)])]));
        assert!(p.kept.is_empty());
    }

    #[test]
    fn two_masters_keep_the_last_good_entry_and_say_so() {
        let last = entries(&[(M, &[ip(11)])]);
        let p = plan(&last, &[seen(M, Kind::Master, Ok(vec![ip(11), ip(12)]))]);
        assert_eq!(p.entries, last);
        assert_eq!(p.kept, vec![format!("{M}: 2 masters in Consul (10.0.0.11, 10.0.0.12): kept the last good entry 10.0.0.11")]);
        let p = plan(&Entries::new(), &[seen(M, Kind::Master, Ok(vec![ip(11), ip(12)]))]);
        assert!(p.entries.is_empty(), "never written without a last good entry");
        assert!(p.kept[0].ends_with("not written (no last good entry)"), "{:?}", p.kept);
    }

    #[test]
    fn replicas_may_be_many() {
        let p = plan(&Entries::new(), &[seen(R, Kind::Replicas, Ok(vec![ip(12), ip(13)]))]);
        assert_eq!(p.entries, entries(&[(R, &[ip(12), ip(13)])]));
    }

    #[test]
    fn consul_unreachable_keeps_the_last_good_entries() {
        let last = entries(&[(M, &[ip(11)]), (R, &[ip(12)])]);
        let down = || Err("connection refused".to_string());
        let p = plan(&last, &[seen(M, Kind::Master, down()), seen(R, Kind::Replicas, down())]);
        assert_eq!(p.entries, last, "never emptied");
        assert_eq!(p.kept.len(), 2);
    }

    #[test]
    fn a_name_absent_in_consul_is_absent_here() {
        let last = entries(&[(M, &[ip(11)])]);
        let p = plan(&last, &[seen(M, Kind::Master, Ok(vec![]))]);
        assert!(p.entries.is_empty());
        assert!(p.kept.is_empty());
    }

    #[test]
    fn names_no_longer_configured_are_dropped() {
        let last = entries(&[(M, &[ip(11)]), ("master.old.service.consul", &[ip(9)])]);
        let p = plan(&last, &[seen(M, Kind::Master, Ok(vec![ip(11)]))]);
        assert_eq!(p.entries, entries(&[(M, &[ip(11)])]));
    }

    #[test]
    fn the_state_file_reads_back_what_was_written() {
        let e = entries(&[(M, &[ip(11)]), (R, &[ip(12), ip(13)])]);
        let text = render_state(&e);
        assert!(text.starts_with("# Written by consul-hosts-fallback"));
        assert!(text.ends_with("10.0.0.11 master.redis.service.consul\n10.0.0.12 replica.redis.service.consul\n10.0.0.13 replica.redis.service.consul\n"));
        assert_eq!(parse_lines(&text).unwrap(), e);
    }

    #[test]
    fn a_bad_line_is_named() {
        assert_eq!(parse_lines("# c\n10.0.0.1 a\nnot-ip a\n").unwrap_err().0, 3);
        assert_eq!(parse_lines("10.0.0.1\n").unwrap_err(), (1, "no name after 10.0.0.1".to_string()));
        assert_eq!(parse_lines("10.0.0.1 A.B. # x\n").unwrap(), entries(&[("a.b", &[ip(1)])]));
    }
}
