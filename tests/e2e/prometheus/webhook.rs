//! The test's own Alertmanager webhook receiver: an HTTP server on loopback that keeps every
//! alert Alertmanager POSTs to it, so the test can see which alerts made it all the way through.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::support::server::Task;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// The largest notification accepted; Alertmanager's payloads here are a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// One alert as delivered: its labels and annotations.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The alert's labels: `alertname`, the rule's and the series' labels.
    pub labels: serde_json::Map<String, Value>,
    /// The rendered annotations (`summary`, `description`, `runbook_url`).
    pub annotations: serde_json::Map<String, Value>,
    /// `firing` or `resolved`.
    pub status: String,
}

impl Delivered {
    /// The value of label `name`, or "" when the alert does not carry it.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The value of annotation `name`, or "".
    pub fn annotation(&self, name: &str) -> &str {
        self.annotations
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// The receiver; stops serving when dropped.
pub struct Webhook {
    pub addr: SocketAddr,
    alerts: Arc<Mutex<Vec<Delivered>>>,
    /// Bodies that were not a webhook payload, so a format surprise fails loudly.
    malformed: Arc<Mutex<Vec<String>>>,
    _task: Task,
}

impl Webhook {
    /// Listens on a free loopback port.
    pub async fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind webhook");
        let addr = listener.local_addr().expect("webhook addr");
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let malformed = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept_loop(listener, alerts.clone(), malformed.clone()));
        Webhook {
            addr,
            alerts,
            malformed,
            _task: task.into(),
        }
    }

    /// The URL to give Alertmanager.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    /// Every alert delivered so far; panics if a body was not a webhook payload.
    pub fn alerts(&self) -> Vec<Delivered> {
        let malformed = self.malformed.lock().unwrap();
        assert!(
            malformed.is_empty(),
            "the webhook received bodies that are not Alertmanager payloads: {malformed:?}"
        );
        self.alerts.lock().unwrap().clone()
    }
}

/// Serves every connection with [`receive`], each on its own task, until the listener fails
/// or the task is aborted.
async fn accept_loop(
    listener: TcpListener,
    alerts: Arc<Mutex<Vec<Delivered>>>,
    malformed: Arc<Mutex<Vec<String>>>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let alerts = alerts.clone();
        let malformed = malformed.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let alerts = alerts.clone();
            let malformed = malformed.clone();
            async move {
                receive(request, &alerts, &malformed).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Reads one notification and keeps its alerts.
async fn receive(
    request: Request<Incoming>,
    alerts: &Mutex<Vec<Delivered>>,
    malformed: &Mutex<Vec<String>>,
) {
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            malformed
                .lock()
                .unwrap()
                .push(format!("unreadable body: {e}"));
            return;
        }
    };
    match parse(&body) {
        Some(delivered) => alerts.lock().unwrap().extend(delivered),
        None => malformed
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned()),
    }
}

/// The alerts of an Alertmanager webhook payload (version 4: `{"alerts": [{"status",
/// "labels", "annotations", ...}], ...}`), or `None` when the body is something else.
fn parse(body: &[u8]) -> Option<Vec<Delivered>> {
    let payload: Value = serde_json::from_slice(body).ok()?;
    payload
        .get("alerts")?
        .as_array()?
        .iter()
        .map(|alert| {
            Some(Delivered {
                labels: alert.get("labels")?.as_object()?.clone(),
                annotations: alert
                    .get("annotations")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                status: alert.get("status")?.as_str()?.to_string(),
            })
        })
        .collect()
}
