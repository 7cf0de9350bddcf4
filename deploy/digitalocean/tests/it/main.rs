//! Integration tests of nnedge-digitalocean against the local fake API on 127.0.0.1.
//!
//! No test reaches the real DigitalOcean API: every run gets a `RunEnv` whose API URL is
//! the fake's, and health checks go to a local server on 127.0.0.1.

mod deploy;
mod droplets;
mod dry_run;
mod fake_api;
mod faults;
mod images;
mod keys_and_sizes;
mod support;
