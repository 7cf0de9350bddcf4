//! Debian packages: the system's own (installed with `apt-get install`) and foreign ones
//! (downloaded with a private apt configuration and unpacked with `dpkg-deb -x`).
//!
//! The mirror is never written down here: it is read from the machine's own apt sources, so
//! the same code works wherever the machine's apt works.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::process::{run, run_output, Cmd};

/// Downloads land in the cache, which apt's unprivileged `_apt` user cannot write to.
const NO_SANDBOX: &str = "-oAPT::Sandbox::User=root";

/// Packages the build and the tests need on the machine itself, with a command that shows
/// whether each is already there.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("cmake", "/usr/bin/cmake"),
    ("clang-19", "/usr/bin/clang-19"),
    ("libclang-dev", "/usr/lib/llvm-14/lib/libclang.so"),
    ("squashfs-tools", "/usr/bin/unsquashfs"),
    ("patchelf", "/usr/bin/patchelf"),
    // objdump, for the check that the portable flavour holds no native-only code.
    ("binutils", "/usr/bin/objdump"),
    ("systemd", "/bin/systemd-sysext"),
    ("systemd-container", "/usr/bin/systemd-dissect"),
    ("curl", "/usr/bin/curl"),
    // The chat page's browser tests; the fonts make emoji and CJK readable in screenshots.
    ("chromium", "/usr/bin/chromium"),
    (
        "fonts-noto-color-emoji",
        "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    ),
    (
        "fonts-wqy-microhei",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    ),
];

/// Installs whichever of [`SYSTEM_PACKAGES`] is missing; does nothing when all are present.
pub fn install_system_packages() -> Result<()> {
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|(_, probe)| !Path::new(probe).exists())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    run(Cmd::new("apt-get").args(["update", "-q"]))?;
    run(Cmd::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .context("failed to install Debian packages; run as root or install them by hand")
}

/// The Debian archive and security URIs the machine's apt already uses.
#[derive(Debug)]
pub struct Mirror {
    pub archive: String,
    pub security: String,
}

impl Mirror {
    /// Reads `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*` (one-line and deb822).
    pub fn from_system() -> Result<Self> {
        let mut text = String::new();
        let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
        if let Ok(dir) = fs_err::read_dir("/etc/apt/sources.list.d") {
            files.extend(dir.filter_map(|e| e.ok()).map(|e| e.path()));
        }
        for file in files {
            if let Ok(body) = fs_err::read_to_string(&file) {
                text.push_str(&body);
                text.push('\n');
            }
        }
        Self::parse(&text)
    }

    fn parse(text: &str) -> Result<Self> {
        let uris = text.lines().flat_map(|line| {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            } else if line.starts_with("deb ") {
                line.split_whitespace()
                    .skip(1)
                    .find(|w| w.contains("://"))
                    .map(str::to_owned)
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            }
        });
        let (mut archive, mut security) = (None, None);
        for uri in uris {
            let uri = uri.trim_end_matches('/').to_owned();
            if uri.ends_with("-security") {
                security.get_or_insert(uri);
            } else if uri.ends_with("/debian") {
                archive.get_or_insert(uri);
            }
        }
        match (archive, security) {
            (Some(archive), Some(security)) => Ok(Self { archive, security }),
            (Some(archive), None) => Ok(Self {
                security: format!("{archive}-security"),
                archive,
            }),
            _ => bail!(
                "found no Debian mirror in /etc/apt/sources.list{{,.d/*}}; configure apt first"
            ),
        }
    }
}

/// An apt configuration of its own, for another Debian release, that leaves the system's
/// apt state alone.
#[derive(Debug)]
pub struct PrivateApt {
    dir: PathBuf,
}

impl PrivateApt {
    /// Writes sources for `suite` (and `suite-security`) under `dir` and runs `apt-get update`.
    pub fn create(dir: &Path, suite: &str) -> Result<Self> {
        let mirror = Mirror::from_system()?;
        let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
        fs_err::create_dir_all(dir.join("state/lists/partial"))?;
        fs_err::create_dir_all(dir.join("cache/archives/partial"))?;
        fs_err::write(dir.join("state/status"), b"")?;
        fs_err::write(
            dir.join("sources.list"),
            format!(
                "deb [signed-by={keyring}] {} {suite} main\n\
                 deb [signed-by={keyring}] {} {suite}-security main\n",
                mirror.archive, mirror.security
            ),
        )?;
        let apt = Self {
            dir: dir.to_owned(),
        };
        run(apt.apt_get().args(["update", "-q"]))?;
        Ok(apt)
    }

    fn apt_get(&self) -> Cmd {
        let d = self.dir.display();
        Cmd::new("apt-get").args([
            format!("-oDir::State={d}/state"),
            format!("-oDir::Cache={d}/cache"),
            format!("-oDir::Etc::SourceList={d}/sources.list"),
            "-oDir::Etc::SourceParts=/nonexistent".to_owned(),
            format!("-oDir::State::status={d}/state/status"),
        ])
    }

    /// Downloads the named packages into `into`.
    pub fn download(&self, packages: &[String], into: &Path) -> Result<()> {
        fs_err::create_dir_all(into)?;
        run(self
            .apt_get()
            .arg(NO_SANDBOX)
            .arg("download")
            .args(packages)
            .current_dir(into))
    }
}

/// Downloads packages with the system's own apt configuration into `into`.
pub fn download(packages: &[String], into: &Path) -> Result<()> {
    fs_err::create_dir_all(into)?;
    run(Cmd::new("apt-get")
        .arg(NO_SANDBOX)
        .arg("download")
        .args(packages)
        .current_dir(into))
    .context("apt-get download failed; `apt-get update` may be needed first")
}

/// The fields of the candidate version of a package, as `apt-cache show` prints them.
pub fn show(package: &str) -> Result<String> {
    run_output(Cmd::new("apt-cache").args(["show", "--no-all-versions", package]))
}

/// Unpacks every `.deb` in `debs` into `root` (no maintainer scripts run).
pub fn extract_all(debs: &Path, root: &Path) -> Result<()> {
    fs_err::create_dir_all(root)?;
    let mut found = 0;
    for entry in fs_err::read_dir(debs)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            run(Cmd::new("dpkg-deb").arg("-x").arg(&path).arg(root))?;
            found += 1;
        }
    }
    if found == 0 {
        bail!("no .deb files in {}", debs.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_deb822_sources() {
        let text = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n\
                    Types: deb\nURIs: http://mirror.example/debian-security\n";
        let m = Mirror::parse(text).unwrap();
        assert_eq!(m.archive, "http://mirror.example/debian");
        assert_eq!(m.security, "http://mirror.example/debian-security");
    }

    #[test]
    fn reads_one_line_sources() {
        let text = "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n";
        let m = Mirror::parse(text).unwrap();
        assert_eq!(m.archive, "http://mirror.example/debian");
        assert_eq!(m.security, "http://mirror.example/debian-security");
    }
}
