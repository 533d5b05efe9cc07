//! Kubernetes targets: certificates in Secrets (and ConfigMaps) read from the API server.
//!
//! Each target runs one kube-rs [`watcher`] per (namespace, Secret type), plus one per namespace
//! for ConfigMaps when asked: a paginated LIST, then a WATCH from its resourceVersion, resumed
//! after a dropped connection, relisted after `410 Gone`, with backoff while the API server is
//! away. Selection happens on the server — `type=` as a field selector, the label selector as
//! given, a namespaced path per namespace — so Secrets of other types never cross the wire.
//!
//! An object is parsed when it arrives ([`decode`]) and only its facts are kept: one
//! [`ProbeResult`] per data key the `keys` globs match, labelled by namespace, name and key. The
//! Secret itself is dropped at once. A deleted object's results go with the next publish; a
//! modified one is parsed again. Every watch also has a result of its own (`watch` label): no
//! failure while the API server answers it, else why not (a 403 in one namespace leaves the
//! others reported). The objects a watch had stay reported while it is down, until its relist
//! says otherwise.
//!
//! Results are published whole (the callback replaces the target's snapshot) after each batch
//! of events that changed something, so a renewed Secret's new expiry is on `/metrics` as soon
//! as its watch event is read.

pub mod decode;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::FutureExt;
use futures_util::stream::{self, Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use kube::Client;

use super::{Instance, KubeKind, Phase, ProbeFailure, ProbeReason, ProbeResult};
use crate::config::{KubeSource, Target};
use crate::x509::TrustStore;

/// How often a watch that failed is asked again, cheaply (one object's metadata), whether the
/// API server answers it: a resumed watch with no news says nothing, so this is what turns a
/// down watch back up.
const RECHECK: Duration = Duration::from_secs(5);
/// How long to wait before making the client again when it could not be made.
const CLIENT_RETRY: Duration = Duration::from_secs(10);

/// What the watch hands over: every result of the target, replacing the previous set.
pub type Publish<'a> = dyn Fn(Vec<ProbeResult>) + Send + Sync + 'a;

/// Watches `source` forever, publishing every change.
pub async fn watch(source: &KubeSource, trust: Arc<TrustStore>, publish: &Publish<'_>) {
    loop {
        match client(source).await {
            Ok(client) => return run(client, source, &trust, publish, false).await,
            Err(failure) => {
                publish(vec![watch_result(&config_label(), Some(failure))]);
                tokio::time::sleep(CLIENT_RETRY).await;
            }
        }
    }
}

/// Lists `source` once (every watch's initial LIST), within the target's timeout: what the
/// `check` command and a one-shot probe report.
pub async fn list_once(
    target: &Target,
    source: &KubeSource,
    trust: Arc<TrustStore>,
) -> Vec<ProbeResult> {
    let last = std::sync::Mutex::new(Vec::new());
    let work = async {
        match client(source).await {
            Ok(client) => {
                let publish = |results: Vec<ProbeResult>| {
                    *last.lock().unwrap_or_else(|e| e.into_inner()) = results;
                };
                run(client, source, &trust, &publish, true).await;
            }
            Err(failure) => {
                *last.lock().unwrap_or_else(|e| e.into_inner()) =
                    vec![watch_result(&config_label(), Some(failure))];
            }
        }
    };
    let timed_out = tokio::time::timeout(target.timeout, work).await.is_err();
    let mut results = last.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = &source.object_name {
        one_object(&mut results, source, name);
    }
    if timed_out {
        results.push(watch_result(
            "listing",
            Some(ProbeFailure::new(
                ProbeReason::Timeout,
                format!(
                    "listing did not finish within the {} timeout",
                    humantime::format_duration(target.timeout)
                ),
            )),
        ));
    }
    results
}

/// For one named Secret: its keys' results only, or why there are none (a watch that failed,
/// or no such Secret with a key that is read).
fn one_object(results: &mut Vec<ProbeResult>, source: &KubeSource, name: &str) {
    results.retain(|r| {
        !matches!(r.instance.as_deref(), Some(Instance::KubeWatch(_))) || r.failure.is_some()
    });
    if results.is_empty() {
        let namespace = source.namespaces.first().map_or("", String::as_str);
        results.push(watch_result(
            &format!("secrets/{namespace}"),
            Some(ProbeFailure::new(
                ProbeReason::KubernetesNotFound,
                format!(
                    "no Secret {namespace}/{name} with a key matching {}",
                    source.keys.join(", ")
                ),
            )),
        ));
    }
}

/// The client, from the kubeconfig file or the in-cluster service account.
async fn client(source: &KubeSource) -> Result<Client, ProbeFailure> {
    let config = match &source.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                ProbeFailure::new(
                    ProbeReason::KubernetesConfig,
                    format!("kubeconfig {}: {e}", path.display()),
                )
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| {
                    ProbeFailure::new(
                        ProbeReason::KubernetesConfig,
                        format!("kubeconfig {}: {e}", path.display()),
                    )
                })?
        }
        None => kube::Config::incluster().map_err(|e| {
            ProbeFailure::new(
                ProbeReason::KubernetesConfig,
                format!("in-cluster configuration (no kubeconfig given): {e}"),
            )
        })?,
    };
    Client::try_from(config).map_err(|e| {
        ProbeFailure::new(
            ProbeReason::KubernetesConfig,
            format!("making the client: {e}"),
        )
    })
}

fn config_label() -> String {
    "client".to_string()
}

/// One object's results, keyed by (namespace, name).
type Objects = BTreeMap<(String, String), Vec<ProbeResult>>;

/// One watch: what it selects, what it has seen, whether it is up.
struct Watch {
    /// The `watch` label: `secrets/<namespace or *>/type=<type>` or `configmaps/<namespace or *>`.
    label: String,
    objects: Objects,
    /// The objects of a LIST in progress (between `Init` and `InitDone`).
    listing: Option<Objects>,
    /// Why the last request failed, until one succeeds.
    failure: Option<ProbeFailure>,
    /// It finished a LIST or failed at least once: its part of the picture is known.
    settled: bool,
}

/// The same selection as a watch, one object's metadata: whether a down watch is up again.
enum Recheck {
    Secrets(Api<Secret>, ListParams),
    ConfigMaps(Api<ConfigMap>, ListParams),
}

impl Recheck {
    async fn run(&self) -> Result<(), kube::Error> {
        match self {
            Recheck::Secrets(api, lp) => api.list_metadata(lp).await.map(|_| ()),
            Recheck::ConfigMaps(api, lp) => api.list_metadata(lp).await.map(|_| ()),
        }
    }
}

/// What one watch said: an object's new results, its removal, a LIST's boundaries, a failure.
enum Said {
    Apply((String, String), Vec<ProbeResult>),
    Delete((String, String)),
    Init,
    InitApply((String, String), Vec<ProbeResult>),
    InitDone,
    Failed(ProbeFailure),
    /// Nothing to report: a `410 Gone`, after which the watcher lists again at once.
    Relisting,
}

type Events = Pin<Box<dyn Stream<Item = (usize, Said)> + Send>>;

/// The watches of `source`, how to recheck each, and their event streams (each tagged with its
/// index).
fn watches(
    client: &Client,
    source: &KubeSource,
    trust: &Arc<TrustStore>,
) -> (Vec<Watch>, Vec<Recheck>, Vec<Events>) {
    let namespaces: Vec<Option<&str>> = if source.namespaces.is_empty() {
        vec![None]
    } else {
        source.namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let mut watches = Vec::new();
    let mut rechecks = Vec::new();
    let mut streams: Vec<Events> = Vec::new();
    // No type: any type (one watch), as `check k8s://…` reads one Secret whatever its type.
    let types: Vec<Option<&str>> = if source.secret_types.is_empty() {
        vec![None]
    } else {
        source
            .secret_types
            .iter()
            .map(|t| Some(t.as_str()))
            .collect()
    };
    for ns in &namespaces {
        for secret_type in &types {
            let fields = field_selector(source, *secret_type);
            let api: Api<Secret> = match ns {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            };
            let config = watcher_config(source, fields.as_deref());
            let index = watches.len();
            let (source_c, trust_c) = (source.clone(), trust.clone());
            let events = watcher::watcher(api.clone(), config)
                .backoff(backoff())
                .map(move |event| {
                    (
                        index,
                        said(event, |s: Secret| secret_results(&s, &source_c, &trust_c)),
                    )
                });
            streams.push(Box::pin(events));
            let label = match secret_type {
                Some(t) => format!("secrets/{}/type={t}", ns.unwrap_or("*")),
                None => format!("secrets/{}", ns.unwrap_or("*")),
            };
            watches.push(Watch::new(label));
            rechecks.push(Recheck::Secrets(
                api,
                recheck_params(source, fields.as_deref()),
            ));
        }
        if source.configmaps {
            let api: Api<ConfigMap> = match ns {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            };
            let index = watches.len();
            let (source_c, trust_c) = (source.clone(), trust.clone());
            let events = watcher::watcher(api.clone(), watcher_config(source, None))
                .backoff(backoff())
                .map(move |event| {
                    (
                        index,
                        said(event, |c: ConfigMap| {
                            configmap_results(&c, &source_c, &trust_c)
                        }),
                    )
                });
            streams.push(Box::pin(events));
            watches.push(Watch::new(format!("configmaps/{}", ns.unwrap_or("*"))));
            rechecks.push(Recheck::ConfigMaps(api, recheck_params(source, None)));
        }
    }
    (watches, rechecks, streams)
}

/// The field selector of a Secret watch: its type, and the one name `check` asks for.
fn field_selector(source: &KubeSource, secret_type: Option<&str>) -> Option<String> {
    let parts: Vec<String> = secret_type
        .map(|t| format!("type={t}"))
        .into_iter()
        .chain(
            source
                .object_name
                .iter()
                .map(|n| format!("metadata.name={n}")),
        )
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

fn watcher_config(source: &KubeSource, fields: Option<&str>) -> watcher::Config {
    let mut config = watcher::Config::default().page_size(source.page_size);
    if let Some(fields) = fields {
        config = config.fields(fields);
    }
    if let Some(labels) = &source.label_selector {
        config = config.labels(labels);
    }
    config
}

fn recheck_params(source: &KubeSource, fields: Option<&str>) -> ListParams {
    let mut lp = ListParams::default().limit(1);
    if let Some(fields) = fields {
        lp = lp.fields(fields);
    }
    if let Some(labels) = &source.label_selector {
        lp = lp.labels(labels);
    }
    lp
}

/// Half a second doubling to ten, each wait jittered by up to a quarter; reset once a watch
/// is healthy again. (kube-rs's default waits up to 30 s, long for an exporter whose series say
/// whether the API server answers.)
fn backoff() -> Doubling {
    Doubling { next: BACKOFF_MIN }
}

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

struct Doubling {
    next: Duration,
}

impl Iterator for Doubling {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        Some(wait.mul_f64(1.0 - fastrand::f64() / 4.0))
    }
}

impl Backoff for Doubling {
    fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
}

/// Turns a watcher event into what this module keeps: the parsed results, never the object.
fn said<K: kube::Resource>(
    event: Result<watcher::Event<K>, watcher::Error>,
    parse: impl Fn(K) -> Vec<ProbeResult>,
) -> Said {
    let key = |o: &K| {
        let meta = o.meta();
        (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    };
    match event {
        Ok(watcher::Event::Apply(o)) => Said::Apply(key(&o), parse(o)),
        Ok(watcher::Event::Delete(o)) => Said::Delete(key(&o)),
        Ok(watcher::Event::Init) => Said::Init,
        Ok(watcher::Event::InitApply(o)) => Said::InitApply(key(&o), parse(o)),
        Ok(watcher::Event::InitDone) => Said::InitDone,
        // The history the watch resumed from is compacted: not a failure, the LIST follows.
        Err(watcher::Error::WatchError(status)) if status.code == 410 => Said::Relisting,
        Err(e) => Said::Failed(watch_failure(&e)),
    }
}

impl Watch {
    fn new(label: String) -> Watch {
        Watch {
            label,
            objects: Objects::new(),
            listing: None,
            failure: None,
            settled: false,
        }
    }

    /// Applies one event; true when what is reported changed.
    fn apply(&mut self, said: Said) -> bool {
        let was_down = self.failure.is_some();
        if !matches!(said, Said::Failed(_) | Said::Relisting) {
            self.failure = None;
        }
        match said {
            Said::Relisting => return false,
            Said::Apply(key, results) => {
                self.objects.insert(key, results);
            }
            Said::Delete(key) => {
                self.objects.remove(&key);
            }
            Said::Init => {
                self.listing = Some(Objects::new());
                return was_down;
            }
            Said::InitApply(key, results) => {
                self.listing.get_or_insert_default().insert(key, results);
                return was_down;
            }
            Said::InitDone => {
                self.objects = self.listing.take().unwrap_or_default();
                self.settled = true;
            }
            Said::Failed(failure) => {
                let changed = self.failure.as_ref() != Some(&failure);
                tracing::warn!(watch = %self.label, reason = failure.reason.as_str(), error = %failure.detail, "kubernetes watch failed");
                self.failure = Some(failure);
                let first = !self.settled;
                self.settled = true;
                return changed || first;
            }
        }
        true
    }
}

/// The watch loop; with `once`, it returns when every watch has listed or failed once.
async fn run(
    client: Client,
    source: &KubeSource,
    trust: &Arc<TrustStore>,
    publish: &Publish<'_>,
    once: bool,
) {
    let (mut watches, rechecks, streams) = watches(&client, source, trust);
    let mut events = stream::select_all(streams);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    loop {
        tokio::select! {
            next = events.next() => {
                let Some((index, said)) = next else { return };
                dirty |= watches[index].apply(said);
                // Everything already waiting goes into the same publish.
                while let Some(Some((index, said))) = events.next().now_or_never() {
                    dirty |= watches[index].apply(said);
                }
            }
            _ = recheck.tick() => {
                let down = watches.iter_mut().zip(&rechecks).filter(|(w, _)| w.failure.is_some());
                for (w, recheck) in down {
                    // Bounded, so that an API server that does not answer at all cannot hold
                    // back the events of the other watches.
                    let answer = tokio::time::timeout(RECHECK, recheck.run()).await;
                    match answer {
                        Ok(Ok(())) => {
                            w.failure = None;
                            dirty = true;
                        }
                        Err(_) => {}
                        Ok(Err(e)) => {
                            let failure = client_failure(&e);
                            dirty |= w.failure.as_ref() != Some(&failure);
                            w.failure = Some(failure);
                        }
                    }
                }
            }
        }
        let settled = watches.iter().all(|w| w.settled);
        if dirty && settled {
            publish(results(&watches));
            dirty = false;
            if once {
                return;
            }
        }
    }
}

/// Every object's results, then one result per watch.
fn results(watches: &[Watch]) -> Vec<ProbeResult> {
    let objects: usize = watches
        .iter()
        .map(|w| w.objects.values().map(Vec::len).sum::<usize>())
        .sum();
    let mut out = Vec::with_capacity(objects + watches.len());
    for w in watches {
        for results in w.objects.values() {
            out.extend(results.iter().cloned());
        }
    }
    for w in watches {
        out.push(watch_result(&w.label, w.failure.clone()));
    }
    out
}

/// The result of one watch: up, or its failure.
fn watch_result(label: &str, failure: Option<ProbeFailure>) -> ProbeResult {
    let mut result = ProbeResult::new();
    result.instance = Some(Box::new(Instance::KubeWatch(label.to_string())));
    result.failure = failure;
    result.phases.push((Phase::Total, Duration::ZERO));
    result.finished_at = SystemTime::now();
    result
}

/// The reason of a watcher error.
fn watch_failure(e: &watcher::Error) -> ProbeFailure {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => client_failure(e),
        watcher::Error::WatchError(status) => api_failure(status.code, &status.message),
        watcher::Error::NoResourceVersion => {
            ProbeFailure::new(ProbeReason::KubernetesApi, e.to_string())
        }
    }
}

fn client_failure(e: &kube::Error) -> ProbeFailure {
    match e {
        kube::Error::Api(status) => api_failure(status.code, &status.message),
        kube::Error::Auth(e) => {
            ProbeFailure::new(ProbeReason::KubernetesConfig, format!("credentials: {e}"))
        }
        other => ProbeFailure::new(ProbeReason::KubernetesUnreachable, error_chain(other)),
    }
}

fn api_failure(code: u16, message: &str) -> ProbeFailure {
    let reason = match code {
        403 => ProbeReason::KubernetesForbidden,
        401 => ProbeReason::KubernetesUnauthorized,
        _ => ProbeReason::KubernetesApi,
    };
    ProbeFailure::new(reason, format!("HTTP {code}: {message}"))
}

/// An error with its sources, `a: b: c`, as the connection errors hide the useful part inside.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The results of a Secret's keys that `source` reads.
fn secret_results(secret: &Secret, source: &KubeSource, trust: &TrustStore) -> Vec<ProbeResult> {
    let meta = &secret.metadata;
    let (ns, name) = (
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
    );
    let Some(data) = &secret.data else {
        return Vec::new();
    };
    data.iter()
        .filter(|(key, _)| source.wants_key(key))
        .map(|(key, bytes)| timed(KubeKind::Secret, ns, name, key, &bytes.0, trust))
        .collect()
}

/// The results of a ConfigMap's keys (text and binary) that `source` reads.
fn configmap_results(map: &ConfigMap, source: &KubeSource, trust: &TrustStore) -> Vec<ProbeResult> {
    let meta = &map.metadata;
    let (ns, name) = (
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
    );
    let text = map.data.iter().flatten().map(|(k, v)| (k, v.as_bytes()));
    let binary = map
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k, v.0.as_slice()));
    text.chain(binary)
        .filter(|(key, _)| source.wants_key(key))
        .map(|(key, bytes)| timed(KubeKind::ConfigMap, ns, name, key, bytes, trust))
        .collect()
}

fn timed(
    kind: KubeKind,
    ns: &str,
    name: &str,
    key: &str,
    bytes: &[u8],
    trust: &TrustStore,
) -> ProbeResult {
    let started = Instant::now();
    let mut result = decode::key_result(kind, ns, name, key, bytes, trust);
    result.phases.push((Phase::Read, started.elapsed()));
    result.phases.push((Phase::Total, started.elapsed()));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> (String, String) {
        ("prod".to_string(), name.to_string())
    }

    fn one(name: &str) -> Vec<ProbeResult> {
        let trust = TrustStore::from_anchors(Vec::new());
        vec![decode::key_result(
            KubeKind::Secret,
            "prod",
            name,
            "tls.crt",
            b"",
            &trust,
        )]
    }

    fn names(w: &Watch) -> Vec<&str> {
        w.objects.keys().map(|(_, n)| n.as_str()).collect()
    }

    fn failure(reason: ProbeReason) -> ProbeFailure {
        ProbeFailure::new(reason, "x".to_string())
    }

    #[test]
    fn a_list_replaces_what_was_known_only_when_it_is_complete() {
        let mut w = Watch::new("secrets/prod".into());
        assert!(!w.settled);
        w.apply(Said::Init);
        w.apply(Said::InitApply(key("a"), one("a")));
        w.apply(Said::InitApply(key("b"), one("b")));
        assert!(
            names(&w).is_empty(),
            "nothing shown before the list is done"
        );
        assert!(w.apply(Said::InitDone));
        assert!(w.settled);
        assert_eq!(names(&w), ["a", "b"]);
        // A relist (after 410 Gone): b was deleted meanwhile; a stays shown until the end.
        assert!(!w.apply(Said::Relisting));
        w.apply(Said::Init);
        w.apply(Said::InitApply(key("a"), one("a")));
        assert_eq!(names(&w), ["a", "b"]);
        w.apply(Said::InitDone);
        assert_eq!(names(&w), ["a"]);
    }

    #[test]
    fn events_apply_and_delete_and_a_failure_lasts_until_an_answer() {
        let mut w = Watch::new("secrets/prod".into());
        w.apply(Said::Init);
        w.apply(Said::InitDone);
        assert!(w.apply(Said::Apply(key("a"), one("a"))));
        assert!(w.apply(Said::Failed(failure(ProbeReason::KubernetesUnreachable))));
        // The same failure again changes nothing shown; another one does.
        assert!(!w.apply(Said::Failed(failure(ProbeReason::KubernetesUnreachable))));
        assert!(w.apply(Said::Failed(failure(ProbeReason::KubernetesForbidden))));
        assert_eq!(
            names(&w),
            ["a"],
            "what was read stays while the watch is down"
        );
        assert!(w.apply(Said::Delete(key("a"))));
        assert!(w.failure.is_none(), "an event is an answer");
        assert!(names(&w).is_empty());
        let all = results(&[w]);
        assert_eq!(all.len(), 1);
        assert!(all[0].success(), "the watch itself is up");
    }

    #[test]
    fn a_first_failure_settles_the_watch_so_the_others_are_published() {
        let mut w = Watch::new("secrets/denied".into());
        assert!(w.apply(Said::Failed(failure(ProbeReason::KubernetesForbidden))));
        assert!(w.settled);
        let all = results(&[w]);
        assert!(!all[0].success());
        assert_eq!(
            all[0].failure.as_ref().map(|f| f.reason),
            Some(ProbeReason::KubernetesForbidden)
        );
    }

    #[test]
    fn selectors_are_built_from_the_source() {
        let config = crate::config::Config::parse(
            "targets:\n  - kubernetes:\n      label_selector: team=web\n",
        )
        .unwrap();
        let crate::config::TargetKind::Kubernetes(mut source) = config.targets[0].kind.clone()
        else {
            panic!()
        };
        assert_eq!(
            field_selector(&source, Some("kubernetes.io/tls")).as_deref(),
            Some("type=kubernetes.io/tls")
        );
        assert_eq!(field_selector(&source, None), None);
        source.object_name = Some("web".into());
        assert_eq!(
            field_selector(&source, Some("Opaque")).as_deref(),
            Some("type=Opaque,metadata.name=web")
        );
        let config = watcher_config(&source, Some("type=Opaque"));
        assert_eq!(config.label_selector.as_deref(), Some("team=web"));
        assert_eq!(config.field_selector.as_deref(), Some("type=Opaque"));
        assert_eq!(config.page_size, Some(500));
    }
}
