//! Shared pieces of nnedge's benchmark programs (`src/bin/*`): what machine a figure was
//! measured on, and the statistics every bench reports.

pub mod machine;
pub mod stats;
