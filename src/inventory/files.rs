//! Reading target files: noticing which changed, and turning each into targets with the trust
//! stores its `ca_file`s need. A file that does not load keeps the targets it last loaded with.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::{TargetFileEntry, TargetFileSpec};
use crate::x509::TrustStores;

/// The largest target file read; an inventory writing more is better split over several files.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// What identifies one version of a file without reading it: size, inode and both timestamps
/// (a file rewritten within one mtime tick still changes its ctime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some(Stamp {
            len: m.len(),
            ino: m.ino(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }
}

/// One target file as last seen.
#[derive(Debug, Clone, Default)]
pub struct FileState {
    /// The version last read (`None` before the first read).
    pub stamp: Option<Stamp>,
    /// The targets of the last version that loaded (kept while a newer version is broken).
    pub targets: Vec<TargetFileEntry>,
    /// Trust stores for those targets' `ca_file`s.
    pub trust: TrustStores,
    /// Why the last read failed; `None` when it loaded.
    pub error: Option<String>,
}

/// The state of every target file, by path.
pub type Files = BTreeMap<PathBuf, FileState>;

/// Brings `files` up to date with the disk: new and changed files are read, vanished ones are
/// dropped; with `force` every file is read again (the defaults they inherit changed).
/// `owner_of` names who already holds a target name outside the target files (the main
/// configuration). Returns whether anything changed.
pub fn refresh(
    spec: &TargetFileSpec,
    files: &mut Files,
    force: bool,
    owner_of: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let present = spec.matching_files();
    let before = files.len();
    files.retain(|path, _| present.contains(path));
    let mut changed = files.len() != before;
    for path in present {
        let stamp = Stamp::of(&path);
        let known = files.get(&path).and_then(|f| f.stamp);
        if !force && known.is_some() && known == stamp {
            continue;
        }
        changed = true;
        let others = names_elsewhere(files, &path);
        let state = files.entry(path.clone()).or_default();
        state.stamp = stamp;
        match load(spec, &path, &|name| {
            owner_of(name).or_else(|| others.get(name).cloned())
        }) {
            Ok((targets, trust)) => {
                tracing::info!(file = %path.display(), targets = targets.len(), "target file loaded");
                state.targets = targets;
                state.trust = trust;
                state.error = None;
            }
            Err(error) => {
                tracing::error!(file = %path.display(), %error, kept = state.targets.len(), "target file rejected; keeping its previous targets");
                state.error = Some(error);
            }
        }
    }
    changed
}

/// The target names held by files other than `except`, with the file holding each.
fn names_elsewhere(files: &Files, except: &Path) -> HashMap<String, String> {
    files
        .iter()
        .filter(|(path, _)| path.as_path() != except)
        .flat_map(|(path, state)| {
            state.targets.iter().map(move |t| {
                (
                    t.target.name.clone(),
                    format!("target file {}", path.display()),
                )
            })
        })
        .collect()
}

/// Reads and resolves one file; every error starts with the path.
fn load(
    spec: &TargetFileSpec,
    path: &Path,
    owner_of: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<TargetFileEntry>, TrustStores), String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{shown}: {size} bytes is over the {MAX_FILE_BYTES}-byte limit; split the list over several files"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let targets = spec.parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    for t in &targets {
        if let Some(owner) = owner_of(&t.target.name) {
            return Err(format!(
                "{shown}: {}: name: {:?} is already a target of {owner}; names must be unique",
                t.at, t.target.name
            ));
        }
    }
    let trust = TrustStores::load(targets.iter().filter_map(|t| t.target.ca_file.as_deref()))
        .map_err(|e| format!("{shown}: ca_file: {e}"))?;
    Ok((targets, trust))
}
