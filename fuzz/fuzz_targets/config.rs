//! libFuzzer entry for [`cert_expiry_exporter_fuzz::config`]: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cert_expiry_exporter_fuzz::config(data));
