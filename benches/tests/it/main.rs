//! Integration tests of nnedge's benchmark harness: report generation, plots, the serving
//! load generator against a stub server on 127.0.0.1, and a short real `bench infer` run.
//! The figures themselves are benchmark output; these tests check the harness.

mod fixtures;
mod infer;
mod plot;
mod report;
mod serve;
