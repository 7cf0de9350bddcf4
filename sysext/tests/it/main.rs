//! Integration tests of nnedge-sysext: real images read back by real tools (unsquashfs,
//! systemd-dissect, systemd-sysext), one module per area.

mod bake;
mod cli;
mod inspect;
mod libraries;
mod preset;
mod refusals;
mod support;
mod systemd;
mod tarball;
