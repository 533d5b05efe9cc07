//! The hosts file as glibc's `files` source reads it, re-read when it changes.
//!
//! Parsing is hickory's own ([`Hosts`]): `#` comments (whole lines and trailing), any number of
//! names and aliases per line, names compared without case and with or without a trailing dot,
//! IPv4 and IPv6 lines, several lines for one name adding up. A line whose address does not parse
//! (an IPv6 address with a `%zone`, a typo) is skipped, as glibc skips it.
//!
//! What glibc does and hickory alone does not: a name the file knows is answered from the file
//! alone, for both families. hickory looks A and AAAA up in the file separately, so a name with
//! only an IPv4 line still sent an AAAA query to the name server at every probe.

use std::fs::Metadata;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name, RecordType};
use hickory_resolver::Hosts;

/// A hosts file, parsed, and the stamp of the version parsed.
pub(super) struct HostsFile {
    path: PathBuf,
    current: Mutex<Snapshot>,
}

/// One parsed version of the file.
struct Snapshot {
    /// `None` before the first read; `Some(None)` when the file was missing.
    stamp: Option<Option<Stamp>>,
    hosts: Arc<Hosts>,
}

/// What tells one version of the file from the next without reading it: an edit in place changes
/// the modification time (and usually the length), a replacement by rename (as editors and
/// configuration tools do) changes the inode. Two edits of the same length within one tick of the
/// file system's clock (a few milliseconds) look alike; the next edit is seen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    changed: (i64, i64),
    len: u64,
    inode: (u64, u64),
}

impl Stamp {
    fn of(metadata: &Metadata) -> Stamp {
        Stamp {
            modified: metadata.modified().ok(),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            len: metadata.len(),
            inode: (metadata.dev(), metadata.ino()),
        }
    }
}

impl HostsFile {
    /// The file at `path`; it is first read at the first lookup.
    pub(super) fn new(path: impl Into<PathBuf>) -> HostsFile {
        HostsFile {
            path: path.into(),
            current: Mutex::new(Snapshot {
                stamp: None,
                hosts: Arc::new(Hosts::default()),
            }),
        }
    }

    /// The addresses the file gives `name`, IPv4 before IPv6, in the file's order; `None` when
    /// the file does not know the name (then, and only then, the name servers are asked).
    pub(super) fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        let hosts = self.current();
        // The parser lowercases the file's names; a query name is looked up the same way.
        let mut name = Name::from_str(&name.to_lowercase()).ok()?;
        name.set_fqdn(true);
        let mut found = false;
        let mut addrs = Vec::new();
        for record_type in [RecordType::A, RecordType::AAAA] {
            let query = Query::query(name.clone(), record_type);
            if let Some(lookup) = hosts.lookup_static_host(&query) {
                found = true;
                addrs.extend(lookup.answers().iter().filter_map(|r| r.data.ip_addr()));
            }
        }
        found.then_some(addrs)
    }

    /// The parsed file, re-read first when its stamp changed since the last read. Checking costs
    /// one `stat` per lookup; reading happens only after a change.
    fn current(&self) -> Arc<Hosts> {
        let stamp = std::fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        let mut snapshot = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if snapshot.stamp != Some(stamp) {
            snapshot.hosts = Arc::new(read(&self.path, stamp.is_some()));
            snapshot.stamp = Some(stamp);
        }
        snapshot.hosts.clone()
    }
}

/// Parses the file at `path`; a missing or unreadable file knows no name (the name servers are
/// asked for every name, as glibc does).
fn read(path: &Path, exists: bool) -> Hosts {
    let mut hosts = Hosts::default();
    if !exists {
        tracing::debug!(path = %path.display(), "no hosts file; every name goes to the name servers");
        return hosts;
    }
    let result = std::fs::File::open(path).and_then(|file| hosts.read_hosts_conf(file));
    if let Err(error) = result {
        tracing::warn!(path = %path.display(), %error, "cannot read the hosts file; every name goes to the name servers");
        return Hosts::default();
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn ips(list: &[&str]) -> Option<Vec<IpAddr>> {
        Some(list.iter().map(|ip| ip.parse().unwrap()).collect())
    }

    #[test]
    fn reads_the_hosts_file_as_glibc_does() {
        let (_dir, path) = file(
            "# a comment line\n\
             127.0.0.1\tlocalhost\n\
             \n\
             10.0.0.1   web.example.test  web  WWW.Example.Test # trailing comment\n\
             10.0.0.2   web.example.test\n\
             ::1        localhost ip6-localhost\n\
             2001:db8::5 v6only.example.test.\n\
             # 10.0.0.9 commented.example.test\n\
             not-an-ip  broken.example.test\n\
             10.0.0.7\n",
        );
        let hosts = HostsFile::new(&path);
        assert_eq!(
            hosts.lookup("web.example.test"),
            ips(&["10.0.0.1", "10.0.0.2"])
        );
        assert_eq!(hosts.lookup("web"), ips(&["10.0.0.1"]));
        assert_eq!(hosts.lookup("www.example.test"), ips(&["10.0.0.1"]));
        assert_eq!(
            hosts.lookup("Web.EXAMPLE.test."),
            hosts.lookup("web.example.test")
        );
        assert_eq!(hosts.lookup("localhost"), ips(&["127.0.0.1", "::1"]));
        assert_eq!(hosts.lookup("ip6-localhost"), ips(&["::1"]));
        assert_eq!(hosts.lookup("v6only.example.test"), ips(&["2001:db8::5"]));
        assert_eq!(hosts.lookup("commented.example.test"), None);
        assert_eq!(hosts.lookup("broken.example.test"), None);
        assert_eq!(hosts.lookup("other.example.test"), None);
        // Not a name at all: not in the file, and no panic.
        assert_eq!(hosts.lookup(""), None);
        assert_eq!(hosts.lookup("a..b"), None);
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let (_dir, path) = file("10.0.0.1 changing.test\n");
        let hosts = HostsFile::new(&path);
        assert_eq!(hosts.lookup("changing.test"), ips(&["10.0.0.1"]));

        // Edited in place (a length of its own: two same-length writes within one tick of the
        // file system's clock would look alike, see `Stamp`).
        std::fs::write(&path, "10.0.0.22 changing.test\n").unwrap();
        assert_eq!(hosts.lookup("changing.test"), ips(&["10.0.0.22"]));

        // Replaced by rename, as editors do.
        let next = path.with_extension("new");
        std::fs::write(&next, "10.0.0.3 changing.test\n::3 changing.test\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(hosts.lookup("changing.test"), ips(&["10.0.0.3", "::3"]));

        // Removed: no name is known any more; back: read again.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(hosts.lookup("changing.test"), None);
        std::fs::write(&path, "10.0.0.4 changing.test\n").unwrap();
        assert_eq!(hosts.lookup("changing.test"), ips(&["10.0.0.4"]));
    }
}
