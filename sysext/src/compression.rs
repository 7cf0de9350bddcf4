//! The compressors an image can use, mapped onto backhand's settings so that each matches
//! what `mksquashfs -comp NAME` does by default (gzip level 9, xz preset 6 with a
//! block-sized dictionary, zstd level 15, lz4 legacy format).

use std::fmt;
use std::str::FromStr;

use backhand::compression::{CompressionOptions, Compressor, Lz4, Zstd};
use backhand::{BackhandError, FilesystemCompressor};

use crate::error::SysextError;

/// The zstd level mksquashfs uses unless told otherwise.
const MKSQUASHFS_ZSTD_LEVEL: u32 = 15;

/// A squashfs compressor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compression {
    /// zlib deflate, level 9: what the Flatcar sysext bakery's mksquashfs calls produce.
    #[default]
    Gzip,
    /// xz (LZMA2), preset 6.
    Xz,
    /// zstd, level 15.
    Zstd,
    /// lz4 (fast, larger).
    Lz4,
}

impl Compression {
    /// The name mksquashfs's `-comp` and unsquashfs's `-s` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Lz4 => "lz4",
        }
    }

    /// backhand's settings for this compressor.
    pub(crate) fn filesystem_compressor(self) -> Result<FilesystemCompressor, BackhandError> {
        let (id, options) = match self {
            Self::Gzip => (Compressor::Gzip, None),
            Self::Xz => (Compressor::Xz, None),
            Self::Zstd => (
                Compressor::Zstd,
                Some(CompressionOptions::Zstd(Zstd {
                    compression_level: MKSQUASHFS_ZSTD_LEVEL,
                })),
            ),
            Self::Lz4 => (
                Compressor::Lz4,
                Some(CompressionOptions::Lz4(Lz4 {
                    version: 1,
                    flags: 0,
                })),
            ),
        };
        FilesystemCompressor::new(id, options)
    }
}

impl FromStr for Compression {
    type Err = SysextError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "gzip" => Ok(Self::Gzip),
            "xz" => Ok(Self::Xz),
            "zstd" => Ok(Self::Zstd),
            "lz4" => Ok(Self::Lz4),
            _ => Err(SysextError::UnknownCompression {
                name: name.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
