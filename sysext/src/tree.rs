//! The in-memory plan of an image: every path it will hold, with what goes there.
//!
//! A [`Tree`] is filled from a directory ([`Tree::add_dir`]), a release tarball
//! ([`crate::tarball`]) or the nnedge preset ([`crate::preset`]). Insertion is where paths
//! are judged: every path is relative, made of plain components (no `..`), and every
//! relative symlink must resolve inside the image. Parents are created as directories.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use fs_err as fs;

use crate::error::{Result, SysextError};

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A file on disk, read while the image is written.
    Path(PathBuf),
    /// Bytes held in memory (tarball members, generated files).
    Bytes(Arc<[u8]>),
}

/// One entry of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEntry {
    /// A directory (mode 0755).
    Dir,
    /// A regular file: mode 0755 when `executable`, else 0644.
    File {
        /// Its contents.
        source: FileSource,
        /// Whether any execute bit was set in the input.
        executable: bool,
    },
    /// A symlink (mode 0777) to `target`, kept as written.
    Symlink {
        /// The link's target, relative or absolute.
        target: PathBuf,
    },
}

impl TreeEntry {
    /// The mode bits the image records for this entry.
    pub fn mode(&self) -> u16 {
        match self {
            Self::Dir
            | Self::File {
                executable: true, ..
            } => 0o755,
            Self::File {
                executable: false, ..
            } => 0o644,
            Self::Symlink { .. } => 0o777,
        }
    }
}

/// The image's contents, keyed by relative path in sorted (parent-first) order.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    entries: BTreeMap<PathBuf, TreeEntry>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, parents before children.
    pub fn entries(&self) -> impl Iterator<Item = (&Path, &TreeEntry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_path(), entry))
    }

    /// The entry at `path`, if any.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<&TreeEntry> {
        self.entries.get(path.as_ref())
    }

    /// Adds a directory (and its parents).
    pub fn insert_dir(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = checked_relative(path.as_ref())?;
        self.insert(path, TreeEntry::Dir)
    }

    /// Adds a regular file (and its parent directories).
    pub fn insert_file(
        &mut self,
        path: impl AsRef<Path>,
        source: FileSource,
        executable: bool,
    ) -> Result<()> {
        let path = checked_relative(path.as_ref())?;
        self.insert(path, TreeEntry::File { source, executable })
    }

    /// Adds a symlink; a relative target must resolve inside the tree.
    pub fn insert_symlink(&mut self, path: impl AsRef<Path>, target: PathBuf) -> Result<()> {
        let path = checked_relative(path.as_ref())?;
        if target.is_relative() && !stays_inside(&path, &target) {
            return Err(SysextError::SymlinkEscapes { path, target });
        }
        self.insert(path, TreeEntry::Symlink { target })
    }

    /// Adds the contents of directory `source` under `prefix` (empty for the image root),
    /// without following symlinks.
    pub fn add_dir(&mut self, prefix: impl AsRef<Path>, source: &Path) -> Result<()> {
        let prefix = prefix.as_ref();
        if !prefix.as_os_str().is_empty() {
            self.insert_dir(prefix)?;
        }
        let mut children: Vec<_> = fs::read_dir(source)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|child| child.file_name());
        for child in children {
            let inner = prefix.join(child.file_name());
            self.add_path(&inner, &child.path())?;
        }
        Ok(())
    }

    fn add_path(&mut self, inner: &Path, source: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(source)?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            self.add_dir(inner, source)
        } else if file_type.is_symlink() {
            self.insert_symlink(inner, fs::read_link(source)?)
        } else if file_type.is_file() {
            let executable = meta.permissions().mode() & 0o111 != 0;
            self.insert_file(inner, FileSource::Path(source.to_owned()), executable)
        } else {
            Err(SysextError::UnsupportedFileType {
                path: source.to_owned(),
            })
        }
    }

    fn insert(&mut self, path: PathBuf, entry: TreeEntry) -> Result<()> {
        // Create missing parents; a parent that is not a directory is a conflict.
        for parent in path
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
        {
            match self.entries.get(parent) {
                Some(TreeEntry::Dir) => break,
                Some(_) => {
                    return Err(SysextError::DuplicateEntry {
                        path: parent.to_owned(),
                    })
                }
                None => {
                    self.entries.insert(parent.to_owned(), TreeEntry::Dir);
                }
            }
        }
        match self.entries.get(&path) {
            None => {
                self.entries.insert(path, entry);
                Ok(())
            }
            Some(existing) if *existing == entry => Ok(()),
            Some(_) => Err(SysextError::DuplicateEntry { path }),
        }
    }
}

/// Normalises an input path to plain components, refusing `..`, roots and non-UTF-8.
fn checked_relative(path: &Path) -> Result<PathBuf> {
    let unsafe_path = || SysextError::UnsafePath {
        path: path.to_owned(),
    };
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) if part.to_str().is_some() => clean.push(part),
            Component::CurDir => {}
            _ => return Err(unsafe_path()),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(unsafe_path());
    }
    Ok(clean)
}

/// Whether a relative symlink at `link` pointing at `target` resolves inside the tree.
pub(crate) fn stays_inside(link: &Path, target: &Path) -> bool {
    let mut depth = link.components().count() - 1;
    for component in target.components() {
        match component {
            Component::ParentDir if depth == 0 => return false,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_and_paths_normalised() {
        let mut tree = Tree::new();
        tree.insert_file(
            "./usr/bin/tool",
            FileSource::Bytes(Arc::from(&b"x"[..])),
            true,
        )
        .expect("insert");
        let paths: Vec<_> = tree
            .entries()
            .map(|(p, e)| (p.to_owned(), e.mode()))
            .collect();
        assert_eq!(
            paths,
            [
                (PathBuf::from("usr"), 0o755),
                (PathBuf::from("usr/bin"), 0o755),
                (PathBuf::from("usr/bin/tool"), 0o755)
            ]
        );
    }

    #[test]
    fn parent_dir_components_are_refused() {
        for bad in ["usr/../../etc/passwd", "/usr/bin/x", "..", "", "usr/bin/.."] {
            let err = Tree::new().insert_dir(bad).expect_err(bad);
            assert!(
                matches!(err, SysextError::UnsafePath { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn relative_symlinks_must_stay_inside() {
        let mut tree = Tree::new();
        tree.insert_symlink("usr/lib/lib/a.so", "../x86_64-linux-gnu/a.so".into())
            .expect("inside");
        tree.insert_symlink("usr/bin/sh", "/bin/bash".into())
            .expect("absolute is kept");
        let err = tree
            .insert_symlink("usr/bin/esc", "../../../etc".into())
            .expect_err("escape");
        assert!(matches!(err, SysextError::SymlinkEscapes { .. }), "{err}");
    }

    #[test]
    fn a_file_where_a_directory_is_needed_conflicts() {
        let mut tree = Tree::new();
        tree.insert_file("usr/x", FileSource::Bytes(Arc::from(&b""[..])), false)
            .expect("file");
        let err = tree.insert_dir("usr/x/y").expect_err("conflict");
        assert!(matches!(err, SysextError::DuplicateEntry { .. }), "{err}");
    }
}
