//! What the fuzz targets in `fuzz/` reach that the library keeps private: not an API.

use crate::transport::ExecOutput;

/// The sections of a batch's output, as [`run_batch`](crate::run::run_batch) cuts them: by
/// index, the output each check would have given alone.
pub fn batch_sections(nonce: &str, output: &ExecOutput) -> Vec<(usize, ExecOutput)> {
    crate::run::batch_sections(nonce, output)
}
