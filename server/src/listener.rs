//! The node's HTTP accept loop, with the limits a public listener needs:
//! a cap on open connections (beyond it new ones are closed at once, so the
//! accept queue keeps moving), a deadline for a request's headers, and an
//! idle timeout for connections with no request in flight. Without them a
//! thousand silent connections used up the node's file descriptors.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::tls::Tls;

/// How long open connections may take to finish once the node stops.
const DRAIN: Duration = Duration::from_secs(5);

/// The limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Connections closed by the limits, for `/metrics`.
#[derive(Default, Debug)]
pub struct ConnStats {
    /// Refused because `max_connections` were open.
    pub refused: AtomicU64,
    /// Closed after `idle_timeout` without a request.
    pub idle_closed: AtomicU64,
    /// Open now.
    pub open: AtomicUsize,
}

impl ConnStats {
    /// The counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP vigil_http_connections_open HTTP connections open now.\n\
             # TYPE vigil_http_connections_open gauge\nvigil_http_connections_open {}\n\
             # HELP vigil_http_connections_refused_total Connections closed at once because max_connections were open.\n\
             # TYPE vigil_http_connections_refused_total counter\nvigil_http_connections_refused_total {}\n\
             # HELP vigil_http_connections_idle_closed_total Connections closed after idle_timeout without a request.\n\
             # TYPE vigil_http_connections_idle_closed_total counter\nvigil_http_connections_idle_closed_total {}\n",
            self.open.load(Ordering::Relaxed),
            get(&self.refused),
            get(&self.idle_closed),
        )
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until
/// `shutdown` completes, then lets open connections finish their requests
/// (at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stats: Arc<ConnStats>,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut open = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or the peer left before accept: wait
                    // a moment instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while open.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            peer,
            router: router.clone(),
            limits,
            stats: stats.clone(),
            stopping: stopping.clone(),
            _slot: slot,
        };
        match &tls {
            None => open.spawn(conn.serve(stream)),
            Some(tls) => open.spawn(conn.serve_tls(stream, tls.clone())),
        };
    }
    drop(listener);
    stop.send_replace(true);
    let drained = tokio::time::timeout(DRAIN, async { while open.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(
            left = open.len(),
            "closing connections still open at shutdown"
        );
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    since: std::sync::Mutex<Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        (self.in_flight.load(Ordering::Acquire) == 0)
            .then(|| self.since.lock().expect("activity lock").elapsed())
    }
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.since.lock().expect("activity lock") = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One accepted connection and what it holds: its slot among
/// `max_connections` is given back when it ends.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    stats: Arc<ConnStats>,
    stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    /// The TLS handshake first, within the header deadline (a client that
    /// opens a connection and says nothing holds a slot no longer than one
    /// that sends no headers), then HTTP.
    async fn serve_tls(self, stream: TcpStream, tls: Arc<Tls>) {
        let handshake = tls.acceptor().accept(stream);
        match tokio::time::timeout(self.limits.header_timeout, handshake).await {
            Ok(Ok(stream)) => self.serve(stream).await,
            Ok(Err(e)) => {
                tls.handshake_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
            }
            Err(_) => {
                tls.handshake_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = %self.peer, "TLS handshake timed out");
            }
        }
    }

    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            peer,
            router,
            limits,
            stats,
            stopping,
            _slot,
        } = self;
        http(stream, peer, router, limits, stats, stopping).await;
    }
}

async fn http<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    stats: Arc<ConnStats>,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    stats.open.fetch_add(1, Ordering::Relaxed);
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        since: std::sync::Mutex::new(Instant::now()),
    });
    let service = {
        let activity = activity.clone();
        tower::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let busy = InFlight::start(&activity);
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(axum::body::Body::new)).await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let check_every = (limits.idle_timeout / 4).max(Duration::from_millis(100));
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stopping.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep(check_every), if !closing => {
                if activity.idle_for().is_some_and(|idle| idle >= limits.idle_timeout) {
                    stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
    stats.open.fetch_sub(1, Ordering::Relaxed);
}

/// Raises this process's open-file limit to its hard limit, so the
/// connection cap, not the descriptor limit, decides what is refused.
pub fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let before = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                tracing::debug!(before, after = limit.rlim_max, "raised the open-file limit");
            }
        }
    }
}
