//! The extension-release file systemd-sysext reads before it merges an image, and the
//! rules for the names that end up in file names.
//!
//! The file lives at `usr/lib/extension-release.d/extension-release.NAME`, where NAME
//! must equal the image's file name without `.raw`; systemd compares its `ID=` (and for a
//! real OS id, `SYSEXT_LEVEL=` or `VERSION_ID=`) with the host's os-release, and its
//! `ARCHITECTURE=` with the host's CPU.

use std::path::PathBuf;

use crate::arch::Architecture;
use crate::error::SysextError;

/// Folder of extension-release files inside an image.
pub const RELEASE_DIR: &str = "usr/lib/extension-release.d";

/// The SYSEXT_LEVEL Flatcar's os-release declares (and the bakery's images carry).
pub const FLATCAR_SYSEXT_LEVEL: &str = "1.0";

/// Which hosts an image declares itself compatible with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compatibility {
    /// `ID=_any`: any distribution (systemd skips the ID and level checks).
    #[default]
    Any,
    /// `ID=flatcar` with `SYSEXT_LEVEL=1.0`: Flatcar only.
    Flatcar,
}

/// The contents of an extension-release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRelease {
    /// The `ID=` line (and `SYSEXT_LEVEL=` for Flatcar).
    pub compatibility: Compatibility,
    /// The `ARCHITECTURE=` line.
    pub architecture: Architecture,
    /// Adds `EXTENSION_RELOAD_MANAGER=1`: systemd reloads its units after merging, so
    /// units shipped in the image start without a manual `daemon-reload`.
    pub reload_manager: bool,
}

impl ExtensionRelease {
    /// The file's text, one `KEY=VALUE` a line.
    pub fn render(&self) -> String {
        let mut text = match self.compatibility {
            Compatibility::Any => "ID=_any\n".to_owned(),
            Compatibility::Flatcar => format!("ID=flatcar\nSYSEXT_LEVEL={FLATCAR_SYSEXT_LEVEL}\n"),
        };
        text.push_str(&format!(
            "ARCHITECTURE={}\n",
            self.architecture.systemd_name()
        ));
        if self.reload_manager {
            text.push_str("EXTENSION_RELOAD_MANAGER=1\n");
        }
        text
    }

    /// Where the release file for `name` goes inside the image.
    pub fn path_for(name: &str) -> PathBuf {
        PathBuf::from(RELEASE_DIR).join(format!("extension-release.{name}"))
    }
}

/// Reads `KEY=VALUE` lines of an os-release style file, unquoting simple quoted values.
pub fn parse_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (key.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// Checks an extension name: it becomes a file name and a release-file suffix.
pub fn validate_name(name: &str) -> Result<(), SysextError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() <= 128 {
        Ok(())
    } else {
        Err(SysextError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Checks a version: it sits between NAME and ARCH in the image file name.
pub fn validate_version(version: &str) -> Result<(), SysextError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._+~^-".contains(c);
    let starts_ok = version
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if starts_ok && version.chars().all(allowed) && version.len() <= 128 {
        Ok(())
    } else {
        Err(SysextError::InvalidVersion {
            version: version.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_plain_file_names_are_refused() {
        for bad in ["", "-x", ".hidden", "a/b", "a b", "wasm\u{e9}dge"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        for good in ["nnedge", "wasmedge", "docker-compose", "llama_edge.2"] {
            validate_name(good).expect(good);
        }
    }

    #[test]
    fn versions_with_separators_are_refused() {
        for bad in ["", "1/2", "1 2", "-1"] {
            assert!(validate_version(bad).is_err(), "{bad:?}");
        }
        validate_version("0.14.1-rc.1+git~1").expect("a rich version");
    }

    #[test]
    fn parse_reads_back_what_render_writes() {
        let release = ExtensionRelease {
            compatibility: Compatibility::Flatcar,
            architecture: Architecture::Arm64,
            reload_manager: true,
        };
        let pairs = parse_release(&release.render());
        let keys: Vec<_> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            [
                "ID=flatcar",
                "SYSEXT_LEVEL=1.0",
                "ARCHITECTURE=arm64",
                "EXTENSION_RELOAD_MANAGER=1"
            ]
        );
        assert_eq!(
            parse_release("# c\nID=\"_any\"\n\nX='y'")[1],
            ("X".into(), "y".into())
        );
    }
}
