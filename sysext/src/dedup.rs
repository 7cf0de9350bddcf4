//! Guards against a flaw in backhand's file deduplication.
//!
//! backhand 0.23 recognises a duplicate file by the length and hash of its *first block*
//! only, then reuses the earlier file's data and size without reading the rest. Two files
//! that share their first block (128 KiB) but differ later would come out identical. This
//! module finds such pairs so the bake can switch deduplication off for that image.
//! Identical files stay deduplicated, as mksquashfs does.

use std::collections::HashMap;
use std::io::Read;

use backhand::DEFAULT_BLOCK_SIZE;
use fs_err as fs;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::tree::{FileSource, TreeEntry};

/// Whether two different files among `entries` start with the same full block.
pub fn first_block_collision(entries: &[(&std::path::Path, &TreeEntry)]) -> Result<bool> {
    let block = DEFAULT_BLOCK_SIZE as usize;
    let mut by_first_block: HashMap<[u8; 32], Vec<&FileSource>> = HashMap::new();
    for (_, entry) in entries {
        let TreeEntry::File { source, .. } = entry else {
            continue;
        };
        if let Some(first) = first_block_digest(source, block)? {
            by_first_block.entry(first).or_default().push(source);
        }
    }

    for sources in by_first_block.values().filter(|group| group.len() > 1) {
        let first = full_digest(sources[0])?;
        for source in &sources[1..] {
            if full_digest(source)? != first {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The SHA-256 of a file's first `block` bytes, or `None` when it is shorter than that
/// (backhand only deduplicates files of at least one full block).
fn first_block_digest(source: &FileSource, block: usize) -> Result<Option<[u8; 32]>> {
    let first = match source {
        FileSource::Bytes(bytes) => bytes.get(..block).map(<[u8]>::to_vec),
        FileSource::Path(path) => {
            let mut first = Vec::with_capacity(block);
            fs::File::open(path)?
                .take(block as u64)
                .read_to_end(&mut first)?;
            Some(first).filter(|first| first.len() == block)
        }
    };
    Ok(first.map(|first| Sha256::digest(&first).into()))
}

/// The SHA-256 and length of a whole file.
fn full_digest(source: &FileSource) -> Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let len = match source {
        FileSource::Bytes(bytes) => {
            hasher.update(bytes);
            bytes.len() as u64
        }
        FileSource::Path(path) => std::io::copy(&mut fs::File::open(path)?, &mut hasher)?,
    };
    Ok((hasher.finalize().into(), len))
}
