//! libFuzzer entry for [`cert_expiry_exporter_fuzz::file_formats`]: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cert_expiry_exporter_fuzz::file_formats(data));
