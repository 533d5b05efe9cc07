//! libFuzzer entry for [`cert_expiry_exporter_fuzz::ocsp_response`]: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cert_expiry_exporter_fuzz::ocsp_response(data));
