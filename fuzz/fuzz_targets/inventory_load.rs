//! The roster loader, YAML and CSV, on any text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labgrade_fuzz::load_inventory(data));
