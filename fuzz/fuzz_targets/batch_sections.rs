//! The delimiter format of batched scripts: cutting any output, and cutting back what was written.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    labgrade_fuzz::cut_batch(data);
    labgrade_fuzz::batch_round_trip(data);
});
