//! The HTTP endpoint: `/metrics`, `/-/healthy`, `/-/ready`, `/-/reload` and a small index page.
//!
//! hyper 1 over TCP or TLS (`--web.config.file`), one task per connection, with timeouts for
//! the TLS handshake and the request headers so slow clients cannot hold connections open, basic
//! authentication on every path when users are configured, and graceful shutdown: on the
//! shutdown signal the listener closes and open connections finish their current request.

pub mod auth;
pub mod probe;
pub mod web_config;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{self, Format};
use crate::state::{Readiness, State};
use auth::BasicAuth;
use web_config::WebConfig;

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body accepted (only `/-/reload` reads one, and ignores it); a larger
/// one is refused with `413` and nothing is reloaded.
const MAX_BODY: usize = 64 * 1024;
/// Connections served at once. More are accepted and closed at once, so that clients holding
/// connections open (each for at most [`HEADER_READ_TIMEOUT`] before a request) cannot take the
/// file descriptors the probes need. Prometheus uses one connection per scrape target.
pub const MAX_CONNECTIONS: usize = 512;

/// Re-reads the configuration; `Err` carries the message for the operator.
pub type ReloadFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What the request handlers need.
pub struct Endpoints {
    /// Every family `/metrics` serves, rendered at scrape time.
    pub registry: Registry,
    /// The latest probe results; `/-/ready` asks it whether every target has its first.
    pub state: Arc<State>,
    /// What `POST /-/reload` calls; its error message is passed on in the `500` answer.
    pub reload: ReloadFn,
    /// TLS and users from `--web.config.file`; swapped whole on reload.
    pub web: RwLock<Arc<WebSecurity>>,
    /// `/probe`: on-demand probes of targets on the `probe_allow` list.
    pub on_demand: Arc<probe::OnDemand>,
}

/// The listener's TLS acceptor (if any) and the basic-auth users.
#[derive(Default)]
pub struct WebSecurity {
    /// Serves HTTPS with the web config's certificate; `None` serves plain HTTP.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The `basic_auth_users`; with none configured every request passes.
    pub auth: BasicAuth,
}

impl From<WebConfig> for WebSecurity {
    fn from(config: WebConfig) -> WebSecurity {
        WebSecurity {
            tls: config.tls.map(tokio_rustls::TlsAcceptor::from),
            auth: BasicAuth::new(config.users),
        }
    }
}

impl Endpoints {
    /// The security settings in force now.
    pub fn security(&self) -> Arc<WebSecurity> {
        self.web.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the security settings (on reload); connections already open keep theirs.
    pub fn set_security(&self, security: WebSecurity) {
        *self.web.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(security);
    }
}

/// Serves HTTP on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, endpoints: Arc<Endpoints>, shutdown: CancellationToken) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, limit = MAX_CONNECTIONS, "too many open connections; closing a new one");
            drop(stream);
            continue;
        };
        let security = endpoints.security();
        let endpoints = endpoints.clone();
        let service = hyper::service::service_fn(move |req| {
            let endpoints = endpoints.clone();
            async move { Ok::<_, Infallible>(handle(req, &endpoints, peer).await) }
        });
        match security.tls.clone() {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = conn.await {
                        tracing::debug!(%error, %peer, "HTTP connection ended with an error");
                    }
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let http = http.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(
                        TLS_HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "TLS handshake with a client failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake with a client timed out");
                            return;
                        }
                    };
                    let conn = watcher.watch(http.serve_connection(TokioIo::new(tls), service));
                    if let Err(error) = conn.await {
                        tracing::debug!(%error, %peer, "HTTPS connection ended with an error");
                    }
                    drop(slot);
                });
            }
        }
    }
    // Give in-flight scrapes a moment, not forever.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// Routes one request.
pub async fn handle(
    req: Request<Incoming>,
    endpoints: &Endpoints,
    _peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let security = endpoints.security();
    if security.auth.enabled() {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // bcrypt is CPU-heavy: keep it off the async worker threads.
        let header = header.map(str::to_string);
        let sec = security.clone();
        let ok = tokio::task::spawn_blocking(move || sec.auth.check(header.as_deref()))
            .await
            .unwrap_or(false);
        if !ok {
            return unauthorized();
        }
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => metrics_response(&req, endpoints),
        (&Method::GET | &Method::HEAD, "/-/healthy") => text(StatusCode::OK, "Healthy.\n"),
        (&Method::GET | &Method::HEAD, "/-/ready") => {
            match endpoints.state.readiness() {
                Readiness::Ready => text(StatusCode::OK, "Ready.\n"),
                Readiness::Waiting(pending) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "Not ready: {pending} target{} pending (no first result yet, and the first probe's timeout has not passed).\n",
                        if pending == 1 { "" } else { "s" }
                    ),
                ),
            }
        }
        (&Method::POST | &Method::PUT, "/-/reload") => {
            // Drain (and bound) the body so the connection can be reused; a body over the
            // limit is refused before anything is reloaded.
            if Limited::new(req.into_body(), MAX_BODY)
                .collect()
                .await
                .is_err()
            {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request body too large; /-/reload needs none.\n",
                );
            }
            match (endpoints.reload)() {
                Ok(()) => text(StatusCode::OK, "Configuration reloaded.\n"),
                Err(message) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!(
                        "Reload failed, the previous configuration keeps running: {message}\n"
                    ),
                ),
            }
        }
        (_, "/-/reload") => text(StatusCode::METHOD_NOT_ALLOWED, "Use POST.\n"),
        (&Method::GET | &Method::HEAD, "/probe") => probe_response(req, endpoints).await,
        (&Method::GET | &Method::HEAD, "/") => html(INDEX),
        _ => text(StatusCode::NOT_FOUND, "Not found.\n"),
    }
}

/// Renders `/metrics` in the format the scraper asked for, gzipped when it accepts gzip.
fn metrics_response(req: &Request<Incoming>, endpoints: &Endpoints) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let gzip = accepts_gzip(headers.get(header::ACCEPT_ENCODING));
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type());
    let body = if gzip {
        // Compressed while rendering: the full page is never held in memory.
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        Bytes::from(metrics::render_gzip(&endpoints.registry, format))
    } else {
        Bytes::from(metrics::render(&endpoints.registry, format))
    };
    builder
        .header(header::VARY, "Accept, Accept-Encoding")
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Probes the target a `/probe` request names and answers with its series.
async fn probe_response(req: Request<Incoming>, endpoints: &Endpoints) -> Response<Full<Bytes>> {
    let format = Format::from_accept(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let query = req.uri().query().map(str::to_string);
    // A /probe request carries no body; refuse a large one rather than read it.
    if Limited::new(req.into_body(), probe::MAX_BODY)
        .collect()
        .await
        .is_err()
    {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "/probe takes no request body\n",
        );
    }
    let answer = endpoints.on_demand.answer(query.as_deref(), format).await;
    Response::builder()
        .status(answer.status)
        .header(header::CONTENT_TYPE, answer.content_type)
        .body(Full::new(Bytes::from(answer.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Whether `Accept-Encoding` lists gzip with a non-zero quality.
fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or("");
        let refused = fields.any(|f| f.replace(' ', "") == "q=0" || f == "q=0.0");
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn unauthorized() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"cert-expiry-exporter\"",
        )
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(b"Unauthorized.\n")))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn html(body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

const INDEX: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cert-expiry-exporter</title></head>
<body>
<h1>cert-expiry-exporter</h1>
<p>Probes TLS endpoints and reports certificate expiry, chain validity and revocation.</p>
<ul>
<li><a href="metrics">/metrics</a></li>
<li><a href="-/healthy">/-/healthy</a></li>
<li><a href="-/ready">/-/ready</a></li>
<li>/probe?target=host:port (when probe_allow is configured)</li>
</ul>
</body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let v = |s: &'static str| Some(HeaderValue::from_static(s));
        assert!(accepts_gzip(v("gzip").as_ref()));
        assert!(accepts_gzip(v("deflate, gzip;q=1.0, *;q=0.5").as_ref()));
        assert!(!accepts_gzip(v("gzip;q=0").as_ref()));
        assert!(!accepts_gzip(v("identity").as_ref()));
        assert!(!accepts_gzip(None));
    }
}
