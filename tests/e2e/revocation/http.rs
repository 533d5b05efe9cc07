//! A real HTTP/1.1 server for CRLs and canned OCSP answers, on loopback, that counts what it is
//! asked: how many requests per path, and how many were conditional (If-None-Match). Plain
//! tokio, one connection per request (`Connection: close`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::server::Task;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What one path answers.
#[derive(Clone)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    /// Sent as `ETag`; a request with a matching `If-None-Match` gets `304`.
    pub etag: Option<String>,
    /// Send the body chunked, without a `Content-Length`.
    pub chunked: bool,
    pub content_type: &'static str,
}

impl Route {
    /// `200` with `body`, an ETag derived from its length, and a `Content-Length`.
    pub fn ok(body: Vec<u8>, content_type: &'static str) -> Route {
        Route {
            status: 200,
            etag: Some(format!("\"v{}\"", body.len())),
            body,
            chunked: false,
            content_type,
        }
    }

    pub fn crl(der: Vec<u8>) -> Route {
        Route::ok(der, "application/pkix-crl")
    }

    pub fn ocsp(der: Vec<u8>) -> Route {
        Route::ok(der, "application/ocsp-response")
    }
}

type Routes = Arc<Mutex<HashMap<String, Route>>>;

#[derive(Default)]
struct Counters {
    requests: HashMap<String, usize>,
    conditional: HashMap<String, usize>,
}

/// The server; stops when dropped.
pub struct HttpServer {
    pub addr: SocketAddr,
    routes: Routes,
    counters: Arc<Mutex<Counters>>,
    total: Arc<AtomicUsize>,
    _task: Task,
}

impl HttpServer {
    /// Starts serving; every path answers 404 until [`HttpServer::set`] gives it a route.
    pub async fn start() -> HttpServer {
        HttpServer::start_at("127.0.0.1:0".parse().expect("an address")).await
    }

    /// Like [`HttpServer::start`], on `addr` (to bring a server back on the port it had).
    pub async fn start_at(addr: SocketAddr) -> HttpServer {
        let routes: Routes = Arc::default();
        let listener = TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counters = Arc::new(Mutex::new(Counters::default()));
        let total = Arc::new(AtomicUsize::new(0));
        let task = {
            let routes = routes.clone();
            let counters = counters.clone();
            let total = total.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let routes = routes.clone();
                    let counters = counters.clone();
                    let total = total.clone();
                    tokio::spawn(async move {
                        let _ = serve(stream, &routes, &counters, &total).await;
                    });
                }
            })
        };
        HttpServer {
            addr,
            routes,
            counters,
            total,
            _task: task.into(),
        }
    }

    /// Makes `path` answer with `route` (certificates name the URL before the CRL exists).
    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received for `path`.
    pub fn requests(&self, path: &str) -> usize {
        let c = self.counters.lock().unwrap();
        c.requests.get(path).copied().unwrap_or(0)
    }

    /// Requests for `path` that carried `If-None-Match`.
    pub fn conditional(&self, path: &str) -> usize {
        let c = self.counters.lock().unwrap();
        c.conditional.get(path).copied().unwrap_or(0)
    }

    /// Requests received on any path.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    counters: &Mutex<Counters>,
    total: &AtomicUsize,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Drain a request body (OCSP POSTs) before answering.
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end - 4;
    while have < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        have += n;
    }

    total.fetch_add(1, Ordering::SeqCst);
    let if_none_match = header("if-none-match");
    {
        let mut c = counters.lock().unwrap();
        *c.requests.entry(path.clone()).or_default() += 1;
        if if_none_match.is_some() {
            *c.conditional.entry(path.clone()).or_default() += 1;
        }
    }
    let route = routes.lock().unwrap().get(&path).cloned();
    let Some(route) = route else {
        let reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return stream.write_all(reply.as_bytes()).await;
    };
    if route.etag.is_some() && if_none_match == route.etag {
        let reply = format!(
            "HTTP/1.1 304 Not Modified\r\nETag: {}\r\nConnection: close\r\n\r\n",
            route.etag.as_deref().unwrap_or_default()
        );
        return stream.write_all(reply.as_bytes()).await;
    }
    let mut reply = format!(
        "HTTP/1.1 {} Answer\r\nContent-Type: {}\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nConnection: close\r\n",
        route.status, route.content_type
    );
    if let Some(etag) = &route.etag {
        reply.push_str(&format!("ETag: {etag}\r\n"));
    }
    if route.chunked {
        reply.push_str("Transfer-Encoding: chunked\r\n\r\n");
        stream.write_all(reply.as_bytes()).await?;
        for piece in route.body.chunks(1024) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await?;
            stream.write_all(piece).await?;
            stream.write_all(b"\r\n").await?;
        }
        stream.write_all(b"0\r\n\r\n").await
    } else {
        reply.push_str(&format!("Content-Length: {}\r\n\r\n", route.body.len()));
        stream.write_all(reply.as_bytes()).await?;
        stream.write_all(&route.body).await
    }
}
