//! Accepting connections, before any route or token is looked at: HTTP/1
//! with a header deadline (which also ends idle keep-alive connections), a
//! cap on header bytes, and a cap on open connections. At the cap the loop
//! stops accepting, so the kernel's backlog queues newcomers instead of the
//! process holding them (accept backpressure). `axum::serve` sets no timer,
//! so hyper's header deadline would never fire there.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Where the server is in its life; every connection watches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Drained: finish the request in flight, take no new one, stop accepting.
    Closing,
    /// The grace is over: drop whatever is still open.
    Abort,
}

/// The peer address of a request's connection (a request extension).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub SocketAddr);

/// Per-listener connection limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub header_read_timeout: Duration,
    /// A write that makes no progress this long fails, and the connection is dropped.
    pub write_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
}

/// hyper's floor for its read buffer.
const MIN_BUF: usize = 8192;
/// How long accepting pauses after an accept error (EMFILE and the like), so
/// a full descriptor table is not retried in a hot loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until the phase leaves `Serving`, then
/// waits for open connections to finish, or drops them at `Abort`.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut phase: watch::Receiver<Phase>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        // The read buffer bounds a connection's memory: a header larger than
        // it is refused with 431 instead of being buffered.
        .max_buf_size(limits.max_header_bytes.max(MIN_BUF));
    let builder = Arc::new(builder);
    let mut connections = JoinSet::new();
    loop {
        // Backpressure: no accept without a free slot.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = until(&mut phase, |p| p != Phase::Serving) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = until(&mut phase, |p| p != Phase::Serving) => break,
        };
        // Request/reply traffic: a reply goes out whole at once, never held back by Nagle.
        let _ = tcp.set_nodelay(true);
        let service = router.clone().map_request(move |mut r: Request<Incoming>| {
            r.extensions_mut().insert(Peer(addr));
            r.map(Body::new)
        });
        let service = TowerToHyperService::new(service);
        let builder = builder.clone();
        let mut phase = phase.clone();
        connections.spawn(async move {
            let _permit = permit;
            let io = WriteDeadline::new(tcp, limits.write_timeout);
            let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = until(&mut phase, |p| p != Phase::Serving) => conn.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = until(&mut phase, |p| p == Phase::Abort) => {}
            }
        });
    }
    drop(listener);
    // Closing: the connections finish their requests, or are dropped at Abort
    // (dropping the JoinSet aborts them).
    tokio::select! {
        _ = async { while connections.join_next().await.is_some() {} } => {}
        _ = until(&mut phase, |p| p == Phase::Abort) => {
            tracing::warn!(open = connections.len(), "shutdown grace over: dropping open connections");
        }
    }
}

/// Resolves once the phase satisfies `f` (or the server is gone).
pub(crate) async fn until(phase: &mut watch::Receiver<Phase>, f: impl Fn(Phase) -> bool) {
    // The guard wait_for returns is not Send: drop it here.
    let _ = phase.wait_for(|p| f(*p)).await.map(|_| ());
}

/// A socket whose writes fail when they make no progress for `timeout`: hyper
/// has no write deadline, so a client that requests and never reads would
/// hold its connection for ever (its memory is bounded by hyper's buffers).
/// It stays under an upgraded WebSocket too, below the WebSocket's own send deadline.
struct WriteDeadline {
    io: TcpStream,
    timeout: Duration,
    /// Running while a write is pending; reset by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteDeadline {
    fn new(io: TcpStream, timeout: Duration) -> WriteDeadline {
        WriteDeadline { io, timeout, stalled: None }
    }

    /// Maps a pending write to a timeout error once the deadline passes.
    fn deadline<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the peer stopped reading")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.deadline(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.deadline(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.deadline(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_shutdown(cx);
        self.deadline(cx, polled)
    }
}
