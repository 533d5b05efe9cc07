//! Issue 8's diagnostics against real servers: openssl `s_server` speaking only TLS 1.0 or
//! still accepting TLS 1.1, SHA-1 and RSA-1024 leaves, a server that leaves out its
//! intermediate (published at the caIssuers URL), and the `check` command's report, JSON and
//! exit status for each, run as the real binary.

mod check;
mod ct;
mod legacy;
mod missing;
mod weak;
