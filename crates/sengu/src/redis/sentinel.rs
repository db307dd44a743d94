//! Sentinel queries (`SENTINEL GET-MASTER-ADDR-BY-NAME`, `MASTER`, `SENTINELS`, `REPLICAS`,
//! `CKQUORUM`, `MYID`, `RESET`, `FAILOVER`) and [`ask_sentinels`], which asks several sentinels
//! at once who the master is and counts the answers.
//!
//! A single sentinel's word is not enough to call a server master: a partitioned or stale
//! sentinel can point at an old master. Both redis-master-check and sentinel-rebalance therefore
//! ask all configured sentinels and act on a majority, which is why the vote lives here.

use std::collections::BTreeMap;

use ::redis::Value;
use serde::Serialize;

use super::batch::{self, Exchange, Replies};
use super::conn::{ConnectOptions, RedisConn};
use super::info::{text, ParseError, Role};
use super::{Error, ServerKind};
use crate::addr::HostPort;

/// An open connection to a sentinel.
#[derive(Debug)]
pub struct SentinelConn {
    conn: RedisConn,
}

/// `SENTINEL MASTER <name>`: a sentinel's view of a monitored master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentinelMaster {
    pub name: String,
    pub ip: String,
    pub port: u16,
    /// e.g. `master`, `master,s_down`, `master,s_down,o_down,failover_in_progress`.
    pub flags: Vec<String>,
    pub num_slaves: u32,
    pub num_other_sentinels: u32,
    pub quorum: u32,
    /// Only present while a failover runs (`wait_start`, `select_slave`, …).
    pub failover_state: Option<String>,
    pub config_epoch: u64,
    /// Every field as sent, for details the struct does not name.
    pub fields: BTreeMap<String, String>,
}

/// One entry of `SENTINEL SENTINELS <name>`: another sentinel this one knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentinelPeer {
    pub ip: String,
    pub port: u16,
    pub runid: String,
    /// `sentinel`, plus `s_down`/`disconnected` when it looks dead.
    pub flags: Vec<String>,
    pub fields: BTreeMap<String, String>,
}

/// One entry of `SENTINEL REPLICAS <name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentinelReplica {
    pub ip: String,
    pub port: u16,
    pub runid: String,
    pub flags: Vec<String>,
    /// `ok` or `err`: the replica's link to its master, as the replica reported it.
    pub master_link_status: String,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub slave_repl_offset: i64,
    pub slave_priority: Option<u32>,
    pub fields: BTreeMap<String, String>,
}

macro_rules! addr_and_flags {
    ($t:ty) => {
        impl $t {
            pub fn addr(&self) -> HostPort {
                HostPort { host: self.ip.clone(), port: self.port }
            }

            pub fn has_flag(&self, flag: &str) -> bool {
                self.flags.iter().any(|f| f == flag)
            }

            /// True when this sentinel considers it down (subjectively or objectively) or
            /// cannot reach it.
            pub fn looks_down(&self) -> bool {
                ["s_down", "o_down", "disconnected"].iter().any(|f| self.has_flag(f))
            }
        }
    };
}
addr_and_flags!(SentinelMaster);
addr_and_flags!(SentinelPeer);
addr_and_flags!(SentinelReplica);

/// The answer to `SENTINEL CKQUORUM <name>`, with the sentinel's own sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum CkQuorum {
    /// `OK <n> usable Sentinels. Quorum and failover authorization can be reached`.
    Ok { usable: Option<u32>, text: String },
    /// The error reply `NOQUORUM <n> usable Sentinels. …`: a failover could not be authorised now.
    NoQuorum { usable: Option<u32>, text: String },
}

impl CkQuorum {
    pub fn is_ok(&self) -> bool {
        matches!(self, CkQuorum::Ok { .. })
    }

    fn parse(reply: &str) -> Option<CkQuorum> {
        let usable = |rest: &str| rest.split_whitespace().next().and_then(|n| n.parse().ok());
        if let Some(rest) = reply.strip_prefix("OK") {
            Some(CkQuorum::Ok { usable: usable(rest), text: reply.to_string() })
        } else {
            reply.strip_prefix("NOQUORUM").map(|rest| CkQuorum::NoQuorum { usable: usable(rest), text: reply.to_string() })
        }
    }
}

impl SentinelConn {
    /// Connects to the sentinel at `addr` (with the sentinel's own credentials, if any).
    pub fn connect(addr: &HostPort, opts: &ConnectOptions) -> Result<SentinelConn, Error> {
        Ok(SentinelConn { conn: RedisConn::connect_as(ServerKind::Sentinel, addr, opts)? })
    }

    pub fn addr(&self) -> &HostPort {
        self.conn.addr()
    }

    pub fn ping(&mut self) -> Result<(), Error> {
        self.conn.ping()
    }

    /// `ROLE` of the sentinel: the master names it monitors.
    pub fn role(&mut self) -> Result<Role, Error> {
        self.conn.role()
    }

    fn sentinel(&mut self, sub: &str, arg: &str) -> Result<Value, Error> {
        let name = format!("SENTINEL {sub}");
        self.conn.query(::redis::cmd("SENTINEL").arg(sub).arg(arg), &name)
    }

    fn protocol(&self, command: &str, e: ParseError) -> Error {
        self.conn.protocol(command, e.0)
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME <name>`: where this sentinel says the master is, or
    /// `None` if it does not monitor `name`.
    pub fn master_addr(&mut self, name: &str) -> Result<Option<HostPort>, Error> {
        let reply = self.conn.query(&master_addr_cmd(name), MASTER_ADDR);
        master_addr_from(self.addr(), reply)
    }

    /// `SENTINEL MASTER <name>`.
    pub fn master(&mut self, name: &str) -> Result<SentinelMaster, Error> {
        const CMD: &str = "SENTINEL MASTER";
        let v = self.sentinel("MASTER", name)?;
        let fields = field_map(&v).map_err(|e| self.protocol(CMD, e))?;
        parse_master(fields).map_err(|e| self.protocol(CMD, e))
    }

    /// `SENTINEL SENTINELS <name>`: the other sentinels this one knows (never itself).
    pub fn sentinels(&mut self, name: &str) -> Result<Vec<SentinelPeer>, Error> {
        const CMD: &str = "SENTINEL SENTINELS";
        let v = self.sentinel("SENTINELS", name)?;
        list(&v).and_then(|maps| maps.into_iter().map(parse_peer).collect()).map_err(|e| self.protocol(CMD, e))
    }

    /// `SENTINEL REPLICAS <name>` (Redis 5+; `SLAVES` is the older alias).
    pub fn replicas(&mut self, name: &str) -> Result<Vec<SentinelReplica>, Error> {
        const CMD: &str = "SENTINEL REPLICAS";
        let v = self.sentinel("REPLICAS", name)?;
        list(&v).and_then(|maps| maps.into_iter().map(parse_replica).collect()).map_err(|e| self.protocol(CMD, e))
    }

    /// `SENTINEL CKQUORUM <name>`. A `NOQUORUM` error reply is an answer, not an error.
    pub fn ckquorum(&mut self, name: &str) -> Result<CkQuorum, Error> {
        const CMD: &str = "SENTINEL CKQUORUM";
        let reply = match self.sentinel("CKQUORUM", name) {
            Ok(v) => text(&v).map_err(|e| self.protocol(CMD, e))?,
            Err(Error::Rejected { message, .. }) if message.starts_with("NOQUORUM") => message,
            Err(e) => return Err(e),
        };
        CkQuorum::parse(&reply).ok_or_else(|| self.conn.protocol(CMD, format!("unexpected text {reply:?}")))
    }

    /// `SENTINEL MYID` (Redis 6.2+): this sentinel's 40-hex identity.
    pub fn myid(&mut self) -> Result<String, Error> {
        const CMD: &str = "SENTINEL MYID";
        let v: Value = self.conn.query(::redis::cmd("SENTINEL").arg("MYID"), CMD)?;
        text(&v).map_err(|e| self.protocol(CMD, e))
    }

    /// `SENTINEL RESET <pattern>`: forgets replicas and sentinels of matching masters (live ones
    /// come back within seconds). Returns how many masters matched.
    pub fn reset(&mut self, pattern: &str) -> Result<i64, Error> {
        const CMD: &str = "SENTINEL RESET";
        match self.sentinel("RESET", pattern)? {
            Value::Int(n) => Ok(n),
            other => Err(self.conn.protocol(CMD, format!("expected an integer, got {other:?}"))),
        }
    }

    /// `SENTINEL FAILOVER <name>`: starts a failover without asking other sentinels. `OK` only
    /// means it started; `INPROG`/`NOGOODSLAVE` come back as [`Error::Rejected`].
    pub fn failover(&mut self, name: &str) -> Result<(), Error> {
        self.sentinel("FAILOVER", name).map(|_| ())
    }
}

/// A flat `field value field value …` array (RESP2) or a map (RESP3) as a map of strings.
fn field_map(v: &Value) -> Result<BTreeMap<String, String>, ParseError> {
    match v {
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(ParseError(format!("odd number of elements ({})", items.len())));
            }
            items.chunks(2).map(|kv| Ok((text(&kv[0])?, text(&kv[1])?))).collect()
        }
        Value::Map(pairs) => pairs.iter().map(|(k, v)| Ok((text(k)?, text(v)?))).collect(),
        other => Err(ParseError(format!("expected a field list, got {other:?}"))),
    }
}

fn list(v: &Value) -> Result<Vec<BTreeMap<String, String>>, ParseError> {
    match v {
        Value::Array(items) => items.iter().map(field_map).collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(ParseError(format!("expected a list, got {other:?}"))),
    }
}

fn get(fields: &BTreeMap<String, String>, key: &str) -> Result<String, ParseError> {
    fields.get(key).cloned().ok_or_else(|| ParseError(format!("no {key} field")))
}

fn get_num<T: std::str::FromStr>(fields: &BTreeMap<String, String>, key: &str) -> Result<T, ParseError> {
    let v = get(fields, key)?;
    v.parse().map_err(|_| ParseError(format!("{key}: not a number: {v:?}")))
}

fn opt_num<T: std::str::FromStr>(fields: &BTreeMap<String, String>, key: &str) -> Result<Option<T>, ParseError> {
    if fields.contains_key(key) { get_num(fields, key).map(Some) } else { Ok(None) }
}

fn flags(fields: &BTreeMap<String, String>) -> Vec<String> {
    fields.get("flags").map(|f| f.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

fn parse_master(fields: BTreeMap<String, String>) -> Result<SentinelMaster, ParseError> {
    Ok(SentinelMaster {
        name: get(&fields, "name")?,
        ip: get(&fields, "ip")?,
        port: get_num(&fields, "port")?,
        flags: flags(&fields),
        num_slaves: get_num(&fields, "num-slaves")?,
        num_other_sentinels: get_num(&fields, "num-other-sentinels")?,
        quorum: get_num(&fields, "quorum")?,
        failover_state: fields.get("failover-state").cloned(),
        config_epoch: opt_num(&fields, "config-epoch")?.unwrap_or(0),
        fields,
    })
}

fn parse_peer(fields: BTreeMap<String, String>) -> Result<SentinelPeer, ParseError> {
    Ok(SentinelPeer {
        ip: get(&fields, "ip")?,
        port: get_num(&fields, "port")?,
        runid: fields.get("runid").cloned().unwrap_or_default(),
        flags: flags(&fields),
        fields,
    })
}

fn parse_replica(fields: BTreeMap<String, String>) -> Result<SentinelReplica, ParseError> {
    Ok(SentinelReplica {
        ip: get(&fields, "ip")?,
        port: get_num(&fields, "port")?,
        runid: fields.get("runid").cloned().unwrap_or_default(),
        flags: flags(&fields),
        master_link_status: fields.get("master-link-status").cloned().unwrap_or_default(),
        master_host: fields.get("master-host").cloned().filter(|h| h != "?"),
        master_port: opt_num(&fields, "master-port").ok().flatten(),
        slave_repl_offset: opt_num(&fields, "slave-repl-offset")?.unwrap_or(0),
        slave_priority: opt_num(&fields, "slave-priority")?,
        fields,
    })
}

/// What a set of sentinels said about one master name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterVotes {
    pub name: String,
    /// Every sentinel that answered, in the order asked, with its answer (`None`: it does not
    /// monitor `name`).
    pub answers: Vec<(HostPort, Option<HostPort>)>,
    /// Every sentinel that could not be asked (down, frozen, wrong password …), in order.
    pub failures: Vec<(HostPort, Error)>,
}

impl MasterVotes {
    /// How many sentinels were asked.
    pub fn asked(&self) -> usize {
        self.answers.len() + self.failures.len()
    }

    /// Each named master with its number of votes, most votes first (ties by address, so the
    /// order is stable).
    pub fn tally(&self) -> Vec<(HostPort, usize)> {
        let mut counts: BTreeMap<&HostPort, usize> = BTreeMap::new();
        for master in self.answers.iter().filter_map(|(_, m)| m.as_ref()) {
            *counts.entry(master).or_default() += 1;
        }
        let mut tally: Vec<(HostPort, usize)> = counts.into_iter().map(|(m, n)| (m.clone(), n)).collect();
        tally.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        tally
    }

    /// The master named by more than half of the sentinels that answered (a sentinel that does
    /// not know the name counts as an answer for no one). `None` without answers or on a tie.
    pub fn majority(&self) -> Option<HostPort> {
        self.winner(self.answers.len())
    }

    /// The master named by more than half of all sentinels asked, answering or not: the
    /// stricter rule, which one reachable sentinel alone can never satisfy.
    pub fn majority_of_asked(&self) -> Option<HostPort> {
        self.winner(self.asked())
    }

    fn winner(&self, out_of: usize) -> Option<HostPort> {
        self.tally().into_iter().next().filter(|(_, votes)| *votes * 2 > out_of).map(|(m, _)| m)
    }
}

/// `sentinels` without repeats, in their order: a sentinel listed twice is asked and counted
/// once.
pub fn distinct(sentinels: &[HostPort]) -> Vec<&HostPort> {
    let mut unique: Vec<&HostPort> = Vec::new();
    for s in sentinels {
        if !unique.contains(&s) {
            unique.push(s);
        }
    }
    unique
}

/// The command [`SentinelConn::master_addr`] sends, named as in errors.
const MASTER_ADDR: &str = "SENTINEL GET-MASTER-ADDR-BY-NAME";

fn master_addr_cmd(name: &str) -> ::redis::Cmd {
    let mut cmd = ::redis::cmd("SENTINEL");
    cmd.arg("GET-MASTER-ADDR-BY-NAME").arg(name);
    cmd
}

/// The master a `SENTINEL GET-MASTER-ADDR-BY-NAME` reply names (`None`: not monitored).
fn master_addr_from(sentinel: &HostPort, reply: Result<Value, Error>) -> Result<Option<HostPort>, Error> {
    let protocol = |detail: String| Error::Protocol { kind: ServerKind::Sentinel, addr: sentinel.clone(), command: MASTER_ADDR.to_string(), detail };
    match reply? {
        Value::Nil => Ok(None),
        Value::Array(items) if items.len() == 2 => {
            let host = text(&items[0]).map_err(|e| protocol(e.0))?;
            let port = text(&items[1]).map_err(|e| protocol(e.0))?;
            HostPort::from_parts(&host, &port).map(Some).map_err(|e| protocol(e.to_string()))
        }
        other => Err(protocol(format!("expected [ip, port], got {other:?}"))),
    }
}

/// Asking one sentinel for the master of `name`, as one of several [`batch`](super::batch)
/// exchanges; [`MasterQuery::votes`] counts the answers.
#[derive(Debug)]
pub(crate) struct MasterQuery<'a> {
    name: &'a str,
    sentinels: Vec<&'a HostPort>,
}

impl<'a> MasterQuery<'a> {
    /// Every sentinel in `sentinels`, duplicates asked once.
    pub(crate) fn new(sentinels: &'a [HostPort], name: &'a str) -> MasterQuery<'a> {
        MasterQuery { name, sentinels: distinct(sentinels) }
    }

    pub(crate) fn exchanges(&self, opts: &'a ConnectOptions) -> Vec<Exchange<'a>> {
        let commands = vec![(MASTER_ADDR, master_addr_cmd(self.name))];
        self.sentinels.iter().map(|&addr| Exchange { kind: ServerKind::Sentinel, addr, opts, commands: commands.clone() }).collect()
    }

    /// Who said what, from the outcomes of [`MasterQuery::exchanges`] in their order.
    pub(crate) fn votes(&self, outcomes: impl IntoIterator<Item = Result<Replies, Error>>) -> MasterVotes {
        let mut votes = MasterVotes { name: self.name.to_string(), answers: Vec::new(), failures: Vec::new() };
        for (&s, outcome) in self.sentinels.iter().zip(outcomes) {
            match master_addr_from(s, outcome.and_then(|mut r| r.take(0))) {
                Ok(master) => votes.answers.push((s.clone(), master)),
                Err(e) => votes.failures.push((s.clone(), e)),
            }
        }
        votes
    }
}

/// Asks every sentinel in `sentinels` (duplicates ignored) for the master of `name`, all at once
/// so a frozen sentinel costs one timeout, not one per sentinel, and returns who said what.
pub fn ask_sentinels(sentinels: &[HostPort], name: &str, opts: &ConnectOptions) -> MasterVotes {
    let query = MasterQuery::new(sentinels, name);
    query.votes(batch::run_all(&query.exchanges(opts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn flat(pairs: &[(&str, &str)]) -> Value {
        Value::Array(pairs.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect())
    }

    fn votes(answers: &[(&str, Option<&str>)], failed: &[&str]) -> MasterVotes {
        MasterVotes {
            name: "mymaster".into(),
            answers: answers.iter().map(|(s, m)| (hp(s), m.map(hp))).collect(),
            failures: failed
                .iter()
                .map(|s| (hp(s), Error::Unreachable { kind: ServerKind::Sentinel, addr: hp(s), detail: "connection refused".into() }))
                .collect(),
        }
    }

    #[test]
    fn unanimous_sentinels_give_a_majority() {
        let v = votes(&[("10.0.0.1:26379", Some("10.0.0.1:6379")), ("10.0.0.2:26379", Some("10.0.0.1:6379")), ("10.0.0.3:26379", Some("10.0.0.1:6379"))], &[]);
        assert_eq!(v.majority(), Some(hp("10.0.0.1:6379")));
        assert_eq!(v.majority_of_asked(), Some(hp("10.0.0.1:6379")));
        assert_eq!(v.tally(), vec![(hp("10.0.0.1:6379"), 3)]);
    }

    #[test]
    fn one_sentinel_down_still_leaves_a_majority() {
        let v = votes(&[("10.0.0.1:26379", Some("10.0.0.1:6379")), ("10.0.0.2:26379", Some("10.0.0.1:6379"))], &["10.0.0.3:26379"]);
        assert_eq!(v.asked(), 3);
        assert_eq!(v.majority(), Some(hp("10.0.0.1:6379")));
        assert_eq!(v.majority_of_asked(), Some(hp("10.0.0.1:6379")));
    }

    #[test]
    fn a_lone_answer_is_a_majority_of_answers_but_not_of_the_asked() {
        let v = votes(&[("10.0.0.1:26379", Some("10.0.0.1:6379"))], &["10.0.0.2:26379", "10.0.0.3:26379"]);
        assert_eq!(v.majority(), Some(hp("10.0.0.1:6379")));
        assert_eq!(v.majority_of_asked(), None);
    }

    #[test]
    fn split_answers_and_unknown_names_give_no_majority() {
        let v = votes(&[("10.0.0.1:26379", Some("10.0.0.1:6379")), ("10.0.0.2:26379", Some("10.0.0.2:6379"))], &[]);
        assert_eq!(v.majority(), None);
        assert_eq!(v.tally(), vec![(hp("10.0.0.1:6379"), 1), (hp("10.0.0.2:6379"), 1)]);
        let v = votes(&[("10.0.0.1:26379", Some("10.0.0.1:6379")), ("10.0.0.2:26379", None), ("10.0.0.3:26379", None)], &[]);
        assert_eq!(v.majority(), None, "two sentinels do not know the name");
        assert_eq!(votes(&[], &["10.0.0.1:26379"]).majority(), None);
    }

    #[test]
    fn two_of_three_outvote_a_stale_sentinel() {
        let v = votes(&[("10.0.0.1:26379", Some("10.0.0.1:6379")), ("10.0.0.2:26379", Some("10.0.0.2:6379")), ("10.0.0.3:26379", Some("10.0.0.2:6379"))], &[]);
        assert_eq!(v.majority(), Some(hp("10.0.0.2:6379")));
    }

    #[test]
    fn master_fields_parse_from_a_flat_list() {
        let v = flat(&[
            ("name", "mymaster"), ("ip", "127.0.0.11"), ("port", "6379"), ("runid", "abc"), ("flags", "master,s_down"),
            ("failover-state", "wait_start"), ("config-epoch", "3"), ("num-slaves", "1"), ("num-other-sentinels", "2"), ("quorum", "2"),
        ]);
        let m = parse_master(field_map(&v).unwrap()).unwrap();
        assert_eq!(m.addr(), hp("127.0.0.11:6379"));
        assert_eq!(m.flags, vec!["master", "s_down"]);
        assert!(m.looks_down() && m.has_flag("master"));
        assert_eq!((m.num_slaves, m.num_other_sentinels, m.quorum, m.config_epoch), (1, 2, 2, 3));
        assert_eq!(m.failover_state.as_deref(), Some("wait_start"));
        assert_eq!(m.fields["runid"], "abc");
        assert!(parse_master(field_map(&flat(&[("name", "m")])).unwrap()).is_err());
        assert!(field_map(&Value::Array(vec![bulk("odd")])).is_err());
    }

    #[test]
    fn replica_fields_parse_including_an_unknown_master_host() {
        let v = flat(&[
            ("ip", "127.0.0.12"), ("port", "6379"), ("flags", "slave"), ("master-link-status", "ok"),
            ("master-host", "127.0.0.11"), ("master-port", "6379"), ("slave-priority", "100"), ("slave-repl-offset", "1234"),
        ]);
        let r = parse_replica(field_map(&v).unwrap()).unwrap();
        assert_eq!((r.master_link_status.as_str(), r.slave_repl_offset, r.slave_priority), ("ok", 1234, Some(100)));
        assert_eq!(r.master_host.as_deref(), Some("127.0.0.11"));
        let v = flat(&[("ip", "127.0.0.12"), ("port", "6379"), ("flags", "s_down,slave,disconnected"), ("master-host", "?"), ("master-port", "0")]);
        let r = parse_replica(field_map(&v).unwrap()).unwrap();
        assert_eq!(r.master_host, None);
        assert!(r.looks_down());
    }

    #[test]
    fn ckquorum_texts() {
        let ok = CkQuorum::parse("OK 3 usable Sentinels. Quorum and failover authorization can be reached").unwrap();
        assert_eq!(ok, CkQuorum::Ok { usable: Some(3), text: "OK 3 usable Sentinels. Quorum and failover authorization can be reached".into() });
        let no = CkQuorum::parse("NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover").unwrap();
        assert!(matches!(no, CkQuorum::NoQuorum { usable: Some(1), .. }));
        assert!(!no.is_ok());
        assert_eq!(CkQuorum::parse("MAYBE"), None);
    }
}
