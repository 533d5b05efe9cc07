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
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Frame, Incoming};
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

/// `/metrics` pages rendered at once; a scrape that finds every slot taken waits for one (at
/// most [`RENDER_WAIT`]). A render holds a piece of the page at a time (about
/// [`metrics::CHUNK`] bytes in each of a few places) and the gzip state, under a MiB, so the slots
/// bound the CPU and threads scrapes take rather than memory; two keep both cores busy when
/// scrapes come together, and a slow reader holding one does not stop the others.
pub const RENDER_SLOTS: usize = 4;
/// How long a scrape waits for a render slot before it is answered `503`.
pub const RENDER_WAIT: Duration = Duration::from_secs(30);
/// How long one render may take, from its start until the scraper has taken the last piece. A
/// scraper that reads slower is cut off (the page ends without its last chunk, which the
/// scraper sees as an error, not as a short page), so it cannot hold a slot for long.
pub const RENDER_DEADLINE: Duration = Duration::from_secs(60);
/// Pieces a render may be ahead of the scraper.
const RENDER_QUEUE: usize = 2;

/// The render slots (one server runs in a process).
static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(RENDER_SLOTS);

/// The body of every answer: a whole one, or a `/metrics` page as it is rendered.
pub type Body = Either<Full<Bytes>, PageBody>;

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
    endpoints: &Arc<Endpoints>,
    peer: SocketAddr,
) -> Response<Body> {
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
            return unauthorized().map(Either::Left);
        }
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) && req.uri().path() == "/metrics" {
        return metrics_response(&req, endpoints).await;
    }
    route(req, endpoints, peer).await.map(Either::Left)
}

/// Routes every request but `/metrics`.
async fn route(
    req: Request<Incoming>,
    endpoints: &Endpoints,
    _peer: SocketAddr,
) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
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

/// Renders `/metrics` in the format the scraper asked for, gzipped when it accepts gzip, and
/// streams it: the page is encoded on a blocking thread into pieces of [`metrics::CHUNK`]
/// bytes that go out as they are made, at most [`RENDER_QUEUE`] ahead of the scraper, so a
/// scrape holds a few pieces, never the page (with or without gzip), and at most
/// [`RENDER_SLOTS`] renders run at once.
async fn metrics_response(req: &Request<Incoming>, endpoints: &Arc<Endpoints>) -> Response<Body> {
    let headers = req.headers();
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let gzip = accepts_gzip(headers.get(header::ACCEPT_ENCODING));
    let Ok(Ok(slot)) = tokio::time::timeout(RENDER_WAIT, RENDERS.acquire()).await else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Every /metrics render slot stayed busy; try again.\n",
        )
        .map(Either::Left);
    };
    let endpoints = endpoints.clone();
    let body = stream(slot, RENDER_DEADLINE, move |send| {
        metrics::render_chunks(&endpoints.registry, format, gzip, metrics::CHUNK, send)
    });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type());
    if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    builder
        .header(header::VARY, "Accept, Accept-Encoding")
        .body(Either::Right(body))
        .unwrap_or_else(|_| Response::new(Either::Left(Full::new(Bytes::new()))))
}

/// Runs `render` on a blocking thread (off the async workers: a page of ten thousand targets
/// takes tens of milliseconds of CPU) and returns the body its pieces go out in. The render
/// holds `slot` until it ends, waits while the scraper is [`RENDER_QUEUE`] pieces behind, and
/// is stopped once the scraper has gone or `deadline` has passed since it began.
fn stream<R>(slot: tokio::sync::SemaphorePermit<'static>, deadline: Duration, render: R) -> PageBody
where
    R: FnOnce(&mut dyn FnMut(Vec<u8>) -> bool) -> metrics::RenderEnd + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(RENDER_QUEUE);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let deadline = tokio::time::Instant::now() + deadline;
        let put = |piece: Piece| {
            matches!(
                runtime.block_on(tokio::time::timeout_at(deadline, tx.send(piece))),
                Ok(Ok(()))
            )
        };
        match render(&mut |bytes| put(Piece::Data(Bytes::from(bytes)))) {
            metrics::RenderEnd::Complete => {
                put(Piece::End);
            }
            metrics::RenderEnd::Refused => {
                tracing::debug!(
                    "a /metrics scraper went away or read too slowly; the page was cut short"
                );
            }
            metrics::RenderEnd::Failed => {
                put(Piece::Failed);
            }
        }
    });
    PageBody {
        pieces: rx,
        ended: false,
    }
}

/// What a render hands the response body.
enum Piece {
    /// The next bytes of the page.
    Data(Bytes),
    /// The page is complete.
    End,
    /// Rendering failed; the response must not end as if the page were whole.
    Failed,
}

/// A `/metrics` page as it is rendered. It ends cleanly only after the render said the page is
/// complete; a render that failed, stopped or panicked ends it with an error, so hyper closes
/// the connection without the final chunk and the scraper sees a failed scrape, not a page
/// with series missing.
pub struct PageBody {
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    ended: bool,
}

/// Why a `/metrics` page ended early.
#[derive(Debug)]
pub struct PageCutShort;

impl std::fmt::Display for PageCutShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the /metrics page ended before it was complete")
    }
}

impl std::error::Error for PageCutShort {}

impl hyper::body::Body for PageBody {
    type Data = Bytes;
    type Error = PageCutShort;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, PageCutShort>>> {
        use std::task::Poll;
        if self.ended {
            return Poll::Ready(None);
        }
        match self.pieces.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Piece::Data(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Poll::Ready(Some(Piece::End)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Piece::Failed) | None) => {
                self.ended = true;
                Poll::Ready(Some(Err(PageCutShort)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
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

    /// The streamed body: whole only when the render said so; cut short (an error, so the
    /// scraper sees a failed scrape) when it failed or panicked; a reader that stops reading
    /// stops the render at the deadline and frees its slot.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_bodies_end_as_their_render_did() {
        let pieces = |n: usize| {
            move |send: &mut dyn FnMut(Vec<u8>) -> bool| {
                for i in 0..n {
                    if !send(vec![b'a' + i as u8; 3]) {
                        return metrics::RenderEnd::Refused;
                    }
                }
                metrics::RenderEnd::Complete
            }
        };
        let slot = || RENDERS.try_acquire().unwrap();
        let whole = stream(slot(), RENDER_DEADLINE, pieces(5))
            .collect()
            .await
            .unwrap();
        assert_eq!(whole.to_bytes().as_ref(), b"aaabbbcccdddeee");

        let failed = stream(slot(), RENDER_DEADLINE, |send| {
            send(b"partial".to_vec());
            metrics::RenderEnd::Failed
        });
        assert!(failed.collect().await.is_err());
        let panicked = stream(slot(), RENDER_DEADLINE, |send| {
            send(b"partial".to_vec());
            panic!("a render that panics")
        });
        assert!(panicked.collect().await.is_err());

        // Nobody reads: the render stops once the queue is full and the deadline passes.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let unread = stream(slot(), Duration::from_millis(200), move |send| {
            let end = pieces(1000)(send);
            let _ = done_tx.send(end);
            end
        });
        let end = tokio::time::timeout(Duration::from_secs(30), done_rx).await;
        assert_eq!(end.unwrap().unwrap(), metrics::RenderEnd::Refused);
        drop(unread);
        // Every slot is back (the panicked render's too).
        let all = tokio::time::timeout(
            Duration::from_secs(30),
            RENDERS.acquire_many(RENDER_SLOTS as u32),
        )
        .await;
        assert!(all.is_ok());
    }

    #[test]
    fn format_negotiation_follows_client_golang() {
        let f = Format::from_accept;
        assert_eq!(f(None), Format::Text);
        assert_eq!(f(Some("*/*")), Format::Text);
        assert_eq!(f(Some("application/openmetrics-text")), Format::OpenMetrics);
        // Prometheus 2.x asks like this.
        assert_eq!(
            f(Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")),
            Format::OpenMetrics
        );
        // With `scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]`, text first.
        assert_eq!(
            f(Some("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.1")),
            Format::Text
        );
        // Quality decides, not order; equal qualities go by order.
        assert_eq!(
            f(Some(
                "text/plain;q=0.2, application/openmetrics-text; version=1.0.0; q=0.9"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            f(Some("text/plain, application/openmetrics-text")),
            Format::Text
        );
        // Refused, or a version we do not write: not picked.
        assert_eq!(f(Some("application/openmetrics-text;q=0")), Format::Text);
        assert_eq!(
            f(Some("application/openmetrics-text;version=2.0.0")),
            Format::Text
        );
        // Prometheus 3 with UTF-8 escaping: the protobuf and text 1.0.0 offers are skipped.
        assert_eq!(
            f(Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")),
            Format::OpenMetrics
        );
        assert_eq!(
            f(Some("Application/OpenMetrics-Text; Version=\"1.0.0\"")),
            Format::OpenMetrics
        );
    }
}
