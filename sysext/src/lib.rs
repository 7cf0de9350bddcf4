//! Bakes Flatcar system extension (sysext) images in Rust, with the `backhand` squashfs
//! writer instead of mksquashfs, and inspects them.
//!
//! The flow: fill a [`Tree`] (from a directory, a release tarball via
//! [`tree_from_tarball`], or the [`NnedgePreset`]), describe the image with a
//! [`BakeSpec`], and call [`bake_image`]. The result is `NAME-VERSION-ARCH.raw` beside a
//! `SHA256SUMS` and, optionally, a systemd-sysupdate transfer file. [`inspect_image`]
//! reads an image back and explains whether systemd-sysext would merge it. The [`cli`]
//! module wraps both as `nnedge sysext bake|inspect`.

mod arch;
mod bake;
mod checks;
pub mod cli;
mod compression;
mod dedup;
mod error;
mod inspect;
mod preset;
mod release;
mod sysupdate;
mod tarball;
mod tree;

pub use arch::Architecture;
pub use bake::{bake_image, bake_image_as, sha256_file, BakeOutput, BakeSpec, SHA256SUMS};
pub use checks::MERGED_HIERARCHIES;
pub use compression::Compression;
pub use error::{Result, SysextError};
pub use inspect::{inspect_image, ImageEntry, ImageReport};
pub use preset::{
    render_launcher, NnedgePreset, LIB_DIR, NNEDGE_NAME, SERVICE_ENABLE, SERVICE_ENABLE_PATH,
    SERVICE_PATH, SERVICE_UNIT,
};
pub use release::{Compatibility, ExtensionRelease, RELEASE_DIR};
pub use sysupdate::render_transfer;
pub use tarball::tree_from_tarball;
pub use tree::{FileSource, Tree, TreeEntry};
