//! A TCP proxy (in front of a database server, say) that can pass, delay, drop or
//! reset traffic on command: the network faults of the scenarios.
//!
//! - `Pass`: bytes flow both ways.
//! - `Delay(d)`: every chunk waits `d` before it is forwarded.
//! - `Drop`: a black hole. Nothing is accepted and nothing is forwarded
//!   either way; the connections stay open and silent, as behind a cable cut
//!   or a firewall that drops packets. When the mode changes back, what was
//!   held is delivered, as TCP's retransmissions would after the cut heals.
//! - `Reset`: every open connection is closed with a RST, and new ones are
//!   reset as soon as they arrive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Delay(Duration),
    Drop,
    Reset,
}

/// A running proxy; its tasks end when it is dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, watching) = watch::channel(Mode::Pass);
        let accept = tokio::spawn(accept_loop(listener, upstream, watching));
        Ok(Proxy { addr, mode, accept })
    }

    /// Changes what happens to traffic, on open connections too.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Mode::Reset);
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, mode: watch::Receiver<Mode>) {
    let mode = Arc::new(mode);
    loop {
        // Black hole: accept nothing. The kernel still completes handshakes
        // into the backlog, but no byte is ever answered.
        let mut gate = (*mode).clone();
        if gate.wait_for(|m| *m != Mode::Drop).await.is_err() {
            return;
        }
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *mode.borrow() == Mode::Reset {
            reset(client);
            continue;
        }
        let watching = (*mode).clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                // The server is gone (killed): the client sees its
                // connection reset, as it would from the server's host.
                reset(client);
                return;
            };
            pair(client, server, watching).await;
        });
    }
}

/// Closes `stream` with a RST instead of a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Forwards both ways until either side closes or the mode turns `Reset`.
async fn pair(mut client: TcpStream, mut server: TcpStream, mode: watch::Receiver<Mode>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let mut resetting = mode.clone();
        tokio::select! {
            _ = forward(&mut client_read, &mut server_write, mode.clone()) => {}
            _ = forward(&mut server_read, &mut client_write, mode.clone()) => {}
            _ = resetting.wait_for(|m| *m == Mode::Reset) => {}
        }
    }
    // A Reset ends both with a RST, so neither side waits for a FIN that
    // is not coming; otherwise they close as usual.
    if *mode.borrow() == Mode::Reset {
        reset(client);
        reset(server);
    }
}

/// Copies `from` to `to` chunk by chunk, obeying the mode before each
/// write, until `from` closes or fails.
async fn forward<R, W>(from: &mut R, to: &mut W, mut mode: watch::Receiver<Mode>)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Not even reading while black-holed: the sender's buffers fill
        // up as they would on a dead link.
        if mode.wait_for(|m| *m != Mode::Drop).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        // A chunk read just before the cut is held until it heals.
        let current = match mode.wait_for(|m| *m != Mode::Drop).await {
            Ok(m) => *m,
            Err(_) => return,
        };
        match current {
            Mode::Delay(d) => tokio::time::sleep(d).await,
            Mode::Reset => return,
            Mode::Pass | Mode::Drop => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
        s.write_all(b"ping").await.ok()?;
        let mut buf = [0u8; 4];
        match tokio::time::timeout(wait, s.read_exact(&mut buf)).await {
            Ok(Ok(_)) => Some(buf.to_vec()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn passes_holds_while_dropped_then_delivers_and_resets() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.addr).await.unwrap();
        let short = Duration::from_millis(300);
        assert_eq!(
            round_trip(&mut s, Duration::from_secs(2)).await.as_deref(),
            Some(&b"ping"[..])
        );

        proxy.set(Mode::Drop);
        assert_eq!(
            round_trip(&mut s, short).await,
            None,
            "silence while dropped"
        );
        proxy.set(Mode::Pass);
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
            .await
            .expect("held bytes delivered once healed")
            .unwrap();
        assert_eq!(&buf, b"ping");

        proxy.set(Mode::Delay(Duration::from_millis(200)));
        let started = std::time::Instant::now();
        assert!(round_trip(&mut s, Duration::from_secs(2)).await.is_some());
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "delayed both ways"
        );

        proxy.set(Mode::Reset);
        let mut buf = [0u8; 4];
        let read = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Err(_)) | Ok(Ok(0))),
            "reset closes the open connection: {read:?}"
        );
    }
}
