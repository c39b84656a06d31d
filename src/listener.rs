//! The HTTP listener, with a cap on connections open at once.
//!
//! Each accepted connection costs memory until it closes (hyper's read buffer, its task),
//! and under overload a client opens a connection for every request that finds none free:
//! 6,000 open connections held 51 MB of read buffers in the benchmark's 500/s run. Past the
//! cap, connections wait in the kernel's listen queue and are accepted as others close.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A [`TcpListener`] that accepts only while fewer than its cap of connections are open.
#[derive(Debug)]
pub struct CappedListener {
    inner: TcpListener,
    places: Arc<Semaphore>,
}

impl CappedListener {
    /// `max_connections` must be at least 1 (settings check it).
    pub fn new(inner: TcpListener, max_connections: usize) -> CappedListener {
        CappedListener {
            inner,
            places: Arc::new(Semaphore::new(max_connections)),
        }
    }
}

impl Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CappedStream, SocketAddr) {
        // Taken before accepting, so a connection past the cap stays in the listen queue.
        let place = self
            .places
            .clone()
            .acquire_owned()
            .await
            .expect("the listener's semaphore is never closed");
        // TcpListener's own `accept` retries (after a pause) on errors such as EMFILE.
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (
            CappedStream {
                stream,
                _place: place,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; its place under the cap is given back when it is dropped.
#[derive(Debug)]
pub struct CappedStream {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl CappedStream {
    pub fn tcp(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::ListenerExt;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("request written");
        let mut buf = vec![0; 1024];
        let n = stream.read(&mut buf).await.expect("response read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// With a cap of two, a third connection is not served until one of the two closes;
    /// then it is, and the client's address still reaches the handler.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_past_the_cap_waits_for_one_to_close() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = tcp.local_addr().expect("address");
        let listener = CappedListener::new(tcp, 2).tap_io(|_| {});
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(
                |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>| async move {
                    format!("from {}", peer.ip())
                },
            ),
        );
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        let mut first = TcpStream::connect(addr).await.expect("first");
        let mut second = TcpStream::connect(addr).await.expect("second");
        assert!(get(&mut first).await.contains("from 127.0.0.1"));
        assert!(get(&mut second).await.contains("200 OK"));
        // The kernel completes the handshake; the server does not read it yet.
        let mut third = TcpStream::connect(addr).await.expect("third");
        third
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("request written");
        let mut buf = vec![0; 1024];
        let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
        assert!(waited.is_err(), "served past the cap: {waited:?}");
        drop(first);
        let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
            .await
            .expect("served once a place was free")
            .expect("response read");
        assert!(String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
    }
}
