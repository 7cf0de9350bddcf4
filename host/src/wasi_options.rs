//! The WASI side of `nnedge run`: `--dir` and `--env` values, parsed and checked before the
//! runtime sees them.
//!
//! nnedge's `--dir` reads `HOST[:GUEST]` (the guest path defaults to the host path as given).
//! The `wasmedge` CLI's order is the other way round (`GUEST:HOST`); when the host side does
//! not exist but the other side does, the error says so.

use std::path::PathBuf;
use std::str::FromStr;

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMapping {
    /// The directory on the host.
    pub host: PathBuf,
    /// The path the guest opens it under.
    pub guest: String,
}

/// Why a `--dir` or `--env` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WasiOptionError {
    #[error("invalid --dir `{0}`: expected HOST[:GUEST], e.g. `--dir ./data:/data`")]
    DirEmpty(String),
    #[error("invalid --dir `{spec}`: host directory `{host}` does not exist{hint}")]
    DirMissing {
        spec: String,
        host: String,
        hint: String,
    },
    #[error("invalid --dir `{spec}`: `{host}` is not a directory")]
    DirNotDirectory { spec: String, host: String },
    #[error(
        "invalid --dir `{spec}`: the guest path `{guest}` contains `:`, which WasmEdge cannot \
         map; choose a guest path without `:`"
    )]
    GuestPathColon { spec: String, guest: String },
    #[error(
        "invalid --env `{0}`: expected KEY=VALUE with a non-empty KEY, e.g. `--env RUST_LOG=info`"
    )]
    EnvMalformed(String),
    #[error("invalid {flag} `{value}`: it contains a NUL byte")]
    NulByte { flag: &'static str, value: String },
}

impl FromStr for DirMapping {
    type Err = WasiOptionError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec.contains('\0') {
            return Err(WasiOptionError::NulByte {
                flag: "--dir",
                value: spec.escape_default().to_string(),
            });
        }
        let (host, guest) = match spec.split_once(':') {
            Some((host, guest)) => (host, guest),
            None => (spec, spec),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(WasiOptionError::DirEmpty(spec.to_owned()));
        }
        if guest.contains(':') {
            let guest = guest.to_owned();
            return Err(WasiOptionError::GuestPathColon {
                spec: spec.to_owned(),
                guest,
            });
        }
        let host_path = PathBuf::from(host);
        if !host_path.exists() {
            let hint = if guest != host && std::path::Path::new(guest).exists() {
                format!(
                    "; nnedge's form is HOST:GUEST (the wasmedge CLI's is GUEST:HOST), \
                     did you mean `--dir {guest}:{host}`?"
                )
            } else {
                String::new()
            };
            return Err(WasiOptionError::DirMissing {
                spec: spec.to_owned(),
                host: host.to_owned(),
                hint,
            });
        }
        if !host_path.is_dir() {
            return Err(WasiOptionError::DirNotDirectory {
                spec: spec.to_owned(),
                host: host.to_owned(),
            });
        }
        Ok(Self {
            host: host_path,
            guest: guest.to_owned(),
        })
    }
}

impl DirMapping {
    /// The `GUEST:HOST` form WasmEdge's WASI module expects.
    pub fn to_wasmedge(&self) -> String {
        format!("{}:{}", self.guest, self.host.display())
    }
}

/// An environment variable for the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
}

impl FromStr for EnvVar {
    type Err = WasiOptionError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec.contains('\0') {
            return Err(WasiOptionError::NulByte {
                flag: "--env",
                value: spec.escape_default().to_string(),
            });
        }
        match spec.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok(Self {
                key: key.to_owned(),
                value: value.to_owned(),
            }),
            _ => Err(WasiOptionError::EnvMalformed(spec.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_defaults_guest_path_to_host_path() {
        let tmp = std::env::temp_dir();
        let spec = tmp.to_str().unwrap();
        let dir: DirMapping = spec.parse().unwrap();
        assert_eq!(dir.guest, spec);
        assert_eq!(dir.to_wasmedge(), format!("{spec}:{spec}"));
    }

    #[test]
    fn dir_with_guest_path() {
        let tmp = std::env::temp_dir();
        let dir: DirMapping = format!("{}:/data", tmp.display()).parse().unwrap();
        assert_eq!(dir.guest, "/data");
        assert_eq!(dir.host, tmp);
    }

    #[test]
    fn dir_in_wasmedge_order_gets_a_hint() {
        let tmp = std::env::temp_dir();
        let err = format!("/no-such-guest-dir:{}", tmp.display())
            .parse::<DirMapping>()
            .unwrap_err();
        assert!(err.to_string().contains("did you mean `--dir"), "{err}");
    }

    #[test]
    fn dir_refuses_empty_sides_and_files() {
        assert_eq!(
            ":x".parse::<DirMapping>(),
            Err(WasiOptionError::DirEmpty(":x".into()))
        );
        let err = "/etc/hostname:/h".parse::<DirMapping>().unwrap_err();
        assert!(
            matches!(err, WasiOptionError::DirNotDirectory { .. }),
            "{err}"
        );
    }

    /// A guest path with `:` was silently not mounted (WasmEdge splits at the first `:`).
    #[test]
    fn regression_guest_path_with_colon_is_refused() {
        let tmp = std::env::temp_dir();
        let err = format!("{}:/a:b", tmp.display())
            .parse::<DirMapping>()
            .unwrap_err();
        assert!(
            matches!(err, WasiOptionError::GuestPathColon { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`/a:b` contains `:`"), "{err}");
    }

    #[test]
    fn env_splits_at_first_equals() {
        let env: EnvVar = "A=b=c".parse().unwrap();
        assert_eq!((env.key.as_str(), env.value.as_str()), ("A", "b=c"));
        let empty: EnvVar = "A=".parse().unwrap();
        assert_eq!(empty.value, "");
        assert!("=x".parse::<EnvVar>().is_err());
        assert!("novalue".parse::<EnvVar>().is_err());
    }
}
