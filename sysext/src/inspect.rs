//! Reads a baked (or foreign) sysext image and explains it: the tree with owners and
//! modes, the extension-release file, and every reason systemd-sysext would refuse it.

use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use backhand::{FilesystemReader, InnerNode};
use fs_err as fs;

use crate::arch::Architecture;
use crate::checks::{is_os_release, is_outside_hierarchies, release_name};
use crate::error::{Result, SysextError};
use crate::release::parse_release;

/// One entry of an image, as listed by `inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// The path inside the image, relative (the root is empty).
    pub path: PathBuf,
    /// `d`, `-`, `l`, or another `ls` type letter.
    pub kind: char,
    /// Permission bits.
    pub mode: u16,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// A symlink's target.
    pub link: Option<PathBuf>,
}

/// What `inspect` found in an image.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// Every entry, root first.
    pub entries: Vec<ImageEntry>,
    /// The extension-release files: name and text.
    pub releases: Vec<(String, String)>,
    /// Why systemd-sysext would not merge this image (empty when it would).
    pub refusals: Vec<String>,
    /// Things systemd-sysext would accept but that likely surprise.
    pub notes: Vec<String>,
}

/// Reads the image at `path` and checks it against systemd-sysext's rules.
pub fn inspect_image(path: &Path) -> Result<ImageReport> {
    check_magic(path)?;
    let squashfs_error = |source| SysextError::Squashfs {
        path: path.to_owned(),
        source,
    };
    let reader = BufReader::new(fs::File::open(path)?);
    let image = FilesystemReader::from_reader(reader).map_err(squashfs_error)?;

    let mut entries = Vec::new();
    let mut releases = Vec::new();
    for node in image.files() {
        let relative = node
            .fullpath
            .strip_prefix("/")
            .unwrap_or(&node.fullpath)
            .to_owned();
        let (kind, link) = match &node.inner {
            InnerNode::Dir(_) => ('d', None),
            InnerNode::File(file) => {
                if let Some(name) = release_name(&relative) {
                    let mut text = String::new();
                    image.file(file).reader().read_to_string(&mut text)?;
                    releases.push((name.to_owned(), text));
                }
                ('-', None)
            }
            InnerNode::Symlink(link) => ('l', Some(link.link.clone())),
            InnerNode::CharacterDevice(_) => ('c', None),
            InnerNode::BlockDevice(_) => ('b', None),
            InnerNode::NamedPipe => ('p', None),
            InnerNode::Socket => ('s', None),
        };
        let header = node.header;
        let (mode, uid, gid) = (header.permissions, header.uid, header.gid);
        entries.push(ImageEntry {
            path: relative,
            kind,
            mode,
            uid,
            gid,
            link,
        });
    }

    let stem = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".raw").unwrap_or(stem);
    let (refusals, notes) = judge(stem, &entries, &releases);
    Ok(ImageReport {
        entries,
        releases,
        refusals,
        notes,
    })
}

/// Refuses anything that is not a little-endian squashfs 4.0 image.
fn check_magic(path: &Path) -> Result<()> {
    let mut head = [0u8; 32];
    let read = fs::File::open(path)?.read(&mut head)?;
    let version = (
        u16::from_le_bytes([head[28], head[29]]),
        u16::from_le_bytes([head[30], head[31]]),
    );
    if read < head.len() || &head[..4] != b"hsqs" || version != (4, 0) {
        return Err(SysextError::NotSquashfs {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// systemd-sysext's rules applied to a listed image named `stem`.
fn judge(
    stem: &str,
    entries: &[ImageEntry],
    releases: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let mut refusals = Vec::new();
    let mut notes = Vec::new();

    // Paths first.
    for entry in entries {
        if is_os_release(&entry.path) {
            refusals.push("it carries usr/lib/os-release, which marks an OS image".to_owned());
        }
        if entry.path == Path::new("usr/sbin") {
            refusals.push("it has usr/sbin, which hides Flatcar's /usr/sbin symlink".to_owned());
        }
        let root_owned = entry.uid == 0 && entry.gid == 0;
        if !root_owned {
            notes.push(format!(
                "/{} is owned by {}:{}",
                entry.path.display(),
                entry.uid,
                entry.gid
            ));
        }
    }
    let merged = entries
        .iter()
        .any(|e| e.kind != 'd' && !is_outside_hierarchies(&e.path));
    if !merged {
        refusals.push("it has no file or symlink under usr/ or opt/".to_owned());
    }
    let ignored = entries
        .iter()
        .filter(|e| e.kind != 'd' && is_outside_hierarchies(&e.path))
        .count();
    if ignored > 0 {
        notes.push(format!(
            "{ignored} entries outside usr/ and opt/ are ignored when merged"
        ));
    }

    // Then the release file.
    match releases {
        [] => refusals.push(format!(
            "it has no usr/lib/extension-release.d/extension-release.{stem}"
        )),
        [(name, text)] => judge_release(stem, name, text, &mut refusals, &mut notes),
        _ => refusals.push("it has more than one extension-release file".to_owned()),
    }
    (refusals, notes)
}

/// The release file's own rules.
fn judge_release(
    stem: &str,
    name: &str,
    text: &str,
    refusals: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    if stem != name {
        let versioned = stem
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('-'));
        let message = format!(
            "its release file is for `{name}`, but the image file is `{stem}.raw`: \
             install it as /etc/extensions/{name}.raw (a symlink works)"
        );
        if versioned {
            notes.push(message)
        } else {
            refusals.push(message)
        }
    }

    let fields = parse_release(text);
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    match field("ID") {
        None | Some("") => refusals.push("its release file has no ID=".to_owned()),
        Some("_any") => {}
        Some(id) if field("SYSEXT_LEVEL").is_none() && field("VERSION_ID").is_none() => refusals
            .push(format!(
                "ID={id} needs SYSEXT_LEVEL= or VERSION_ID= to match a host"
            )),
        Some(_) => {}
    }
    if let Some(arch) = field("ARCHITECTURE") {
        match arch.parse::<Architecture>() {
            Ok(parsed) if parsed.systemd_name() == arch => {
                if Architecture::host().is_some_and(|host| host != parsed) {
                    notes.push(format!("ARCHITECTURE={arch} differs from this machine's"));
                }
            }
            _ => refusals.push(format!("ARCHITECTURE={arch} is not a systemd architecture")),
        }
    }
}

impl fmt::Display for ImageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            let link = entry.link.as_ref().map(|l| format!(" -> {}", l.display()));
            writeln!(
                f,
                "{}{} {}/{} /{}{}",
                entry.kind,
                mode_string(entry.mode),
                entry.uid,
                entry.gid,
                entry.path.display(),
                link.unwrap_or_default()
            )?;
        }
        for (name, text) in &self.releases {
            writeln!(f, "\n# extension-release.{name}\n{}", text.trim_end())?;
        }
        writeln!(f)?;
        if self.refusals.is_empty() {
            writeln!(f, "systemd-sysext would merge this image")?;
        }
        for refusal in &self.refusals {
            writeln!(f, "systemd-sysext would refuse this image: {refusal}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// `rwxr-xr-x` for 0o755.
fn mode_string(mode: u16) -> String {
    (0..9)
        .map(|bit| {
            let set = mode & (0o400 >> bit) != 0;
            match (set, bit % 3) {
                (false, _) => '-',
                (true, 0) => 'r',
                (true, 1) => 'w',
                (true, _) => 'x',
            }
        })
        .collect()
}
