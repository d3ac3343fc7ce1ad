//! The `cron` kind's parser, fed whatever a candidate's host could print.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labgrade_fuzz::parse_probe("cron", data));
