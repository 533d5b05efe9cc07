//! Reading one matched file, with the limits a daemon needs on paths it does not control.
//!
//! Only regular files are read. The file is opened with `O_NONBLOCK`, so a FIFO a glob happens
//! to match cannot hang the read waiting for a writer; the open handle is then checked, so a
//! file swapped for something else between listing and reading is still refused. At most
//! [`MAX_FILE_SIZE`] bytes are read, whatever size the file claims.
//!
//! Blocking: run it on the blocking pool.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::probe::{ProbeFailure, ProbeReason};

/// The largest certificate file read: 10 MiB holds thousands of certificates; anything bigger
/// is not a certificate file, and reading it every interval would cost memory and time.
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Reads the whole of a regular file of at most [`MAX_FILE_SIZE`] bytes.
pub fn read_certificate_file(path: &Path) -> Result<Vec<u8>, ProbeFailure> {
    let unreadable = |e: std::io::Error| {
        ProbeFailure::new(
            ProbeReason::FileUnreadable,
            format!("{}: {e}", path.display()),
        )
    };
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_block_device() || kind.is_char_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(ProbeFailure::new(
            ProbeReason::FileUnreadable,
            format!("{}: {what}, not a certificate file", path.display()),
        ));
    }
    let too_large = || {
        ProbeFailure::new(
            ProbeReason::FileTooLarge,
            format!(
                "{}: larger than the {} MiB a certificate file may have",
                path.display(),
                MAX_FILE_SIZE / (1024 * 1024)
            ),
        )
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.pem");
        std::fs::write(&file, "content").unwrap();
        assert_eq!(read_certificate_file(&file).unwrap(), b"content");

        let fifo = dir.path().join("fifo.pem");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let e = read_certificate_file(&fifo).unwrap_err();
        assert_eq!(e.reason.as_str(), "file_unreadable");
        assert!(e.detail.contains("FIFO"), "{}", e.detail);

        let e = read_certificate_file(dir.path()).unwrap_err();
        assert_eq!(e.reason.as_str(), "file_unreadable");
        let e = read_certificate_file(&dir.path().join("missing.pem")).unwrap_err();
        assert_eq!(e.reason.as_str(), "file_unreadable");
    }

    #[test]
    fn refuses_files_over_the_cap_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_FILE_SIZE + 1).unwrap(); // sparse: no 10 MiB written
        assert_eq!(
            read_certificate_file(&big).unwrap_err().reason.as_str(),
            "file_too_large"
        );
        f.set_len(MAX_FILE_SIZE).unwrap();
        assert_eq!(
            read_certificate_file(&big).unwrap().len() as u64,
            MAX_FILE_SIZE
        );
    }
}
