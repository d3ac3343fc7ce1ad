//! The parsers of the `os: ios` kinds (`show` commands), fed whatever a device could print.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labgrade_fuzz::parse_picked("ios_probe", data));
