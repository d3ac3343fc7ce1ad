//! The lab loader (YAML, located decoding, `use:`, templates when planned) on any text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labgrade_fuzz::load_lab(data));
