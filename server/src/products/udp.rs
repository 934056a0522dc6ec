//! The UDP listener for product datagrams. Every datagram is either accepted
//! or dropped and counted by reason; nothing a sender does can stop it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocol::{Datagram, Kind, MAX_DATAGRAM};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::{now_ms, Products, Source};

/// Datagrams sent more than this far from the node's clock are stale.
pub const CLOCK_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Counters by outcome, exposed on `/metrics`.
#[derive(Default, Debug)]
pub struct UdpStats {
    pub accepted: AtomicU64,
    pub malformed: AtomicU64,
    pub unknown_product: AtomicU64,
    pub bad_tag: AtomicU64,
    pub replay: AtomicU64,
    pub stale: AtomicU64,
}

impl UdpStats {
    /// `(reason, count)` of every outcome.
    pub fn snapshot(&self) -> [(&'static str, u64); 6] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("accepted", get(&self.accepted)),
            ("malformed", get(&self.malformed)),
            ("unknown_product", get(&self.unknown_product)),
            ("bad_tag", get(&self.bad_tag)),
            ("replay", get(&self.replay)),
            ("stale", get(&self.stale)),
        ]
    }
}

/// Hellos received during handshakes (when, from where, and whether a
/// wake probe was sent on the strength of it), and a bell for those
/// waiting.
#[derive(Default)]
pub struct Hellos {
    seen: Mutex<HashMap<String, Hello>>,
    /// Wake probes waiting for their answer: product → challenge, and
    /// whether the answer came.
    probes: Mutex<HashMap<String, (String, bool)>>,
    pub bell: Notify,
}

#[derive(Clone, Copy)]
struct Hello {
    at: Instant,
    from: SocketAddr,
    probed: bool,
}

/// A hello counts for the handshake's transport this long.
const HELLO_KEPT: Duration = Duration::from_secs(60);

impl Hellos {
    fn saw(&self, product: &str, from: SocketAddr) {
        let mut seen = self.seen.lock().expect("hellos lock");
        seen.retain(|_, h| h.at.elapsed() < HELLO_KEPT);
        let hello = Hello {
            at: Instant::now(),
            from,
            probed: false,
        };
        seen.insert(product.to_owned(), hello);
        drop(seen);
        self.bell.notify_waiters();
    }

    /// Where the latest valid hello from `product` came from, if it arrived
    /// in the last minute.
    pub fn latest(&self, product: &str) -> Option<SocketAddr> {
        self.seen
            .lock()
            .expect("hellos lock")
            .get(product)
            .filter(|h| h.at.elapsed() < HELLO_KEPT)
            .map(|h| h.from)
    }

    /// Where to send a wake probe: the source of a hello that arrived within
    /// `within` and has not been probed yet. Each hello allows one probe,
    /// so a product key cannot make the node send datagrams at will.
    pub fn take_for_probe(&self, product: &str, within: Duration) -> Option<SocketAddr> {
        let mut seen = self.seen.lock().expect("hellos lock");
        let hello = seen
            .get_mut(product)
            .filter(|h| !h.probed && h.at.elapsed() < within)?;
        hello.probed = true;
        Some(hello.from)
    }

    /// Notes the challenge of a wake probe sent to `product` (replacing any
    /// earlier one).
    pub fn expect_answer(&self, product: &str, challenge: &str) {
        let mut probes = self.probes.lock().expect("probes lock");
        probes.insert(product.to_owned(), (challenge.to_owned(), false));
    }

    /// Takes a hello carrying `nonce` as the answer to `product`'s probe if
    /// that is its challenge.
    fn answered(&self, product: &str, nonce: &str) -> bool {
        let mut probes = self.probes.lock().expect("probes lock");
        let Some((challenge, done)) = probes.get_mut(product) else {
            return false;
        };
        if *done || !crate::cluster::same_secret(challenge, nonce) {
            return false;
        }
        *done = true;
        drop(probes);
        self.bell.notify_waiters();
        true
    }

    /// Waits until the probe of `product` with `challenge` is answered, or
    /// until `deadline`; forgets the probe either way.
    pub async fn wait_answer(
        &self,
        product: &str,
        challenge: &str,
        deadline: tokio::time::Instant,
    ) -> bool {
        let answered = || {
            let probes = self.probes.lock().expect("probes lock");
            probes
                .get(product)
                .is_some_and(|(c, done)| *done && c == challenge)
        };
        let result = loop {
            let bell = self.bell.notified();
            if answered() {
                break true;
            }
            if tokio::time::timeout_at(deadline, bell).await.is_err() {
                break answered();
            }
        };
        let mut probes = self.probes.lock().expect("probes lock");
        if probes.get(product).is_some_and(|(c, _)| c == challenge) {
            probes.remove(product);
        }
        result
    }

    /// Waits until a hello from `product` arrived in the last minute, or
    /// until `deadline`; returns where it came from.
    pub async fn wait(&self, product: &str, deadline: tokio::time::Instant) -> Option<SocketAddr> {
        loop {
            let bell = self.bell.notified();
            if let Some(from) = self.latest(product) {
                return Some(from);
            }
            if tokio::time::timeout_at(deadline, bell).await.is_err() {
                return self.latest(product);
            }
        }
    }
}

/// Kernel receive buffer asked for: bursts of heartbeats wait there instead
/// of being dropped (the kernel caps it at `net.core.rmem_max`).
const RECEIVE_BUFFER: usize = 8 << 20;

/// Binds the product socket with a large receive buffer.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(RECEIVE_BUFFER) {
        tracing::warn!(error = %e, "cannot enlarge the UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Receives datagrams until the task is aborted.
pub async fn run(products: Products) {
    let socket = products.udp_socket.clone();
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => handle(&buf[..n], from, &products).await,
            // ICMP errors and the like surface here; the socket stays usable.
            Err(e) => tracing::debug!(error = %e, "UDP receive error"),
        }
    }
}

/// Judges one datagram, received from `from`.
pub async fn handle(bytes: &[u8], from: SocketAddr, products: &Products) {
    let db = &products.db;
    let stats = &products.udp;
    let count = |c: &AtomicU64| {
        c.fetch_add(1, Ordering::Relaxed);
    };
    let Ok(d) = Datagram::parse(bytes) else {
        return count(&stats.malformed);
    };
    if d.kind == Kind::Wake {
        return count(&stats.malformed); // nodes send wakes, they never receive them
    }
    if !super::nesting_within(d.payload, super::MAX_ACTIVITY_DEPTH) {
        return count(&stats.malformed);
    }
    let entry = match products.keys.for_datagram(db, d.product).await {
        Ok(Some(entry)) => entry,
        Ok(None) => return count(&stats.unknown_product),
        Err(e) => {
            tracing::debug!(error = %e, "cannot look up a product key");
            return count(&stats.unknown_product);
        }
    };
    let entry = if d.verify_with(&entry.mac) {
        entry
    } else {
        // The product may have re-registered elsewhere with a new key.
        let reloaded = if entry.loaded_at.elapsed() > super::keys::RELOAD_AFTER {
            products.keys.load(db, d.product).await.ok().flatten()
        } else {
            None
        };
        match reloaded {
            Some(fresh) if d.verify_with(&fresh.mac) => fresh,
            _ => return count(&stats.bad_tag),
        }
    };
    let now = now_ms();
    if (now - d.sent_at_ms as i64).abs() > CLOCK_WINDOW_MS {
        return count(&stats.stale);
    }
    let seq = d.seq.min(i64::MAX as u64) as i64;
    if !entry.accept_seq(seq) {
        return count(&stats.replay);
    }
    let (source, activity) = match d.kind {
        Kind::Hello => {
            let payload = serde_json::from_slice::<serde_json::Value>(d.payload).ok();
            let nonce = payload.as_ref().and_then(|p| p.get("nonce")?.as_str());
            match nonce {
                // The hello of a handshake…
                Some(n) if n == entry.nonce => products.hellos.saw(&entry.id, from),
                // …or the answer to a wake probe, echoing its challenge.
                Some(n) if products.hellos.answered(&entry.id, n) => {}
                _ => return count(&stats.malformed),
            }
            (Source::UdpHello, &[][..])
        }
        _ => (Source::UdpHeartbeat, d.payload),
    };
    count(&stats.accepted);
    entry.heard_from(from);
    products
        .recorder
        .record_datagram(&entry.id, now, seq, source, activity);
}

/// Datagrams the kernel dropped on `socket` because its receive buffer was
/// full (the `drops` column of `/proc/net/udp` or `udp6`); `None` where
/// the system does not say.
pub fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
    let port = socket.local_addr().ok()?.port();
    let table = if socket.local_addr().ok()?.is_ipv4() {
        "/proc/net/udp"
    } else {
        "/proc/net/udp6"
    };
    let text = std::fs::read_to_string(table).ok()?;
    drops_of_port(&text, port)
}

/// The `drops` of the socket bound to `port` in a `/proc/net/udp` table.
fn drops_of_port(table: &str, port: u16) -> Option<u64> {
    let wanted = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl, local_address, rem_address, …, the last column is drops.
        let local = fields.get(1)?;
        if !local.ends_with(&wanted) {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_drops_are_read_from_the_socket_s_line() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            12: 0100007F:0BB9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 0\n\
            13: 0100007F:A1B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 51\n";
        assert_eq!(drops_of_port(table, 0xA1B2), Some(51));
        assert_eq!(drops_of_port(table, 3001), Some(0));
        assert_eq!(drops_of_port(table, 9), None);
    }

    #[tokio::test]
    async fn the_kernel_drop_count_of_a_bound_socket_is_readable() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        if std::path::Path::new("/proc/net/udp").exists() {
            assert_eq!(kernel_drops(&socket), Some(0));
        }
    }

    #[test]
    fn each_hello_allows_one_wake_probe() {
        let hellos = Hellos::default();
        let from: SocketAddr = "127.0.0.9:5000".parse().unwrap();
        assert_eq!(hellos.take_for_probe("p", Duration::from_secs(10)), None);
        hellos.saw("p", from);
        assert_eq!(hellos.take_for_probe("p", Duration::ZERO), None, "too old");
        assert_eq!(
            hellos.take_for_probe("p", Duration::from_secs(10)),
            Some(from)
        );
        assert_eq!(hellos.take_for_probe("p", Duration::from_secs(10)), None);
        assert_eq!(hellos.latest("p"), Some(from), "still counts for UDP");
        hellos.saw("p", from);
        assert_eq!(
            hellos.take_for_probe("p", Duration::from_secs(10)),
            Some(from)
        );
    }

    #[tokio::test]
    async fn only_the_probe_s_own_challenge_answers_it() {
        let hellos = Hellos::default();
        let soon = || tokio::time::Instant::now() + Duration::from_millis(50);
        assert!(!hellos.answered("p", "c1"), "no probe out");
        hellos.expect_answer("p", "c1");
        assert!(!hellos.answered("p", "c2"));
        assert!(!hellos.answered("q", "c1"));
        assert!(!hellos.wait_answer("p", "c1", soon()).await);
        hellos.expect_answer("p", "c1");
        assert!(hellos.answered("p", "c1"));
        assert!(!hellos.answered("p", "c1"), "a probe is answered once");
        assert!(hellos.wait_answer("p", "c1", soon()).await);
    }
}
