//! `target_files:`: extra target lists in files of their own, so that an inventory system can
//! feed the exporter without touching the main configuration.
//!
//! A target file holds a `targets:` list, written exactly as in the main file, and its targets
//! inherit the main file's `defaults:`. This module only parses one file's text; watching the
//! files and combining them with the main list is [`crate::inventory`]'s job.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::raw::{RawDefaults, RawTarget};
use super::reach::ReachDefaults;
use super::{at, resolve_target, Target};

/// How often target files are checked for changes unless `target_files_refresh_interval` says.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// The `target_files:` settings of a loaded configuration.
#[derive(Debug, Clone)]
pub struct TargetFileSpec {
    /// The globs as written; a relative glob is relative to the main file's directory.
    pub patterns: Vec<String>,
    /// The main configuration file's directory.
    pub base_dir: PathBuf,
    /// How often the files are checked for changes.
    pub refresh: Duration,
    /// The main file's defaults, which every file target inherits.
    defaults: Arc<TargetFileDefaults>,
}

/// The main file's `defaults:`, kept to resolve the targets of target files.
#[derive(Debug)]
struct TargetFileDefaults {
    raw: RawDefaults,
    reach: ReachDefaults,
}

/// Two specs are equal when they watch the same globs at the same pace with the defaults of
/// the same loaded configuration (the defaults are compared by identity, not by value).
impl PartialEq for TargetFileSpec {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
            && self.base_dir == other.base_dir
            && self.refresh == other.refresh
            && Arc::ptr_eq(&self.defaults, &other.defaults)
    }
}

/// One target read from a target file, with where its name is (for duplicate errors).
#[derive(Debug, Clone)]
pub struct TargetFileEntry {
    /// The target, with the main file's `defaults:` applied.
    pub target: Arc<Target>,
    /// `line L column C` of the target's name (or entry).
    pub at: String,
}

/// A target file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargetFile {
    targets: Option<Vec<Spanned<RawTarget>>>,
}

impl TargetFileSpec {
    pub(super) fn new(
        patterns: Vec<String>,
        refresh: Duration,
        raw: RawDefaults,
        reach: ReachDefaults,
    ) -> TargetFileSpec {
        TargetFileSpec {
            patterns,
            base_dir: PathBuf::from("."),
            refresh,
            defaults: Arc::new(TargetFileDefaults { raw, reach }),
        }
    }

    /// The files the globs match now, sorted, each once. A glob that matches nothing is not an
    /// error: an inventory may not have written its files yet.
    pub fn matching_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .patterns
            .iter()
            .flat_map(|pattern| {
                let full = self.absolute(pattern);
                glob::glob(&full.to_string_lossy())
                    .map(|paths| paths.filter_map(Result::ok).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files.dedup();
        files
    }

    fn absolute(&self, pattern: &str) -> PathBuf {
        let path = Path::new(pattern);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Parses the text of one target file into its targets, each with the main defaults
    /// applied. Errors start with `line L column C` and the offending field; names must be
    /// unique within the file (uniqueness across files is checked by the caller).
    pub fn parse(&self, text: &str) -> Result<Vec<TargetFileEntry>, String> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let raw: RawTargetFile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let mut names = HashSet::new();
        let mut targets = Vec::new();
        for (index, spanned) in raw.targets.unwrap_or_default().into_iter().enumerate() {
            let name_at = spanned
                .value
                .name
                .as_ref()
                .map(|n| n.referenced)
                .unwrap_or(spanned.referenced);
            let target = resolve_target(&self.defaults.raw, &self.defaults.reach, spanned)
                .map_err(|(loc, e)| format!("{}: targets[{index}].{e}", at(&loc)))?;
            if !names.insert(target.name.clone()) {
                return Err(format!(
                    "{}: targets[{index}].name: {:?} is used by an earlier target of this file; names must be unique",
                    at(&name_at),
                    target.name
                ));
            }
            targets.push(TargetFileEntry {
                target: Arc::new(target),
                at: at(&name_at),
            });
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn spec(yaml: &str) -> super::TargetFileSpec {
        Config::parse(yaml).unwrap().target_files.unwrap()
    }

    #[test]
    fn targets_inherit_the_main_defaults() {
        let spec = spec(
            "defaults: {interval: 7s, labels: {env: prod}}\ntarget_files: [t/*.yaml]\ntarget_files_refresh_interval: 2s\n",
        );
        assert_eq!(spec.refresh, std::time::Duration::from_secs(2));
        let targets = spec
            .parse("targets:\n  - address: a.example:443\n  - name: b\n    address: b.example:443\n    interval: 9s\n")
            .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].target.name, "a.example:443");
        assert_eq!(targets[0].target.interval.as_secs(), 7);
        assert_eq!(targets[0].target.labels["env"], "prod");
        assert_eq!(targets[1].target.interval.as_secs(), 9);
        assert_eq!(targets[1].at, "line 3 column 11");
    }

    #[test]
    fn errors_are_located() {
        let spec = spec("target_files: [t/*.yaml]\n");
        let e = spec
            .parse("targets:\n  - address: a.example:443\n  - address: a.example:443\n")
            .unwrap_err();
        assert!(e.starts_with("line 3 column 5: targets[1].name:"), "{e}");
        let e = spec.parse("targets:\n  - adress: x:1\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("adress"), "{e}");
        let e = spec.parse("targets:\n  - address: nope\n").unwrap_err();
        assert!(
            e.starts_with("line 2 column 14: targets[0].address:"),
            "{e}"
        );
        let e = spec
            .parse("targets:\n  - address: a.example:443\n    server_name: \"[::1]\"\n")
            .unwrap_err();
        assert!(
            e.starts_with("line 3 column 18: targets[0].server_name:"),
            "{e}"
        );
        assert!(spec.parse("").unwrap().is_empty());
        assert!(spec.parse("targets: []\n").unwrap().is_empty());
    }
}
