//! Answering one DNS question from the catalog, the way Consul's ≤1.18 DNS server does (§8 of
//! the reference): name parsing (`.node`, `.service`, RFC 2782, `.addr`, optional datacenter),
//! health filtering, shuffling, SRV targets and their additional records, negative answers
//! with the SOA. Size limits are applied afterwards, by the transport. Parsing and answering
//! stay together because Consul's parser decides the lookup kind from the query type.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

use crate::catalog::{CRITICAL, NodeEntry, Service, WARNING};
use crate::state::State;

/// The domain the stand-in serves.
pub const DOMAIN: &str = "consul";

/// What a name in the domain asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lookup {
    Apex,
    Node {
        node: String,
        dc: Option<String>,
    },
    Service {
        service: String,
        tag: String,
        dc: Option<String>,
    },
    Addr {
        hex: String,
        dc: Option<String>,
    },
    Invalid,
}

/// Port of Consul's `dispatch` label parsing. `labels` are the name's labels before the domain.
fn parse(labels: &[String], qtype: RecordType) -> Lookup {
    if labels.is_empty() {
        return Lookup::Apex;
    }
    let mut labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let mut dc: Option<String> = None;
    loop {
        let n = labels.len();
        if n == 0 {
            return Lookup::Invalid;
        }
        // For SRV queries the `.service` label is optional in the RFC 2782 form.
        let (kind, parts) = if qtype == RecordType::SRV && labels[n - 1].starts_with('_') {
            ("service", &labels[..])
        } else {
            (labels[n - 1], &labels[..n - 1])
        };
        match kind {
            "service" => {
                if parts.is_empty() {
                    return Lookup::Invalid;
                }
                if parts.len() == 2 && parts[0].starts_with('_') && parts[1].starts_with('_') {
                    // `_tcp` is the protocol, not a tag: no filter.
                    let tag = &parts[1][1..];
                    let tag = if tag == "tcp" { "" } else { tag };
                    return Lookup::Service {
                        service: parts[0][1..].to_string(),
                        tag: tag.to_string(),
                        dc,
                    };
                }
                let (service, tag) = parts
                    .split_last()
                    .map(|(s, t)| (s.to_string(), t.join(".")))
                    .unwrap_or_default();
                return Lookup::Service { service, tag, dc };
            }
            "node" => {
                if parts.is_empty() {
                    return Lookup::Invalid;
                }
                return Lookup::Node {
                    node: parts.join("."),
                    dc,
                };
            }
            "addr" => {
                if parts.len() != 1 {
                    return Lookup::Invalid;
                }
                return Lookup::Addr {
                    hex: parts[0].to_string(),
                    dc,
                };
            }
            other => {
                // Only one label between the query type and the domain may be the datacenter
                // (`<dc>` or `<dc>.dc`).
                if dc.is_some() {
                    return Lookup::Invalid;
                }
                if other == "dc" && n >= 2 {
                    dc = Some(labels[n - 2].to_string());
                    labels.truncate(n - 2);
                } else {
                    dc = Some(other.to_string());
                    labels.truncate(n - 1);
                }
            }
        }
    }
}

fn name(text: &str) -> Option<Name> {
    Name::from_ascii(text).ok()
}

/// The SOA Consul puts in the authority section of negative answers.
pub fn soa() -> Option<Record> {
    let serial = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let rdata = SOA::new(
        name("ns.consul.")?,
        name("hostmaster.consul.")?,
        u32::try_from(serial).unwrap_or(u32::MAX),
        3600,
        600,
        86400,
        0,
    );
    Some(Record::from_rdata(name("consul.")?, 0, RData::SOA(rdata)))
}

/// `c000020a` for 192.0.2.10: the label of `.addr` names.
fn hex_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.octets().iter().map(|b| format!("{b:02x}")).collect(),
        IpAddr::V6(v6) => v6.octets().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn ip_from_hex(hex: &str) -> Option<IpAddr> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes?.as_slice() {
        b if b.len() == 4 && hex.len() == 8 => Some(IpAddr::from([b[0], b[1], b[2], b[3]])),
        b if b.len() == 16 && hex.len() == 32 => {
            let mut arr = [0u8; 16];
            arr.copy_from_slice(b);
            Some(IpAddr::from(arr))
        }
        _ => None,
    }
}

/// An address record of `owner` for `ip` if it fits the query type.
fn ip_record(owner: &Name, ip: IpAddr, qtype: RecordType) -> Option<Record> {
    let rdata = match (ip, qtype) {
        (IpAddr::V4(v4), RecordType::A | RecordType::ANY | RecordType::SRV) => RData::A(A(v4)),
        (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY | RecordType::SRV) => {
            RData::AAAA(AAAA(v6))
        }
        _ => return None,
    };
    Some(Record::from_rdata(owner.clone(), 0, rdata))
}

/// Node meta as RFC 1464 TXT strings; `rfc1035-` keys give the bare value.
fn meta_txt(owner: &Name, entry: &NodeEntry) -> Vec<Record> {
    entry
        .node
        .meta
        .iter()
        .map(|(k, v)| {
            let text = if k.starts_with("rfc1035-") {
                v.clone()
            } else {
                let key = k.replace('`', "``").replace('=', "`=");
                format!("{key}={v}")
            };
            Record::from_rdata(owner.clone(), 0, RData::TXT(TXT::new(vec![text])))
        })
        .collect()
}

/// An instance is left out of DNS if any of its checks (node-level or its own) is critical.
fn healthy(entry: &NodeEntry, svc: &Service) -> bool {
    !entry
        .instance_checks(&svc.id)
        .iter()
        .any(|c| c.status == CRITICAL)
}

/// SRV weight: the Warning weight when any relevant check warns, else the Passing weight.
fn weight(entry: &NodeEntry, svc: &Service) -> u16 {
    let warning = entry
        .instance_checks(&svc.id)
        .iter()
        .any(|c| c.status == WARNING);
    let w = if warning {
        svc.weights.warning
    } else {
        svc.weights.passing
    };
    u16::try_from(w.max(0)).unwrap_or(u16::MAX)
}

/// Fills `resp` for one question.
fn lookup(
    st: &State,
    dc_name: &str,
    qname: &Name,
    labels: &[String],
    qtype: RecordType,
    resp: &mut Message,
) {
    let parsed = parse(labels, qtype);
    let dc_ok = |dc: &Option<String>| dc.as_ref().is_none_or(|d| d.eq_ignore_ascii_case(dc_name));
    match parsed {
        Lookup::Apex => {
            if qtype == RecordType::SOA
                && let Some(s) = soa()
            {
                resp.add_answer(s);
            }
        }
        Lookup::Invalid => {
            resp.set_response_code(ResponseCode::NXDomain);
        }
        Lookup::Node { node, dc } => {
            let Some(entry) = st.catalog.node(&node).filter(|_| dc_ok(&dc)) else {
                resp.set_response_code(ResponseCode::NXDomain);
                return;
            };
            match entry.node.address.parse::<IpAddr>() {
                Ok(ip) => {
                    if let Some(r) = ip_record(
                        qname,
                        ip,
                        if qtype == RecordType::SRV {
                            RecordType::ANY
                        } else {
                            qtype
                        },
                    ) {
                        resp.add_answer(r);
                    }
                }
                Err(_) => {
                    if matches!(
                        qtype,
                        RecordType::A | RecordType::AAAA | RecordType::ANY | RecordType::CNAME
                    ) && let Some(target) = name(&format!("{}.", entry.node.address))
                    {
                        resp.add_answer(Record::from_rdata(
                            qname.clone(),
                            0,
                            RData::CNAME(CNAME(target)),
                        ));
                    }
                }
            }
            let metas = meta_txt(qname, entry);
            if matches!(qtype, RecordType::TXT | RecordType::ANY) {
                resp.add_answers(metas);
            } else if matches!(qtype, RecordType::A | RecordType::AAAA) {
                resp.add_additionals(metas);
            }
        }
        Lookup::Addr { hex, dc } => match ip_from_hex(&hex).filter(|_| dc_ok(&dc)) {
            Some(ip) => {
                if let Some(r) = ip_record(qname, ip, qtype) {
                    resp.add_answer(r);
                }
            }
            None => {
                resp.set_response_code(ResponseCode::NXDomain);
            }
        },
        Lookup::Service { service, tag, dc } => {
            if !dc_ok(&dc) {
                resp.set_response_code(ResponseCode::NXDomain);
                return;
            }
            let tags: Vec<String> = if tag.is_empty() {
                Vec::new()
            } else {
                vec![tag]
            };
            let mut instances: Vec<(&NodeEntry, &Service)> = st
                .catalog
                .instances(&service, &tags)
                .into_iter()
                .filter(|(e, s)| healthy(e, s))
                .collect();
            if instances.is_empty() {
                resp.set_response_code(ResponseCode::NXDomain);
                return;
            }
            instances.shuffle(&mut rand::rng());
            if qtype == RecordType::SRV {
                srv_records(dc_name, &instances, resp);
            } else {
                address_records(qname, qtype, &instances, resp);
            }
        }
    }
}

fn address_records(
    qname: &Name,
    qtype: RecordType,
    instances: &[(&NodeEntry, &Service)],
    resp: &mut Message,
) {
    let mut seen: Vec<String> = Vec::new();
    for (entry, svc) in instances {
        let addr = if svc.address.is_empty() {
            &entry.node.address
        } else {
            &svc.address
        };
        if seen.contains(addr) {
            continue;
        }
        seen.push(addr.clone());
        match addr.parse::<IpAddr>() {
            Ok(ip) => {
                if let Some(r) = ip_record(qname, ip, qtype) {
                    resp.add_answer(r);
                }
            }
            Err(_) => {
                if matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY)
                    && let Some(target) = name(&format!("{addr}."))
                {
                    resp.add_answer(Record::from_rdata(
                        qname.clone(),
                        0,
                        RData::CNAME(CNAME(target)),
                    ));
                }
            }
        }
    }
}

fn srv_records(dc: &str, instances: &[(&NodeEntry, &Service)], resp: &mut Message) {
    let mut seen: Vec<(String, String, i64)> = Vec::new();
    for (entry, svc) in instances {
        let effective = if svc.address.is_empty() {
            entry.node.address.clone()
        } else {
            svc.address.clone()
        };
        let tuple = (entry.node.name.clone(), effective, svc.port);
        if seen.contains(&tuple) {
            continue;
        }
        seen.push(tuple);
        let port = u16::try_from(svc.port).unwrap_or(0);
        // Without an address of its own the target is the node; with one, its `.addr` name.
        let (target_text, ip, metas) = if svc.address.is_empty() {
            (
                format!("{}.node.{dc}.{DOMAIN}.", entry.node.name),
                entry.node.address.parse::<IpAddr>().ok(),
                true,
            )
        } else {
            match svc.address.parse::<IpAddr>() {
                Ok(ip) => (
                    format!("{}.addr.{dc}.{DOMAIN}.", hex_ip(ip)),
                    Some(ip),
                    false,
                ),
                Err(_) => (format!("{}.", svc.address), None, false),
            }
        };
        let Some(target) = name(&target_text) else {
            continue;
        };
        let srv = SRV::new(1, weight(entry, svc), port, target.clone());
        if let Some(owner) = resp.queries().first().map(|q| q.name().clone()) {
            resp.add_answer(Record::from_rdata(owner, 0, RData::SRV(srv)));
        }
        if let Some(r) = ip.and_then(|ip| ip_record(&target, ip, RecordType::SRV)) {
            resp.add_additional(r);
        }
        if metas {
            resp.add_additionals(meta_txt(&target, entry));
        }
    }
}

/// Builds the full (untrimmed) response to `req`.
pub fn respond(st: &State, dc_name: &str, req: &Message) -> Message {
    let mut resp = Message::new();
    resp.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(req.op_code())
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(false);
    if req.op_code() != OpCode::Query {
        resp.set_response_code(ResponseCode::NotImp);
        return resp;
    }
    let Some(q) = req.queries().first().cloned() else {
        resp.set_response_code(ResponseCode::FormErr);
        return resp;
    };
    resp.add_query(q.clone());
    if let Some(edns) = req.extensions() {
        let mut out = hickory_proto::op::Edns::new();
        out.set_max_payload(edns.max_payload());
        resp.set_edns(out);
    }
    let ascii = q.name().to_ascii().to_ascii_lowercase();
    let trimmed = ascii.trim_end_matches('.');
    let rest = if trimmed == DOMAIN {
        Some("")
    } else {
        trimmed.strip_suffix(&format!(".{DOMAIN}"))
    };
    let Some(rest) = rest else {
        // Out of the domain and no recursors configured: the 1.19+ answer.
        resp.set_response_code(ResponseCode::Refused);
        return resp;
    };
    resp.set_authoritative(true);
    let labels: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('.').map(str::to_string).collect()
    };
    lookup(st, dc_name, q.name(), &labels, q.query_type(), &mut resp);
    // Negative and empty answers carry the SOA so that resolvers may cache them (for 0 s).
    if resp.answers().is_empty()
        && let Some(s) = soa()
    {
        resp.add_name_server(s);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn parses_consul_names() {
        assert_eq!(
            parse(&labels("master.redis.service"), RecordType::A),
            Lookup::Service {
                service: "redis".into(),
                tag: "master".into(),
                dc: None
            }
        );
        assert_eq!(
            parse(&labels("redis.service.dc1"), RecordType::A),
            Lookup::Service {
                service: "redis".into(),
                tag: String::new(),
                dc: Some("dc1".into())
            }
        );
        assert_eq!(
            parse(&labels("_redis._master.service"), RecordType::SRV),
            Lookup::Service {
                service: "redis".into(),
                tag: "master".into(),
                dc: None
            }
        );
        assert_eq!(
            parse(&labels("_redis._tcp"), RecordType::SRV),
            Lookup::Service {
                service: "redis".into(),
                tag: String::new(),
                dc: None
            }
        );
        assert_eq!(
            parse(&labels("db.1.node.dc1.dc"), RecordType::A),
            Lookup::Node {
                node: "db.1".into(),
                dc: Some("dc1".into())
            }
        );
        assert_eq!(
            parse(&labels("foo.service.dc1.other"), RecordType::A),
            Lookup::Invalid
        );
        assert_eq!(parse(&labels("nothing"), RecordType::A), Lookup::Invalid);
    }

    #[test]
    fn hex_addresses_round_trip() {
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        assert_eq!(hex_ip(ip), "c000020a");
        assert_eq!(ip_from_hex("c000020a"), Some(ip));
        assert_eq!(ip_from_hex("zz"), None);
    }
}
