//! Reading the files a configuration names — the configuration itself, CA files, client
//! certificates and keys, the web config and its certificates — with a size cap, so that a
//! path pointing at the wrong thing (`/dev/zero`, a FIFO, a multi-gigabyte log) is a clear
//! error at load time instead of a hang or an exhausted memory.
//!
//! Foundation: plain `io::Result`s, used by x509, config, probe and server alike. (Certificate
//! files a `path:` target watches are read by `probe::files::read::read_certificate_file`,
//! which refuses anything but regular files and answers with a probe failure.)

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest configuration file read: 100,000 targets take about 7 MiB of YAML.
pub const MAX_CONFIG_FILE: u64 = 64 << 20;

/// The largest PEM file read (CA bundle, certificate chain, key): a full system CA bundle is
/// about 200 KiB.
pub const MAX_PEM_FILE: u64 = 16 << 20;

/// The largest PKCS#12 `password_file` read: a password is one line.
pub const MAX_PASSWORD_FILE: u64 = 64 << 10;

/// Reads all of `path`, refusing files over `max` bytes. Opened non-blocking, so that a FIFO
/// without a writer reads as empty instead of blocking the load forever.
pub fn read_capped(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes; is this the right file?"),
        ));
    }
    Ok(bytes)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, max)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_device_is_refused_at_the_cap() {
        let e = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("larger than 1048576 bytes"), "{e}");
    }

    #[test]
    fn a_fifo_without_writer_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path it is given.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_capped(&fifo, 1024).unwrap(), Vec::<u8>::new());
    }
}
