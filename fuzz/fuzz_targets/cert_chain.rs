//! libFuzzer entry for [`cert_expiry_exporter_fuzz::cert_chain`]: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cert_expiry_exporter_fuzz::cert_chain(data));
