//! Several short exchanges at once from the calling thread: each connects to one Redis server
//! or sentinel, logs in, sends its commands in one write and reads their replies, and all of
//! them share one `poll(2)` loop on non-blocking sockets. A check that asks its local Redis and
//! three sentinels this way pays for four connections, not for four threads as well (a thread
//! costs about as much as a loopback round trip, and a check runs every few seconds on every
//! host).
//!
//! The bounds are those of [`RedisConn`]: the TCP connect within `connect_timeout`, then the
//! login and the commands within `io_timeout`; a frozen server is a timeout, never a hang.
//! Errors are mapped exactly as [`RedisConn`] maps them. TLS exchanges, which need the
//! handshake rustls drives on a blocking socket, and servers given by host name, whose lookup
//! blocks, run on [`RedisConn`] in threads of their own.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use ::redis::{Cmd, Parser, RedisError, Value};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::conn::{ConnectOptions, RedisConn, login_outcome, map_error};
use super::{Error, ServerKind};
use crate::addr::HostPort;

/// One exchange: `commands` (each with the name errors give it) sent to the server at `addr`.
#[derive(Clone)]
pub struct Exchange<'a> {
    pub kind: ServerKind,
    pub addr: &'a HostPort,
    pub opts: &'a ConnectOptions,
    pub commands: Vec<(&'static str, Cmd)>,
}

/// The replies of one exchange, one per command in order. A command the server answered with
/// an error reply does not spoil the others: it is that command's [`Error`] alone.
#[derive(Debug)]
pub struct Replies {
    addr: HostPort,
    kind: ServerKind,
    values: Vec<Option<Result<Value, Error>>>,
}

impl Replies {
    /// The reply to command `index` (each is taken once).
    pub fn take(&mut self, index: usize) -> Result<Value, Error> {
        self.values.get_mut(index).and_then(Option::take).unwrap_or_else(|| {
            Err(Error::Protocol { kind: self.kind, addr: self.addr.clone(), command: format!("command {index}"), detail: "no reply".into() })
        })
    }
}

/// Runs every exchange and returns their outcomes in the same order, when the last one has
/// answered or timed out.
pub fn run_all(exchanges: &[Exchange<'_>]) -> Vec<Result<Replies, Error>> {
    let mut batch = Batch::start(exchanges);
    (0..exchanges.len()).map(|i| batch.take(i)).collect()
}

/// Exchanges under way. [`Batch::take`] waits for one of them while all of them progress, so a
/// caller can act on some outcomes (the sentinels') before a slower one (a frozen server's).
pub struct Batch {
    slots: Vec<Slot>,
}

enum Slot {
    Polled(Box<Polled>),
    Thread(ServerKind, HostPort, std::thread::JoinHandle<Result<Replies, Error>>),
    Taken,
}

impl Batch {
    /// Starts every exchange (the connects go out at once).
    pub fn start(exchanges: &[Exchange<'_>]) -> Batch {
        let start = Instant::now();
        let slots = exchanges
            .iter()
            .map(|x| {
                // A host name is resolved on the thread as well: the system resolver blocks,
                // and one slow name must not hold up the other exchanges.
                if x.opts.tls || x.addr.ip().is_none() {
                    let (kind, addr, opts, commands) = (x.kind, x.addr.clone(), x.opts.clone(), x.commands.clone());
                    let spawned = std::thread::Builder::new().spawn(move || blocking(&Exchange { kind, addr: &addr, opts: &opts, commands }));
                    match spawned {
                        Ok(handle) => Slot::Thread(x.kind, x.addr.clone(), handle),
                        Err(e) => Slot::Polled(Box::new(Polled::failed(x, format!("cannot start a thread: {e}")))),
                    }
                } else {
                    Slot::Polled(Box::new(Polled::start(x, start)))
                }
            })
            .collect();
        Batch { slots }
    }

    /// The outcome of exchange `index`, waiting for it (each is taken once).
    ///
    /// # Panics
    /// When `index` is out of range or was taken before: a caller's mistake.
    pub fn take(&mut self, index: usize) -> Result<Replies, Error> {
        drive(&mut self.slots, index);
        match std::mem::replace(&mut self.slots[index], Slot::Taken) {
            Slot::Polled(p) => p.outcome.expect("drive ends once the exchange has its outcome"),
            Slot::Thread(kind, addr, handle) => handle.join().unwrap_or_else(|_| {
                Err(Error::Protocol { kind, addr, command: "connect".into(), detail: "the exchange's thread panicked".into() })
            }),
            Slot::Taken => panic!("exchange {index} was taken twice"),
        }
    }
}

/// A TLS exchange or one by host name, one command after the other on a [`RedisConn`]. A
/// server that stops answering ends the exchange; an error reply is that command's alone, as
/// when polled.
fn blocking(x: &Exchange<'_>) -> Result<Replies, Error> {
    let mut conn = RedisConn::connect_as(x.kind, x.addr, x.opts)?;
    let mut values = Vec::with_capacity(x.commands.len());
    for (name, cmd) in &x.commands {
        match conn.query::<Value>(cmd, name) {
            Err(e) if e.is_no_answer() => return Err(e),
            other => values.push(Some(other)),
        }
    }
    Ok(Replies { kind: x.kind, addr: x.addr.clone(), values })
}

/// The replies so far: all of them, or some (with the first error reply among them).
enum Parsed {
    All(Replies),
    Partial(Option<Error>),
}

/// A plain TCP exchange driven by [`drive`].
struct Polled {
    kind: ServerKind,
    addr: HostPort,
    opts: ConnectOptions,
    socket: Option<Socket>,
    /// The login (when there is a password) and the commands, packed.
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    /// The name of each reply expected: `AUTH` first when logging in, then the commands'.
    names: Vec<&'static str>,
    connected: bool,
    deadline: Instant,
    outcome: Option<Result<Replies, Error>>,
}

impl Polled {
    /// An exchange that could not start.
    fn failed(x: &Exchange<'_>, detail: String) -> Polled {
        let mut p = Polled::unconnected(x, Instant::now());
        p.outcome = Some(Err(Error::Unreachable { kind: x.kind, addr: x.addr.clone(), detail }));
        p
    }

    fn start(x: &Exchange<'_>, start: Instant) -> Polled {
        let mut p = Polled::unconnected(x, start);
        match p.connect() {
            Ok(socket) => p.socket = Some(socket),
            Err(e) => p.outcome = Some(Err(e)),
        }
        p
    }

    fn unconnected(x: &Exchange<'_>, start: Instant) -> Polled {
        let mut out = Vec::new();
        let mut names = Vec::with_capacity(x.commands.len() + 1);
        if let Some(password) = &x.opts.auth.password {
            names.push("AUTH");
            let mut auth = ::redis::cmd("AUTH");
            if let Some(user) = &x.opts.auth.user {
                auth.arg(user);
            }
            auth.arg(password.expose());
            auth.write_packed_command(&mut out);
        }
        for (name, cmd) in &x.commands {
            names.push(*name);
            cmd.write_packed_command(&mut out);
        }
        Polled {
            kind: x.kind,
            addr: x.addr.clone(),
            opts: x.opts.clone(),
            socket: None,
            out,
            written: 0,
            input: Vec::new(),
            names,
            connected: false,
            deadline: start + x.opts.connect_timeout.max(Duration::from_millis(1)),
            outcome: None,
        }
    }

    /// Starts a non-blocking connect (to an IP address: names go to threads, see
    /// [`Batch::start`]).
    fn connect(&self) -> Result<Socket, Error> {
        let ip = self.addr.ip().ok_or_else(|| Error::Config { kind: self.kind, addr: self.addr.clone(), detail: "not an IP address".into() })?;
        let target = SocketAddr::new(ip, self.addr.port);
        let socket = Socket::new(Domain::for_address(target), Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))
            .and_then(|s| s.set_tcp_nodelay(true).map(|()| s))
            .map_err(|e| self.io_error(e, "connect"))?;
        match socket.connect(&SockAddr::from(target)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) || e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(self.io_error(e, "connect")),
        }
        Ok(socket)
    }

    fn io_error(&self, e: io::Error, command: &str) -> Error {
        map_error(RedisError::from(e), self.kind, &self.addr, command, self.opts.connect_timeout, None)
    }

    /// What a broken connection interrupted: the connect, else the first exchange.
    fn phase_name(&self) -> &'static str {
        if self.connected { self.names.first().copied().unwrap_or("connect") } else { "connect" }
    }

    fn logs_in(&self) -> bool {
        self.opts.auth.password.is_some()
    }

    /// What to wait for; `None` once the exchange has its outcome.
    fn interest(&self) -> Option<PollFlags> {
        if self.outcome.is_some() {
            None
        } else if !self.connected || self.written < self.out.len() {
            Some(PollFlags::POLLOUT)
        } else {
            Some(PollFlags::POLLIN)
        }
    }

    /// Moves on after `poll` reported `revents`.
    fn advance(&mut self, revents: PollFlags) {
        let result = self.step(revents);
        match result {
            Ok(Some(replies)) => self.finish(Ok(replies)),
            Ok(None) => {}
            Err(e) => self.finish(Err(e)),
        }
    }

    fn finish(&mut self, outcome: Result<Replies, Error>) {
        self.outcome = Some(outcome);
        self.socket = None;
    }

    fn step(&mut self, revents: PollFlags) -> Result<Option<Replies>, Error> {
        let Some(socket) = &self.socket else { return Ok(None) };
        if !self.connected {
            if let Some(e) = socket.take_error().map_err(|e| self.io_error(e, "connect"))? {
                return Err(self.io_error(e, "connect"));
            }
            if !revents.intersects(PollFlags::POLLOUT | PollFlags::POLLERR | PollFlags::POLLHUP) {
                return Ok(None);
            }
            self.connected = true;
            self.deadline = Instant::now() + self.opts.io_timeout.max(Duration::from_millis(1));
        }
        while self.written < self.out.len() {
            match (&*socket).write(&self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, self.phase_name())),
            }
        }
        if !revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return Ok(None);
        }
        let mut chunk = [0u8; 4096];
        let mut closed = false;
        loop {
            match (&*socket).read(&mut chunk) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    // A short read took what had arrived; parse before asking the socket again.
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, self.phase_name())),
            }
        }
        match self.parse()? {
            Parsed::All(replies) => Ok(Some(replies)),
            // A server that refuses a client ("max number of clients reached") answers with
            // an error and closes: that error is the outcome, as on a connection.
            Parsed::Partial(Some(refusal)) if closed => Err(refusal),
            Parsed::Partial(_) if closed => Err(self.io_error(ErrorKind::UnexpectedEof.into(), self.phase_name())),
            Parsed::Partial(_) => Ok(None),
        }
    }

    /// What has arrived so far, parsed.
    fn parse(&self) -> Result<Parsed, Error> {
        let mut parser = Parser::new();
        let mut rest = &self.input[..];
        let mut values = Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            let reply = match parser.parse_value(&mut rest) {
                Ok(v) => v.extract_error(),
                // The end of what has arrived so far.
                Err(e) if e.is_connection_dropped() => {
                    return Ok(Parsed::Partial(values.into_iter().find_map(Result::err)));
                }
                Err(e) => return Err(map_error(e, self.kind, &self.addr, name, self.opts.io_timeout, None)),
            };
            if i == 0 && self.logs_in() {
                login_outcome(reply, self.kind, &self.addr, self.opts.connect_timeout)?;
            } else {
                values.push(reply.map_err(|e| map_error(e, self.kind, &self.addr, name, self.opts.io_timeout, None)));
            }
        }
        Ok(Parsed::All(Replies { kind: self.kind, addr: self.addr.clone(), values: values.into_iter().map(Some).collect() }))
    }

    fn timeout(&mut self) {
        let after = if self.connected { self.opts.io_timeout } else { self.opts.connect_timeout };
        self.finish(Err(Error::Timeout { kind: self.kind, addr: self.addr.clone(), after }));
    }
}

/// Polls every open exchange until exchange `until` has its outcome (at once when it is not
/// a polled one).
fn drive(slots: &mut [Slot], until: usize) {
    loop {
        if !matches!(&slots[until], Slot::Polled(p) if p.outcome.is_none()) {
            return;
        }
        let now = Instant::now();
        let mut open: Vec<&mut Polled> = Vec::new();
        for slot in slots.iter_mut() {
            if let Slot::Polled(p) = slot
                && p.interest().is_some()
            {
                if p.deadline <= now {
                    p.timeout();
                } else {
                    open.push(p);
                }
            }
        }
        let Some(next) = open.iter().map(|p| p.deadline).min() else { return };
        let wait = next.saturating_duration_since(now);
        // Rounded up, so the loop never spins on a deadline less than a millisecond away.
        let wait_ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
        let revents: Vec<Option<PollFlags>> = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .filter_map(|p| Some(PollFd::new(p.socket.as_ref()?.as_fd(), p.interest().unwrap_or(PollFlags::empty()))))
                .collect();
            match poll(&mut fds, PollTimeout::from(wait_ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => fds.iter().map(PollFd::revents).collect(),
                Err(e) => {
                    let detail = format!("poll failed: {e}");
                    drop(fds);
                    for p in &mut open {
                        let error = Error::Unreachable { kind: p.kind, addr: p.addr.clone(), detail: detail.clone() };
                        p.finish(Err(error));
                    }
                    return;
                }
            }
        };
        for (p, revents) in open.into_iter().zip(revents) {
            if let Some(r) = revents.filter(|r| !r.is_empty()) {
                p.advance(r);
            }
        }
    }
}
