//! Writes a [`Tree`] as a sysext image: squashfs 4.0, little endian, every entry owned by
//! root with an explicit mode and one fixed mtime, so the same input gives the same bytes.
//!
//! Steps: check the tree against systemd-sysext's rules, add the extension-release file,
//! push every entry into backhand's writer (files are opened lazily, one at a time), write
//! to a temporary file and rename it, then record its SHA-256 in `SHA256SUMS` and, on
//! request, write the sysupdate transfer file.

use std::io::{BufWriter, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backhand::{FilesystemWriter, NodeHeader};
use fs_err as fs;
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use crate::arch::Architecture;
use crate::checks::check_tree;
use crate::compression::Compression;
use crate::dedup::first_block_collision;
use crate::error::{Result, SysextError};
use crate::release::{validate_name, validate_version, Compatibility, ExtensionRelease};
use crate::sysupdate::render_transfer;
use crate::tree::{FileSource, Tree, TreeEntry};

/// Name of the checksum list written beside the images, in `sha256sum` format.
pub const SHA256SUMS: &str = "SHA256SUMS";

/// What to bake: the image's identity and format.
#[derive(Debug, Clone)]
pub struct BakeSpec {
    /// The extension name (`NAME` in the file and release-file names).
    pub name: String,
    /// The version in the file name.
    pub version: String,
    /// The target architecture.
    pub architecture: Architecture,
    /// `ID=_any` or `ID=flatcar` + `SYSEXT_LEVEL`.
    pub compatibility: Compatibility,
    /// Adds `EXTENSION_RELOAD_MANAGER=1`.
    pub reload_manager: bool,
    /// The squashfs compressor.
    pub compression: Compression,
    /// The mtime of every entry and of the image (`SOURCE_DATE_EPOCH`).
    pub mtime: u32,
    /// When set, also write the sysupdate transfer file `NAME.conf` for this source URL.
    pub sysupdate_url: Option<String>,
}

impl BakeSpec {
    /// A spec with the defaults: `ID=_any`, gzip, mtime 0, no reload, no transfer file.
    pub fn new(name: &str, version: &str, architecture: Architecture) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            architecture,
            compatibility: Compatibility::Any,
            reload_manager: false,
            compression: Compression::Gzip,
            mtime: 0,
            sysupdate_url: None,
        }
    }

    /// `NAME-VERSION-ARCH.raw`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.raw",
            self.name,
            self.version,
            self.architecture.systemd_name()
        )
    }

    fn release(&self) -> ExtensionRelease {
        ExtensionRelease {
            compatibility: self.compatibility,
            architecture: self.architecture,
            reload_manager: self.reload_manager,
        }
    }
}

/// What a bake produced.
#[derive(Debug, Clone)]
pub struct BakeOutput {
    /// The image file.
    pub image: PathBuf,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// The `SHA256SUMS` file updated with the image's line.
    pub sums: PathBuf,
    /// The sysupdate transfer file, when asked for.
    pub transfer: Option<PathBuf>,
    /// Paths kept in the image that systemd-sysext ignores (outside usr/ and opt/).
    pub ignored: Vec<PathBuf>,
}

/// Bakes `tree` into `out_dir/NAME-VERSION-ARCH.raw`.
pub fn bake_image(tree: &Tree, spec: &BakeSpec, out_dir: &Path) -> Result<BakeOutput> {
    bake_image_as(tree, spec, &out_dir.join(spec.file_name()))
}

/// Bakes `tree` into `image`, whose file name must be `NAME.raw` or `NAME-*.raw`.
pub fn bake_image_as(tree: &Tree, spec: &BakeSpec, image: &Path) -> Result<BakeOutput> {
    validate_name(&spec.name)?;
    validate_version(&spec.version)?;
    check_file_name(&spec.name, image)?;
    let ignored = check_tree(tree, &spec.name)?;
    let transfer_text = match &spec.sysupdate_url {
        Some(url) => Some(render_transfer(&spec.name, url)?),
        None => None,
    };

    // The release file goes in last, so the input cannot replace it.
    let mut tree = tree.clone();
    let release = spec.release().render();
    let release_path = ExtensionRelease::path_for(&spec.name);
    tree.insert_file(
        &release_path,
        FileSource::Bytes(Arc::from(release.as_bytes())),
        false,
    )?;

    let out_dir = image
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(out_dir)?;
    write_squashfs(&tree, spec, image)?;
    let sha256 = sha256_file(image)?;
    let sums = out_dir.join(SHA256SUMS);
    record_checksum(&sums, image, &sha256)?;

    let transfer = match transfer_text {
        Some(text) => {
            let path = out_dir.join(format!("{}.conf", spec.name));
            fs::write(&path, text)?;
            Some(path)
        }
        None => None,
    };
    info!(image = %image.display(), %sha256, "baked sysext image");
    Ok(BakeOutput {
        image: image.to_owned(),
        sha256,
        sums,
        transfer,
        ignored,
    })
}

/// Refuses an output file name whose NAME part is not the extension name.
fn check_file_name(name: &str, image: &Path) -> Result<()> {
    let file_name = image
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let stem = file_name.strip_suffix(".raw").unwrap_or(file_name);
    let matches = file_name.ends_with(".raw")
        && (stem == name
            || stem
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('-')));
    if matches {
        Ok(())
    } else {
        Err(SysextError::NameMismatch {
            name: name.to_owned(),
            found: file_name.to_owned(),
        })
    }
}

/// Writes the squashfs image through a temporary file renamed into place.
fn write_squashfs(tree: &Tree, spec: &BakeSpec, image: &Path) -> Result<()> {
    let squashfs_error = |source| SysextError::Squashfs {
        path: image.to_owned(),
        source,
    };
    let mut writer = FilesystemWriter::default();
    writer.set_time(spec.mtime);
    writer.set_compressor(
        spec.compression
            .filesystem_compressor()
            .map_err(squashfs_error)?,
    );
    writer.set_root_mode(0o755);
    writer.set_root_uid(0);
    writer.set_root_gid(0);
    writer.set_only_root_id();

    // backhand deduplicates files by their first block only; turn that off when two
    // different files share a first block.
    if first_block_collision(&tree.entries().collect::<Vec<_>>())? {
        debug!("files share a first block but differ: not deduplicating");
        writer.set_no_duplicate_files(false);
    }

    for (path, entry) in tree.entries() {
        let header = NodeHeader::new(entry.mode(), 0, 0, spec.mtime);
        let pushed = match entry {
            TreeEntry::Dir => writer.push_dir(path, header),
            TreeEntry::Symlink { target } => writer.push_symlink(target.clone(), path, header),
            TreeEntry::File { source, .. } => {
                writer.push_file(LazyReader::new(source), path, header)
            }
        };
        pushed.map_err(squashfs_error)?;
    }

    let partial = image.with_extension("raw.partial");
    let written = fs::File::create(&partial)
        .map_err(SysextError::from)
        .and_then(|file| writer.write(BufWriter::new(file)).map_err(squashfs_error));
    if let Err(err) = written {
        let _ = fs::remove_file(&partial);
        return Err(err);
    }
    fs::rename(&partial, image)?;
    Ok(())
}

/// Reads a [`FileSource`], opening a file on its first read and closing it at its end so
/// that thousands of files never hold thousands of descriptors.
enum LazyReader {
    Pending(PathBuf),
    Open(fs::File),
    Memory(Cursor<Arc<[u8]>>),
    Done,
}

impl LazyReader {
    fn new(source: &FileSource) -> Self {
        match source {
            FileSource::Path(path) => Self::Pending(path.clone()),
            FileSource::Bytes(bytes) => Self::Memory(Cursor::new(Arc::clone(bytes))),
        }
    }
}

impl Read for LazyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Self::Pending(path) = self {
            *self = Self::Open(fs::File::open(&*path)?);
        }
        let read = match self {
            Self::Open(file) => file.read(buf)?,
            Self::Memory(cursor) => cursor.read(buf)?,
            Self::Pending(_) | Self::Done => 0,
        };
        if read == 0 && !buf.is_empty() {
            *self = Self::Done;
        }
        Ok(read)
    }
}

/// The SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Adds or replaces the line for `image` in a `sha256sum`-format list.
fn record_checksum(sums: &Path, image: &Path, sha256: &str) -> Result<()> {
    let file_name = image
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let existing = match fs::read_to_string(sums) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err.into()),
    };
    let mut lines: Vec<String> = existing
        .lines()
        .filter(|line| line.split_once("  ").map(|(_, f)| f) != Some(file_name))
        .map(str::to_owned)
        .collect();
    lines.push(format!("{sha256}  {file_name}"));
    lines.sort_by(|a, b| {
        a.split_once("  ")
            .map(|x| x.1)
            .cmp(&b.split_once("  ").map(|x| x.1))
    });
    fs::write(sums, lines.join("\n") + "\n")?;
    Ok(())
}
