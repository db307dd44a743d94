//! The datacenter's DNS server: UDP and TCP (2-byte length prefix) on one address, answers
//! from [`answer`], and Consul's UDP size rules (§8 of the reference): without EDNS at most 3
//! answers and 512 bytes, with EDNS the advertised size; trimming never sets TC, because
//! Consul's `enable_truncate` defaults to false.

pub mod answer;

use std::collections::HashSet;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RData;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::state::Datacenter;

/// Consul's `udp_answer_limit` default.
const UDP_ANSWER_LIMIT: usize = 3;
const DEFAULT_UDP_SIZE: usize = 512;
const MAX_UDP_SIZE: usize = 65467;

/// Length of the message encoded without name compression, as Consul measures it.
fn uncompressed_len(msg: &Message) -> usize {
    let mut buf = Vec::new();
    let mut enc = BinEncoder::new(&mut buf);
    enc.set_canonical_names(true);
    match msg.emit(&mut enc) {
        Ok(()) => buf.len(),
        Err(_) => usize::MAX,
    }
}

/// Keeps only the additional records that belong to a remaining SRV target.
fn sync_extra(resp: &mut Message) {
    let targets: HashSet<String> = resp
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(srv) => Some(srv.target().to_ascii().to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let kept: Vec<_> = resp
        .take_additionals()
        .into_iter()
        .filter(|r| targets.contains(&r.name().to_ascii().to_ascii_lowercase()))
        .collect();
    resp.insert_additionals(kept);
}

/// Consul's `trimUDPResponse`.
fn trim_udp(req: &Message, resp: &mut Message) {
    let mut max_size = DEFAULT_UDP_SIZE;
    if let Some(edns) = req.extensions() {
        max_size = max_size.max(usize::from(edns.max_payload()));
    }
    max_size = max_size.min(MAX_UDP_SIZE);
    if max_size == DEFAULT_UDP_SIZE && resp.answers().len() > UDP_ANSWER_LIMIT {
        resp.answers_mut().truncate(UDP_ANSWER_LIMIT);
        sync_extra(resp);
    }
    while resp.answers().len() > 1 && uncompressed_len(resp) > max_size {
        resp.take_name_servers();
        let n = resp.answers().len();
        resp.answers_mut().truncate(n - 1);
        sync_extra(resp);
    }
}

/// Keeps a TCP answer within a DNS message's 64 KiB.
fn trim_tcp(resp: &mut Message) {
    while resp.answers().len() > 1 && uncompressed_len(resp) > 65535 {
        let n = resp.answers().len();
        resp.answers_mut().truncate(n - 1);
        sync_extra(resp);
    }
}

/// Answers one raw query; `None` when it is not even a DNS header.
fn handle(dc: &Datacenter, bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let req = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(_) => {
            if bytes.len() < 12 {
                return None;
            }
            let id = u16::from_be_bytes([bytes[0], bytes[1]]);
            let mut err = Message::new();
            err.set_id(id)
                .set_message_type(MessageType::Response)
                .set_response_code(ResponseCode::FormErr);
            return err.to_vec().ok();
        }
    };
    if req.message_type() != MessageType::Query {
        return None;
    }
    let mut resp = dc.read(|st| answer::respond(st, dc.name(), &req));
    if udp {
        trim_udp(&req, &mut resp);
    } else {
        trim_tcp(&mut resp);
    }
    resp.to_vec().ok()
}

pub async fn serve_udp(dc: Arc<Datacenter>, socket: UdpSocket) {
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(out) = handle(&dc, &buf[..n], true) {
            let _ = socket.send_to(&out, peer).await;
        }
    }
}

async fn serve_conn(dc: Arc<Datacenter>, mut conn: TcpStream) {
    loop {
        let Ok(len) = conn.read_u16().await else {
            return;
        };
        let mut buf = vec![0u8; usize::from(len)];
        if conn.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Some(out) = handle(&dc, &buf, false) else {
            return;
        };
        let Ok(len) = u16::try_from(out.len()) else {
            return;
        };
        if conn.write_u16(len).await.is_err() || conn.write_all(&out).await.is_err() {
            return;
        }
    }
}

pub async fn serve_tcp(dc: Arc<Datacenter>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                tokio::spawn(serve_conn(Arc::clone(&dc), conn));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}
