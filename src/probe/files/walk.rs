//! Expanding a file target's glob into the files to read, safely on any tree.
//!
//! The walk starts at the glob's literal prefix (`/etc/ssl/` for `/etc/ssl/**/*.pem`) and goes
//! only as deep as the glob can match (unbounded only with `**`). Symbolic links are followed —
//! `/etc/ssl/certs` is mostly links — but a link back to an ancestor directory is recognised
//! and skipped, so a symlink loop cannot make the walk endless. Directories the glob matches
//! are skipped; everything else it matches is returned for reading (FIFOs and devices are
//! refused when read, without blocking). As in the shell, `*` and `**` do not match names
//! starting with a dot (which also keeps Kubernetes' `..data` secret directories out).
//!
//! Blocking: run it on the blocking pool. It stops at `deadline` and after [`MAX_FILES`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use glob::{MatchOptions, Pattern};
use walkdir::WalkDir;

/// The most files one target reads per probe; more is a mistake in the glob, and reporting
/// them all would flood `/metrics`.
pub const MAX_FILES: usize = 10_000;

/// How globs match: `/` only literally, a leading dot only literally, case as written.
const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// One path the glob matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A file (or anything not a directory) to read.
    File(PathBuf),
    /// A matched path that could not be examined (a dangling or looping symlink), or a
    /// directory that could not be listed, with why.
    Unreadable(PathBuf, String),
}

impl Found {
    /// The path, as the `file` label shows it.
    pub fn path(&self) -> &Path {
        match self {
            Found::File(p) | Found::Unreadable(p, _) => p,
        }
    }
}

/// What the glob matched.
#[derive(Debug, Default)]
pub struct Listing {
    /// In walk order (sorted by name within each directory), at most [`MAX_FILES`].
    pub found: Vec<Found>,
    /// Directories the glob matched, which were skipped.
    pub skipped_dirs: usize,
    /// More than [`MAX_FILES`] matched; the rest were left out.
    pub truncated: bool,
    /// The deadline passed before the walk finished.
    pub timed_out: bool,
}

impl Listing {
    /// Adds a match, unless the cap is reached; returns whether the walk may go on.
    fn push(&mut self, found: Found) -> bool {
        if self.found.len() >= MAX_FILES {
            self.truncated = true;
            return false;
        }
        self.found.push(found);
        true
    }
}

/// Lists what `pattern` matches. Errors only for an invalid glob (the config was checked).
pub fn list(pattern: &str, deadline: Instant) -> Result<Listing, String> {
    let glob = Pattern::new(pattern).map_err(|e| format!("{pattern:?}: {e}"))?;
    let mut listing = Listing::default();
    let (base, depth) = split(pattern);
    if depth == 0 {
        list_one(Path::new(pattern), &mut listing);
        return Ok(listing);
    }
    let root = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base.as_path()
    };
    // A missing base (or a file where a directory should be) simply matches nothing.
    if !std::fs::metadata(root).is_ok_and(|m| m.is_dir()) {
        return Ok(listing);
    }
    let walk = WalkDir::new(root)
        .follow_links(true)
        .min_depth(1)
        .max_depth(depth)
        .sort_by_file_name();
    for entry in walk {
        if Instant::now() >= deadline {
            listing.timed_out = true;
            break;
        }
        let keep_going = match entry {
            Ok(entry) => {
                let path = shown(entry.path(), &base);
                if !glob.matches_path_with(&path, MATCH) {
                    continue;
                }
                if entry.file_type().is_dir() {
                    listing.skipped_dirs += 1;
                    continue;
                }
                listing.push(Found::File(path))
            }
            Err(error) => {
                if error.loop_ancestor().is_some() {
                    tracing::debug!(%error, "skipping a symlink loop");
                    continue;
                }
                let Some(path) = error.path().map(|p| shown(p, &base)) else {
                    continue;
                };
                let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
                if glob.matches_path_with(&path, MATCH) {
                    listing.push(Found::Unreadable(path, io_reason(&error)))
                } else if is_dir {
                    let why = format!("cannot list this directory: {}", io_reason(&error));
                    listing.push(Found::Unreadable(path, why))
                } else {
                    continue;
                }
            }
        };
        if !keep_going {
            break;
        }
    }
    Ok(listing)
}

/// A glob without wildcards names one path.
fn list_one(path: &Path, listing: &mut Listing) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => listing.skipped_dirs += 1,
        Ok(_) => {
            listing.push(Found::File(path.to_path_buf()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            listing.push(Found::Unreadable(path.to_path_buf(), e.to_string()));
        }
    }
}

/// The literal directory a glob starts from, and how many levels below it it can match
/// (0: no wildcard at all; `usize::MAX`: `**`).
fn split(pattern: &str) -> (PathBuf, usize) {
    let components: Vec<&str> = pattern.split('/').collect();
    let Some(first_wild) = components.iter().position(|c| c.contains(['*', '?', '['])) else {
        return (PathBuf::from(pattern), 0);
    };
    let base = components[..first_wild].join("/");
    let base = if base.is_empty() && pattern.starts_with('/') {
        "/".to_string()
    } else {
        base
    };
    let rest = &components[first_wild..];
    let depth = if rest.iter().any(|c| c.contains("**")) {
        usize::MAX
    } else {
        rest.len()
    };
    (PathBuf::from(base), depth)
}

/// The path as the glob (and the `file` label) spells it: without the `./` the walk of a
/// relative glob adds.
fn shown(path: &Path, base: &Path) -> PathBuf {
    if base.as_os_str().is_empty() {
        path.strip_prefix(".").unwrap_or(path).to_path_buf()
    } else {
        path.to_path_buf()
    }
}

/// The operating system's words for a walk error.
fn io_reason(error: &walkdir::Error) -> String {
    match error.io_error() {
        Some(io) => io.to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    /// The relative paths found, sorted, unreadable ones marked with `!`.
    fn names(listing: &Listing, root: &Path) -> Vec<String> {
        let mut names: Vec<String> = listing
            .found
            .iter()
            .map(|f| {
                let p = f.path().strip_prefix(root).unwrap().display().to_string();
                match f {
                    Found::File(_) => p,
                    Found::Unreadable(..) => format!("!{p}"),
                }
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn splits_the_literal_prefix() {
        assert_eq!(split("/etc/ssl/certs/*.pem"), ("/etc/ssl/certs".into(), 1));
        assert_eq!(split("/etc/**/x.pem"), ("/etc".into(), usize::MAX));
        assert_eq!(split("/*/x.pem"), ("/".into(), 2));
        assert_eq!(split("certs/*.pem"), ("certs".into(), 1));
        assert_eq!(split("*.pem"), ("".into(), 1));
        assert_eq!(split("/etc/hosts"), ("/etc/hosts".into(), 0));
    }

    #[test]
    fn walks_subdirectories_with_double_star_and_skips_dot_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "a.pem",
            "b.txt",
            "x/c.pem",
            "x/y/d.pem",
            ".hidden/e.pem",
            "x/.f.pem",
        ] {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::create_dir(root.join("dir.pem")).unwrap();
        let deep = list(&format!("{}/**/*.pem", root.display()), later()).unwrap();
        assert_eq!(names(&deep, root), ["a.pem", "x/c.pem", "x/y/d.pem"]);
        assert_eq!(deep.skipped_dirs, 1);
        let flat = list(&format!("{}/*.pem", root.display()), later()).unwrap();
        assert_eq!(names(&flat, root), ["a.pem"]);
        let none = list(&format!("{}/nothing/*.pem", root.display()), later()).unwrap();
        assert!(none.found.is_empty());
    }

    #[test]
    fn symlink_loops_end_the_walk_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.pem"), "x").unwrap();
        std::os::unix::fs::symlink(root, root.join("loop")).unwrap();
        std::os::unix::fs::symlink("self.pem", root.join("self.pem")).unwrap();
        std::os::unix::fs::symlink("missing", root.join("dangling.pem")).unwrap();
        let listing = list(&format!("{}/**/*.pem", root.display()), later()).unwrap();
        assert_eq!(
            names(&listing, root),
            ["!dangling.pem", "!self.pem", "a.pem"]
        );
    }

    #[test]
    fn a_literal_path_names_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.pem");
        std::fs::write(&file, "x").unwrap();
        let listing = list(file.to_str().unwrap(), later()).unwrap();
        assert_eq!(listing.found, [Found::File(file)]);
        let listing = list(dir.path().to_str().unwrap(), later()).unwrap();
        assert!(listing.found.is_empty());
        assert_eq!(listing.skipped_dirs, 1);
    }

    #[test]
    fn stops_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.pem"), "x").unwrap();
        let listing = list(&format!("{}/*.pem", dir.path().display()), Instant::now()).unwrap();
        assert!(listing.timed_out);
        assert!(listing.found.is_empty());
    }
}
