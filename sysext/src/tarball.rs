//! Reads a release tarball laid out like WasmEdge's (`bin/`, `lib/`, `include/`, under one
//! top folder or none) into a [`Tree`] rooted at `usr/`.
//!
//! Steps: sniff the compression from the first bytes, read every member into memory
//! (refusing `..` and escaping symlinks), find the root as the folder that holds `bin/`,
//! then map each top-level folder `X/` of that root to `usr/X/`. Loose files at the root
//! (licences, READMEs) are skipped with a warning: a sysext has no place for them.

use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use fs_err as fs;
use tracing::{debug, warn};

use crate::error::{Result, SysextError};
use crate::tree::{stays_inside, FileSource, Tree};

/// One tarball member, read into memory.
enum Member {
    Dir,
    File { bytes: Arc<[u8]>, executable: bool },
    Symlink { target: PathBuf },
    HardLink { target: PathBuf },
}

/// Reads the tarball at `path` into a tree whose top folders sit under `usr/`.
pub fn tree_from_tarball(path: &Path) -> Result<Tree> {
    let members = read_members(path)?;
    let root = find_root(path, &members)?;
    debug!(tarball = %path.display(), root = %root.display(), "found the tarball's root");

    let mut tree = Tree::new();
    for (member_path, member) in &members {
        let Ok(inner) = member_path.strip_prefix(&root) else {
            continue;
        };
        if inner.as_os_str().is_empty() {
            continue;
        }
        if inner.components().count() == 1 && !matches!(member, Member::Dir) {
            warn!(path = %member_path.display(), "skipping a loose file at the tarball's root");
            continue;
        }
        let target = Path::new("usr").join(inner);
        match member {
            Member::Dir => tree.insert_dir(&target)?,
            Member::File { bytes, executable } => {
                tree.insert_file(&target, FileSource::Bytes(bytes.clone()), *executable)?
            }
            Member::Symlink { target: link } => {
                if link.is_relative() && !stays_inside(inner, link) {
                    let (path, target) = (member_path.clone(), link.clone());
                    return Err(SysextError::SymlinkEscapes { path, target });
                }
                tree.insert_symlink(&target, link.clone())?
            }
            Member::HardLink { target: link } => {
                let bytes = hard_link_bytes(&members, member_path, link)?;
                tree.insert_file(&target, FileSource::Bytes(bytes.0), bytes.1)?
            }
        }
    }
    Ok(tree)
}

/// Reads every member of a plain or gzip-compressed tarball, in archive order.
fn read_members(path: &Path) -> Result<Vec<(PathBuf, Member)>> {
    let mut file = BufReader::new(fs::File::open(path)?);
    let mut magic = [0u8; 6];
    let sniffed = std::io::Read::read(&mut file, &mut magic)?;
    let format = sniff(&magic[..sniffed]);
    let mut file = BufReader::new(fs::File::open(path)?);
    let reader: Box<dyn Read> = match format {
        Some("gzip") => Box::new(flate2::read::MultiGzDecoder::new(&mut file)),
        None => Box::new(&mut file),
        Some(format) => {
            // TODO(#5): read xz and zstd tarballs as well.
            return Err(SysextError::UnsupportedTarball {
                path: path.to_owned(),
                format,
            });
        }
    };

    let mut archive = tar::Archive::new(reader);
    let mut members = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw_path = entry.path()?.into_owned();
        let member_path = clean(&raw_path)?;
        let kind = entry.header().entry_type();
        let link = entry.link_name()?.map(|l| l.into_owned());
        let member = match (kind, link) {
            (tar::EntryType::Directory, _) => Member::Dir,
            (tar::EntryType::Symlink, Some(target)) => Member::Symlink { target },
            (tar::EntryType::Link, Some(target)) => Member::HardLink {
                target: clean(&target)?,
            },
            (tar::EntryType::Regular | tar::EntryType::Continuous, _) => {
                let executable = entry.header().mode()? & 0o111 != 0;
                let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
                entry.read_to_end(&mut bytes)?;
                Member::File {
                    bytes: bytes.into(),
                    executable,
                }
            }
            _ => return Err(SysextError::UnsupportedFileType { path: raw_path }),
        };
        members.push((member_path, member));
    }
    Ok(members)
}

/// Names the compression of a file from its first bytes; `None` for an uncompressed tar.
fn sniff(magic: &[u8]) -> Option<&'static str> {
    match magic {
        [0x1f, 0x8b, ..] => Some("gzip"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => Some("xz"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
        [b'B', b'Z', b'h', ..] => Some("bzip2"),
        _ => None,
    }
}

/// The folder holding `bin/`: the tarball's top, or its single top folder.
fn find_root(tarball: &Path, members: &[(PathBuf, Member)]) -> Result<PathBuf> {
    let has_bin = |root: &Path| members.iter().any(|(p, _)| p.starts_with(root.join("bin")));
    if has_bin(Path::new("")) {
        return Ok(PathBuf::new());
    }
    let mut tops = members.iter().filter_map(|(p, _)| p.components().next());
    let first = tops.next().map(|c| PathBuf::from(c.as_os_str()));
    match first {
        Some(top) if tops.all(|c| c.as_os_str() == top.as_os_str()) && has_bin(&top) => Ok(top),
        _ => Err(SysextError::TarballWithoutBin {
            path: tarball.to_owned(),
        }),
    }
}

/// Normalises a member path, refusing `..`; a leading `/` or `./` is dropped.
fn clean(path: &Path) -> Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(SysextError::UnsafePath {
                    path: path.to_owned(),
                })
            }
        }
    }
    Ok(clean)
}

/// The bytes of the regular file a hard link points at (it must come earlier).
fn hard_link_bytes(
    members: &[(PathBuf, Member)],
    path: &Path,
    target: &Path,
) -> Result<(Arc<[u8]>, bool)> {
    members
        .iter()
        .find_map(|(p, m)| match m {
            Member::File { bytes, executable } if p == target => {
                Some((Arc::clone(bytes), *executable))
            }
            _ => None,
        })
        .ok_or_else(|| SysextError::UnsupportedFileType {
            path: path.to_owned(),
        })
}
