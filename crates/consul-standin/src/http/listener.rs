//! The agent's listening socket, which the `/_standin/` controls can close and reopen on the
//! same address to make the agent refuse connections (see [`PauseMode::Refuse`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::state::PauseMode;

#[derive(Debug)]
pub struct PausableListener {
    addr: SocketAddr,
    inner: Option<TcpListener>,
    pause: watch::Receiver<PauseMode>,
}

impl PausableListener {
    pub fn new(listener: TcpListener, pause: watch::Receiver<PauseMode>) -> io::Result<Self> {
        Ok(PausableListener {
            addr: listener.local_addr()?,
            inner: Some(listener),
            pause,
        })
    }
}

/// Waits for the next pause change; if the controller is gone, waits forever.
async fn next_change(pause: &mut watch::Receiver<PauseMode>) {
    if pause.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl axum::serve::Listener for PausableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let mode = *self.pause.borrow_and_update();
            if mode == PauseMode::Refuse {
                // Closing the socket makes the kernel refuse new connections.
                self.inner = None;
                next_change(&mut self.pause).await;
                continue;
            }
            if self.inner.is_none() {
                // mio sets SO_REUSEADDR, so the address can be taken again at once.
                match TcpListener::bind(self.addr).await {
                    Ok(l) => self.inner = Some(l),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            let Some(listener) = &self.inner else {
                continue;
            };
            let pause = &mut self.pause;
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => return conn,
                    // Out of file descriptors and the like: back off, as axum's own listener does.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                _ = next_change(pause) => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
