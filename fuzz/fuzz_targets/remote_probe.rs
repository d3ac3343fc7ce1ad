//! The parsers of the black-box kinds run `from:` a candidate's host, fed whatever it could print.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labgrade_fuzz::parse_picked("remote_probe", data));
