//! Just enough of the GGUF format to check a model file before a guest is started on it:
//! a wrong or truncated file is then a one-line error from `nnedge serve` instead of a
//! failure inside the guest.
//!
//! A GGUF file starts with `GGUF`, a version, the tensor and key/value counts, then the
//! key/value pairs: a length-prefixed key, a `u32` value type and the value. Only the walk
//! over the pairs is implemented; tensors are never touched.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Strings and arrays longer than this are refused as corrupt rather than allocated.
const MAX_LEN: u64 = 256 << 20;

/// Fails unless `path` starts like a GGUF file: the magic and a version llama.cpp reads.
pub fn check_header(path: &Path) -> Result<()> {
    read_header(&mut fs_err::File::open(path)?, path)
}

/// Reads and checks the magic and version at the start of a GGUF file.
fn read_header(r: &mut impl Read, path: &Path) -> Result<()> {
    let mut header = [0u8; 8];
    if r.read_exact(&mut header).is_err() || &header[..4] != b"GGUF" {
        bail!(
            "`{}` is not a GGUF model file (it does not start with `GGUF`)",
            path.display()
        );
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(2..=3).contains(&version) {
        bail!(
            "`{}` is GGUF version {version}; llama.cpp reads versions 2 and 3",
            path.display()
        );
    }
    Ok(())
}

/// Reads every metadata key and value of a GGUF file, so that a file cut or corrupted
/// anywhere in its metadata is an error here rather than in llama.cpp. Returns the number of
/// metadata entries.
pub fn check_metadata(path: &Path) -> Result<u64> {
    let mut r = BufReader::new(fs_err::File::open(path)?);
    read_header(&mut r, path)?;
    let _tensors = read_u64(&mut r)?;
    let pairs = read_u64(&mut r)?;
    for _ in 0..pairs {
        let _key = read_string(&mut r)?;
        let kind = read_u32(&mut r)?;
        skip_value(&mut r, kind)?;
    }
    Ok(pairs)
}

/// The value type of a GGUF string.
const STRING: u32 = 8;
/// The value type of a GGUF array.
const ARRAY: u32 = 9;

/// Skips one value of type `kind`.
fn skip_value(r: &mut impl Read, kind: u32) -> Result<()> {
    match kind {
        STRING => {
            let len = checked_len(read_u64(r)?)?;
            skip(r, len)
        }
        ARRAY => {
            let item = read_u32(r)?;
            let count = checked_len(read_u64(r)?)?;
            match scalar_size(item) {
                Some(size) => skip(r, count.checked_mul(size).context("GGUF array too large")?),
                None => (0..count).try_for_each(|_| skip_value(r, item)),
            }
        }
        other => match scalar_size(other) {
            Some(size) => skip(r, size),
            None => bail!("unknown GGUF value type {other}; the file is corrupt or newer"),
        },
    }
}

/// Bytes of a fixed-size value type, `None` for strings, arrays and unknown types.
fn scalar_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1), // u8, i8, bool
        2 | 3 => Some(2),     // u16, i16
        4..=6 => Some(4),     // u32, i32, f32
        10..=12 => Some(8),   // u64, i64, f64
        _ => None,
    }
}

fn checked_len(len: u64) -> Result<u64> {
    if len > MAX_LEN {
        bail!("GGUF length {len} is implausibly large; the file is corrupt");
    }
    Ok(len)
}

fn skip(r: &mut impl Read, len: u64) -> Result<()> {
    let copied = std::io::copy(&mut r.take(len), &mut std::io::sink())?;
    if copied != len {
        bail!("the GGUF file ends inside its metadata");
    }
    Ok(())
}

fn read_u32(r: &mut impl Read) -> Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)
        .context("the GGUF file ends inside its metadata")?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)
        .context("the GGUF file ends inside its metadata")?;
    Ok(u64::from_le_bytes(b))
}

fn read_string(r: &mut impl Read) -> Result<String> {
    let len = checked_len(read_u64(r)?)?;
    let mut bytes = Vec::with_capacity(len as usize);
    r.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        bail!("the GGUF file ends inside its metadata");
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_model(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/models")
            .join(name)
    }

    /// The default model from the cache, if there; fails instead of skipping when CI is set.
    fn cached_default_model() -> Option<std::path::PathBuf> {
        let cache = std::env::var_os("NNEDGE_CACHE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/nnedge")
            });
        let path = cache.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        if !path.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} missing",
                path.display()
            );
            eprintln!("skipped: {} missing", path.display());
            return None;
        }
        Some(path)
    }

    #[test]
    fn real_models_have_whole_metadata() {
        let stories = shared_model("stories260K.gguf");
        assert!(check_metadata(&stories).unwrap() > 10);
        if let Some(path) = cached_default_model() {
            assert!(check_metadata(&path).unwrap() > 10);
        }
    }

    #[test]
    fn a_model_cut_inside_its_metadata_is_an_error() {
        let Some(path) = cached_default_model() else {
            return;
        };
        let bytes = fs_err::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.gguf");
        fs_err::write(&cut, &bytes[..64 * 1024]).unwrap();
        assert!(check_metadata(&cut).is_err());
    }

    #[test]
    fn truncated_metadata_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gguf");
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(1u64.to_le_bytes());
        bytes.extend(u64::MAX.to_le_bytes()); // an absurd key length
        fs_err::write(&path, bytes).unwrap();
        assert!(check_metadata(&path)
            .unwrap_err()
            .to_string()
            .contains("implausibly large"));
    }
}
