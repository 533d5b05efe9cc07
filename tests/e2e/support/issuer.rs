//! An HTTP/1.1 server for caIssuers URLs whose `Date` header runs behind real time, counting
//! requests per path; stops when dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::server::Task;

/// Path ▶ (content type, body).
type Routes = Arc<Mutex<HashMap<String, (&'static str, Vec<u8>)>>>;

/// An HTTP/1.1 server for caIssuers URLs whose `Date` header is `clock_offset` behind real
/// time, counting requests per path. Stops when dropped.
pub struct IssuerServer {
    pub addr: SocketAddr,
    routes: Routes,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    _task: Task,
}

impl IssuerServer {
    pub async fn start(clock_offset: Duration) -> IssuerServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let routes: Routes = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let task = {
            let (routes, hits) = (routes.clone(), hits.clone());
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let (routes, hits) = (routes.clone(), hits.clone());
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let text = String::from_utf8_lossy(&head);
                        let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                        *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                        let date = httpdate::fmt_http_date(SystemTime::now() - clock_offset);
                        let route = routes.lock().unwrap().get(&path).cloned();
                        let (status, kind, body) = match route {
                            Some((kind, body)) => ("200 OK", kind, body),
                            None => ("404 Not Found", "text/plain", b"not here".to_vec()),
                        };
                        let head = format!(
                            "HTTP/1.1 {status}\r\nDate: {date}\r\nContent-Type: {kind}\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(&body).await;
                    });
                }
            })
        };
        IssuerServer {
            addr,
            routes,
            hits,
            _task: task.into(),
        }
    }

    /// Makes `path` answer 200 with `body`.
    pub fn set(&self, path: &str, content_type: &'static str, body: Vec<u8>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), (content_type, body));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}
