//! The rules systemd-sysext applies to an image's paths, shared by `bake` (which refuses)
//! and `inspect` (which explains).
//!
//! systemd-sysext only overlays `/usr` and `/opt`; it refuses an image that carries an
//! os-release; and on Flatcar `/usr/sbin` is a symlink to `bin`, which a merged `usr/sbin`
//! directory would hide.

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::error::{Result, SysextError};
use crate::release::RELEASE_DIR;
use crate::tree::{Tree, TreeEntry};

/// The hierarchies systemd-sysext merges.
pub const MERGED_HIERARCHIES: [&str; 2] = ["usr", "opt"];

/// Whether systemd-sysext ignores `path` (it is neither under `usr/` nor `opt/`).
pub fn is_outside_hierarchies(path: &Path) -> bool {
    !MERGED_HIERARCHIES.iter().any(|top| path.starts_with(top))
}

/// Whether `path` is an os-release file that makes systemd refuse the image.
pub fn is_os_release(path: &Path) -> bool {
    path == Path::new("usr/lib/os-release")
}

/// Whether `path` is `usr/sbin` or inside it.
pub fn is_under_usr_sbin(path: &Path) -> bool {
    path.starts_with("usr/sbin")
}

/// The extension name of a release file path, if `path` is one.
pub fn release_name(path: &Path) -> Option<&str> {
    let name = path.strip_prefix(RELEASE_DIR).ok()?.to_str()?;
    name.strip_prefix("extension-release.")
        .filter(|n| !n.contains('/'))
}

/// Refuses a tree systemd-sysext would not merge as extension `name` (including one with
/// no file or symlink under `usr/` or `opt/`), and returns the paths it would ignore
/// (warned about, kept in the image).
pub fn check_tree(tree: &Tree, name: &str) -> Result<Vec<PathBuf>> {
    let merged_content = tree
        .entries()
        .any(|(path, entry)| !matches!(entry, TreeEntry::Dir) && !is_outside_hierarchies(path));
    if !merged_content {
        return Err(SysextError::EmptyImage);
    }
    let mut ignored = Vec::new();
    for (path, entry) in tree.entries() {
        if is_os_release(path) {
            return Err(SysextError::OsRelease {
                path: path.to_owned(),
            });
        }
        if is_under_usr_sbin(path) {
            return Err(SysextError::UsrSbin {
                path: path.to_owned(),
            });
        }
        match release_name(path) {
            Some(found) if found != name => {
                let (name, found) = (name.to_owned(), found.to_owned());
                return Err(SysextError::NameMismatch { name, found });
            }
            Some(_) => {
                return Err(SysextError::ReleaseFileInInput {
                    path: path.to_owned(),
                })
            }
            None => {}
        }
        let top_level_dir = matches!(entry, TreeEntry::Dir) && path.components().count() == 1;
        if is_outside_hierarchies(path) && !top_level_dir {
            warn!(path = %path.display(), "systemd-sysext ignores files outside usr/ and opt/");
            ignored.push(path.to_owned());
        }
    }
    Ok(ignored)
}
