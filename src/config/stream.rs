//! Targets resolved one at a time, as serde-saphyr reads them.
//!
//! serde-saphyr reads the text as a stream of events (it builds no document tree), but a
//! `Vec<Spanned<RawTarget>>` would still hold every parsed target until the last one is read:
//! at 100,000 targets that is two kilobytes of `RawTarget` each, and glibc keeps the pages that
//! peak touched for the probe state laid out afterwards (docs/performance.md §8). So while
//! [`Config::parse`](super::Config::parse) reads a file, the `targets:` list is read by
//! [`RawTargets`]'s visitor, which resolves each entry against the `defaults:` block the moment
//! it is read and drops its raw form: only one `RawTarget` is alive at a time.
//!
//! Errors are exactly those of reading the whole list first and resolving it afterwards: a
//! target's mistake is kept, not returned, so that a syntax error anywhere in the file still wins
//! (serde's errors come first, as before); `Config::from_raw` returns the kept one when it comes
//! to the targets, after the checks that precede them. The entries after a mistake are read (for
//! their syntax) but not resolved.
//!
//! The state lives in a thread-local for the length of one parse, because serde's `Deserialize`
//! has no other way in, and the derived `RawConfig` keeps its own field handling (unknown and
//! duplicate keys, their messages and locations). A `defaults:` block written *after* `targets:`
//! is only known once the targets have been read; then the file is read a second time with that
//! block given in advance (the first pass's targets are thrown away), which costs time, not
//! memory.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::raw::{RawConfig, RawDefaults, RawTarget};
use super::reach::ReachDefaults;
use super::{acme, at, metrics, resolve_target, Target};

/// The `targets:` list: resolved as it was read (inside `Config::parse`), or held whole (when
/// [`RawConfig::parse`] is called on its own).
#[derive(Debug)]
pub enum RawTargets {
    /// Every entry as written.
    Held(Vec<Spanned<RawTarget>>),
    /// Every entry resolved as it was read.
    Resolved(Box<Resolved>),
}

/// The `targets:` list after it was resolved entry by entry.
#[derive(Debug)]
pub struct Resolved {
    /// How many entries the list has.
    pub len: usize,
    /// The `defaults:` reach settings the entries were resolved with, or their error; `None`
    /// when no entry needed them (an empty list). Kept so that the files they name (the client
    /// certificate) are read once.
    pub reach_defaults: Option<Result<ReachDefaults, (Location, String)>>,
    /// The targets in file order, or the first mistake, worded as `Config::from_raw` words it.
    pub outcome: Result<Vec<Arc<Target>>, String>,
}

impl RawTargets {
    /// How many entries the list has.
    pub fn len(&self) -> usize {
        match self {
            RawTargets::Held(list) => list.len(),
            RawTargets::Resolved(resolved) => resolved.len,
        }
    }

    /// Whether the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty list.
    pub fn empty() -> RawTargets {
        RawTargets::Held(Vec::new())
    }
}

/// The state of one parse.
struct Stream {
    /// The `defaults:` block, once read (or given in advance on a second pass).
    defaults: Option<RawDefaults>,
    /// Whether `defaults` was given in advance, so that the block met in the text is ignored.
    given: bool,
    /// Whether the `targets:` list has been met.
    targets_met: bool,
    /// Whether a `defaults:` block came after the targets were resolved without it.
    defaults_late: bool,
}

thread_local! {
    static CURRENT: RefCell<Option<Stream>> = const { RefCell::new(None) };
}

/// Parses `text` with targets resolved as they are read. Returns the configuration and whether
/// its `defaults:` block came after `targets:` (the targets were then resolved without it).
fn parse_once(text: &str, given: Option<RawDefaults>) -> Result<(RawConfig, bool), String> {
    let stream = Stream {
        given: given.is_some(),
        defaults: given,
        targets_met: false,
        defaults_late: false,
    };
    CURRENT.with(|c| *c.borrow_mut() = Some(stream));
    let parsed = RawConfig::parse(text);
    let stream = CURRENT.with(|c| c.borrow_mut().take());
    let late = stream.is_some_and(|s| s.defaults_late);
    parsed.map(|raw| (raw, late))
}

/// Parses `text`, resolving each target as it is read (see the module documentation).
pub(super) fn parse(text: &str) -> Result<RawConfig, String> {
    let (raw, late) = parse_once(text, None)?;
    if !late {
        return Ok(raw);
    }
    // `defaults:` came after `targets:`: read again, with the block known from the start.
    let defaults = raw.defaults.clone().unwrap_or_default();
    drop(raw);
    parse_once(text, Some(defaults)).map(|(raw, _)| raw)
}

/// Called with the `defaults:` block as soon as it is read.
pub(super) fn defaults_read(defaults: Option<&RawDefaults>) {
    CURRENT.with(|c| {
        if let Some(stream) = c.borrow_mut().as_mut() {
            let Some(defaults) = defaults else { return };
            if stream.given {
                return;
            }
            if stream.targets_met {
                stream.defaults_late = true;
            } else {
                stream.defaults = Some(defaults.clone());
            }
        }
    });
}

impl<'de> Deserialize<'de> for RawTargets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawTargets, D::Error> {
        deserializer.deserialize_seq(TargetsVisitor)
    }
}

struct TargetsVisitor;

impl<'de> Visitor<'de> for TargetsVisitor {
    type Value = RawTargets;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What serde's `Vec` visitor says, so that the message is the one it was.
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawTargets, A::Error> {
        let defaults = CURRENT.with(|c| {
            c.borrow_mut().as_mut().map(|stream| {
                stream.targets_met = true;
                stream.defaults.clone().unwrap_or_default()
            })
        });
        let Some(defaults) = defaults else {
            let mut list = Vec::new();
            while let Some(entry) = seq.next_element()? {
                list.push(entry);
            }
            return Ok(RawTargets::Held(list));
        };
        let mut resolver = Resolver::new(defaults);
        while let Some(entry) = seq.next_element::<Spanned<RawTarget>>()? {
            resolver.push(entry);
        }
        Ok(RawTargets::Resolved(Box::new(resolver.finish())))
    }
}

/// Resolves targets one by one against one `defaults:` block, keeping the first mistake.
pub(super) struct Resolver {
    defaults: RawDefaults,
    /// Whether the defaults pass the checks `Config::from_raw` makes before the targets.
    defaults_ok: Option<bool>,
    reach_defaults: Option<Result<ReachDefaults, (Location, String)>>,
    seen: Seen,
    targets: Vec<Arc<Target>>,
    error: Option<String>,
    len: usize,
}

impl Resolver {
    pub(super) fn new(defaults: RawDefaults) -> Resolver {
        Resolver {
            defaults,
            defaults_ok: None,
            reach_defaults: None,
            seen: Seen::default(),
            targets: Vec::new(),
            error: None,
            len: 0,
        }
    }

    /// Resolves the next entry of the list, unless an earlier one was refused.
    pub(super) fn push(&mut self, raw_target: Spanned<RawTarget>) {
        let index = self.len;
        self.len += 1;
        if self.error.is_some() {
            return;
        }
        let defaults_ok = *self.defaults_ok.get_or_insert_with(|| {
            // The defaults' own mistakes are reported before any target's by
            // `Config::from_raw`; with one, no target is resolved.
            let reach = ReachDefaults::from_raw(self.defaults.reach());
            let ok = reach.is_ok()
                && self
                    .defaults
                    .metrics
                    .as_ref()
                    .is_none_or(|m| metrics::check(m).is_ok())
                && self
                    .defaults
                    .acme_directory
                    .as_ref()
                    .is_none_or(|d| acme::check(d).is_ok());
            self.reach_defaults = Some(reach);
            ok
        });
        let Some(Ok(reach_defaults)) = self.reach_defaults.as_ref().filter(|_| defaults_ok) else {
            self.error = Some("the defaults are refused (reported before the targets)".into());
            return;
        };
        match resolve_entry(
            &self.defaults,
            reach_defaults,
            &mut self.seen,
            index,
            raw_target,
        ) {
            Ok(target) => self.targets.push(target),
            Err(e) => self.error = Some(e),
        }
    }

    fn finish(self) -> Resolved {
        Resolved {
            len: self.len,
            reach_defaults: self.reach_defaults,
            outcome: match self.error {
                Some(e) => Err(e),
                None => Ok(self.targets),
            },
        }
    }
}

/// What the entries of one `targets:` list resolved so far leave for the next.
#[derive(Default)]
pub(super) struct Seen {
    /// The names taken.
    names: HashSet<String>,
    /// The entry before, whose shared settings the next one takes when they are equal.
    last: Option<Arc<Target>>,
}

/// Points `mine` at `theirs` when they hold equal values, so that one copy serves both.
fn share<T: PartialEq + ?Sized>(mine: &mut Arc<T>, theirs: &Arc<T>) {
    if !Arc::ptr_eq(mine, theirs) && **mine == **theirs {
        *mine = Arc::clone(theirs);
    }
}

/// Makes `target` share with `last` the settings most targets inherit alike from `defaults:`
/// (each target's are built on their own), so that 100,000 targets hold one copy of each.
fn share_settings(target: &mut Target, last: &Target) {
    if let (Some(mine), Some(theirs)) = (&mut target.ca_file, &last.ca_file) {
        share(mine, theirs);
    }
    share(&mut target.labels, &last.labels);
    share(&mut target.metrics, &last.metrics);
}

/// Resolves entry `index` of the `targets:` list; the error is the whole message.
pub(super) fn resolve_entry(
    defaults: &RawDefaults,
    reach_defaults: &ReachDefaults,
    seen: &mut Seen,
    index: usize,
    raw_target: Spanned<RawTarget>,
) -> Result<Arc<Target>, String> {
    let name_at = raw_target
        .value
        .name
        .as_ref()
        .map(|n| n.referenced)
        .unwrap_or(raw_target.referenced);
    let mut target = resolve_target(defaults, reach_defaults, raw_target)
        .map_err(|(loc, e)| format!("{}: targets[{index}].{e}", at(&loc)))?;
    if !seen.names.insert(target.name.clone()) {
        return Err(format!(
            "{}: targets[{index}].name: {:?} is used by an earlier target; names must be unique",
            at(&name_at),
            target.name
        ));
    }
    if let Some(last) = &seen.last {
        share_settings(&mut target, last);
    }
    let target = Arc::new(target);
    seen.last = Some(Arc::clone(&target));
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    /// The configuration as it was read before targets were streamed: the whole list held,
    /// then resolved.
    fn held(yaml: &str) -> Result<Config, String> {
        let raw = RawConfig::parse(yaml)?;
        assert!(
            matches!(
                raw.targets.as_ref().map(|t| &t.value),
                None | Some(RawTargets::Held(_))
            ),
            "outside a stream the list is held"
        );
        Config::from_raw(raw)
    }

    fn streamed(yaml: &str) -> Result<Config, String> {
        Config::parse(yaml).map_err(|e| e.message)
    }

    #[test]
    fn streamed_targets_are_resolved_as_they_are_read() {
        let yaml = "defaults: {interval: 1m}\ntargets:\n  - address: a.example:443\n  - address: b.example:443\n";
        let raw = parse(yaml).unwrap();
        let Some(RawTargets::Resolved(resolved)) = raw.targets.map(|t| t.value) else {
            panic!("inside Config::parse the list is resolved as it is read");
        };
        let targets = resolved.outcome.unwrap();
        assert_eq!(resolved.len, 2);
        assert_eq!(targets[1].name, "b.example:443");
        assert_eq!(targets[1].interval, std::time::Duration::from_secs(60));
        assert!(
            CURRENT.with(|c| c.borrow().is_none()),
            "nothing left behind"
        );
    }

    /// Every outcome, good or bad, is the one reading the whole list first gave, whichever
    /// order the mistakes come in.
    #[test]
    fn streaming_gives_what_holding_the_list_gave() {
        let cases = [
            // Fine, with the defaults before and after the targets.
            "defaults: {interval: 1m, labels: {env: prod}}\ntargets:\n  - address: a.example:443\n  - {name: b, address: b.example:443, labels: {team: x}}\n",
            "targets:\n  - address: a.example:443\n  - {name: b, address: b.example:443}\ndefaults:\n  interval: 1m\n  legacy_protocols: false\n  metrics: {level: full}\n",
            "targets:\n  - address: a.example:443\ndefaults:\n",
            // A target's mistake, then a syntax error further on: the syntax error wins.
            "targets:\n  - address: a.example\n  - address: b.example:443\n    colour: blue\n",
            "targets:\n  - address: a.example\ndns: {name_servers: [1.1.1.1]}\nbogus: 1\n",
            // Two target mistakes: the first.
            "targets:\n  - address: a.example:443\n  - address: b.example\n  - address: a.example:443\n",
            "targets:\n  - address: a.example:443\n  - address: a.example:443\n  - address: b.example\n",
            // A mistake in the defaults and in a target, the defaults before or after.
            "defaults: {proxy_url: 'ftp://x'}\ntargets:\n  - address: b.example\n",
            "targets:\n  - address: b.example\ndefaults: {proxy_url: 'ftp://x'}\n",
            "defaults: {metrics: {phase: all}}\ntargets:\n  - address: b.example\n",
            "defaults: {acme_directory: 'nope'}\ntargets:\n  - address: b.example\n",
            "defaults: {concurrency: 0}\ntargets:\n  - address: b.example\n",
            // Defaults after the targets that make a target wrong, or right.
            "targets:\n  - path: /etc/*.pem\ndefaults: {acme_directory: 'auto'}\n",
            "targets:\n  - address: a.example:443\n    caa: true\ndefaults: {caa_identity: 'Bad Identity!'}\n",
            // The checks between the defaults and the targets come first.
            "target_files: ['[']\ntargets:\n  - address: b.example\n",
            "probe_allow: ['']\ntargets:\n  - address: b.example\n",
            // The check after the targets comes after.
            "targets:\n  - address: b.example\ndns: {name_servers: [nonsense]}\n",
            "targets:\n  - address: b.example:443\ndns: {name_servers: [nonsense]}\n",
            // The list itself.
            "targets: []\n",
            "targets:\n",
            "targets: 5\n",
            "targets: {address: a.example:443}\n",
            "defaults: {interval: 1m}\n",
            "target_files: [t/*.yaml]\ntargets: []\n",
        ];
        for yaml in cases {
            // Compared as printed: a `TargetFileSpec` equals only itself (its defaults are
            // compared by identity).
            let (streamed, held) = (format!("{:?}", streamed(yaml)), format!("{:?}", held(yaml)));
            assert_eq!(streamed, held, "{yaml}");
        }
    }

    #[test]
    fn a_refused_target_stops_the_resolving_but_not_the_reading() {
        let mut resolver = Resolver::new(RawDefaults::default());
        let entry = |address: &str| {
            let yaml = format!("address: {address}\n");
            Spanned::new(
                serde_saphyr::from_str::<RawTarget>(&yaml).unwrap(),
                Location::UNKNOWN,
                Location::UNKNOWN,
            )
        };
        resolver.push(entry("a.example:443"));
        resolver.push(entry("b.example"));
        resolver.push(entry("c.example:443"));
        let resolved = resolver.finish();
        assert_eq!(resolved.len, 3);
        let e = resolved.outcome.unwrap_err();
        assert!(e.contains("targets[1].address"), "{e}");
    }
}

#[cfg(test)]
mod sharing_tests {
    use std::sync::Arc;

    use super::super::Config;

    #[test]
    fn targets_share_what_they_inherit_alike() {
        let c = Config::parse(
            "defaults: {ca_file: /etc/ca.pem, labels: {env: prod}, proxy_url: 'http://127.0.0.1:3128'}\ntargets:\n  - address: a.example:443\n  - address: b.example:443\n  - {address: c.example:443, labels: {team: x}}\n  - address: d.example:443\n",
        )
        .unwrap();
        let [a, b, c, d] = &c.targets[..] else {
            panic!("four targets")
        };
        for other in [b, d] {
            assert!(Arc::ptr_eq(
                a.ca_file.as_ref().unwrap(),
                other.ca_file.as_ref().unwrap()
            ));
            assert!(Arc::ptr_eq(&a.metrics, &other.metrics));
            assert!(Arc::ptr_eq(
                a.reach.proxy.as_ref().unwrap(),
                other.reach.proxy.as_ref().unwrap()
            ));
        }
        assert!(Arc::ptr_eq(&a.labels, &b.labels));
        // Labels of its own: a copy of its own, with the defaults' under it.
        assert!(!Arc::ptr_eq(&a.labels, &c.labels));
        assert_eq!(c.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(c.labels.get("team").map(String::as_str), Some("x"));
        assert_eq!(*d.labels, *a.labels);
        assert!(Arc::ptr_eq(&c.metrics, &d.metrics));
    }
}
