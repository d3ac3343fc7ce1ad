//! The parsers of the `os: windows` kinds (PowerShell's `ConvertTo-Json`), fed whatever a server could print.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labgrade_fuzz::parse_picked("windows_probe", data));
