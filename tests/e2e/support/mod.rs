//! Shared test support: certificates, servers, and an exporter started in-process.

#![allow(dead_code)]

pub mod pki;
pub mod tls_server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cert_expiry_exporter::app::{self, Exporter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An exporter running on a temporary config, stopped when dropped with its directory.
pub struct Harness {
    pub exporter: Option<Exporter>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Harness {
    /// Writes `yaml` (with `{dir}` replaced by the temp dir) and starts an exporter on it.
    pub async fn start(yaml: &str) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        Harness::start_in(dir, yaml).await
    }

    /// Like [`Harness::start`], in a directory prepared by the caller (CA files and the like).
    pub async fn start_in(dir: tempfile::TempDir, yaml: &str) -> Harness {
        let config_path = dir.path().join("config.yaml");
        let yaml = yaml.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&config_path, yaml).expect("write config");
        let loaded = app::load(&config_path).unwrap_or_else(|e| panic!("config: {e}"));
        let exporter = Exporter::start(&config_path, loaded, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("start exporter");
        Harness {
            exporter: Some(exporter),
            dir,
            config_path,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.exporter.as_ref().expect("running").local_addr
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Scrapes `/metrics` (text format).
    pub async fn scrape(&self) -> Metrics {
        Metrics::parse(&get(self.addr(), "/metrics", &[]).await.body)
    }

    /// Scrapes until every named target has been probed `probes` times, or panics after `limit`.
    pub async fn wait_for_probes(&self, targets: &[&str], limit: Duration) -> Metrics {
        let start = Instant::now();
        loop {
            let m = self.scrape().await;
            if targets.iter().all(|t| {
                m.get("cert_probe_timestamp_seconds", &[("target", t)])
                    .is_some()
            }) {
                return m;
            }
            if start.elapsed() > limit {
                panic!(
                    "targets {targets:?} not probed within {limit:?}; last scrape:\n{}",
                    m.text
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Scrapes until `check` holds, or panics after `limit`.
    pub async fn wait_until(&self, limit: Duration, check: impl Fn(&Metrics) -> bool) -> Metrics {
        let start = Instant::now();
        loop {
            let m = self.scrape().await;
            if check(&m) {
                return m;
            }
            if start.elapsed() > limit {
                panic!(
                    "condition not met within {limit:?}; last scrape:\n{}",
                    m.text
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(e) = self.exporter.take() {
            e.shutdown().await;
        }
    }
}

/// An HTTP response, as far as the tests care.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub raw_body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 request over a fresh connection (`Connection: close`).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    parse_response(&raw)
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers).await
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        raw_body: body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// One parsed sample.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` text.
pub struct Metrics {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(parse_sample)
            .collect();
        Metrics {
            text: text.to_string(),
            samples,
        }
    }

    /// Samples of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the single sample matching; `None` when absent; panics when ambiguous.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(
            found.len() <= 1,
            "{name} {labels:?} matches {} samples:\n{found:#?}",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    /// The value, which must be present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in:\n{}", self.text))
    }

    /// The `reason` labels of `name` for a target, sorted.
    pub fn reasons(&self, name: &str, target: &str) -> Vec<String> {
        let mut r: Vec<String> = self
            .find(name, &[("target", target)])
            .iter()
            .filter_map(|s| s.labels.get("reason").cloned())
            .collect();
        r.sort();
        r
    }
}

fn parse_sample(line: &str) -> Sample {
    let (name_end, labels, rest) = match line.find('{') {
        Some(open) => {
            let mut labels = BTreeMap::new();
            let bytes = line.as_bytes();
            let mut i = open + 1;
            while bytes[i] != b'}' {
                let eq = line[i..].find('=').expect("=") + i;
                let key = line[i..eq].trim_start_matches(',').to_string();
                let mut j = eq + 2; // skip ="
                let mut value = String::new();
                while bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        j += 1;
                        value.push(match bytes[j] {
                            b'n' => '\n',
                            c => c as char,
                        });
                    } else {
                        let ch = line[j..].chars().next().expect("char");
                        value.push(ch);
                        j += ch.len_utf8() - 1;
                    }
                    j += 1;
                }
                labels.insert(key, value);
                i = j + 1;
                if bytes[i] == b',' {
                    i += 1;
                }
            }
            (open, labels, &line[i + 1..])
        }
        None => {
            let sp = line.find(' ').expect("space");
            (sp, BTreeMap::new(), &line[sp..])
        }
    };
    let value = rest.split_whitespace().next().expect("value");
    Sample {
        name: line[..name_end].to_string(),
        labels,
        value: match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        },
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}
