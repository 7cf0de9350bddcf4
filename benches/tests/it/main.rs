//! Integration tests of nnedge's benchmark harness: report generation, plots, the serving
//! load generator against a stub server on 127.0.0.1, a short real `bench infer` run, and
//! `bench droplet` against the fake DigitalOcean API with local stand-ins for the droplets.
//! The figures themselves are benchmark output; these tests check the harness.

mod batched;
mod droplet;
mod fixtures;
mod infer;
mod plot;
mod report;
mod serve;
mod stand_in;
