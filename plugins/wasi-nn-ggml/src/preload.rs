//! `--nn-preload` specifications: `alias:GGML:TARGET:path`.
//!
//! A preload registers a host model file under an alias, so that guests can open it with
//! `load_by_name` / `load_by_name_with_config`. The encoding and target are matched without
//! regard to case; the path is everything after the third `:`, so it may itself contain `:`.

use std::{fmt, path::PathBuf, str::FromStr};

use crate::target::{ExecutionTarget, GraphEncoding};

/// The form every preload specification must have, quoted in errors.
pub const PRELOAD_FORM: &str =
    "ALIAS:GGML:AUTO|CPU|GPU|TPU:PATH (e.g. default:GGML:AUTO:model.gguf)";

/// A model to register under an alias, parsed from `alias:GGML:TARGET:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPreload {
    /// The name guests pass to `load_by_name`.
    pub alias: String,
    /// The model encoding; always [`GraphEncoding::Ggml`] after a successful parse.
    pub encoding: GraphEncoding,
    /// The execution target the guest asked for.
    pub target: ExecutionTarget,
    /// The model file on the host.
    pub path: PathBuf,
}

/// Why a `--nn-preload` specification was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreloadError {
    /// Fewer than four `:`-separated fields.
    #[error("invalid --nn-preload `{spec}`: expected {PRELOAD_FORM}")]
    MissingFields {
        /// The specification as given.
        spec: String,
    },
    /// The alias (first field) is empty.
    #[error("invalid --nn-preload `{spec}`: the alias is empty; expected {PRELOAD_FORM}")]
    EmptyAlias {
        /// The specification as given.
        spec: String,
    },
    /// The encoding is not a WASI-NN encoding at all.
    #[error(
        "invalid --nn-preload `{spec}`: unknown encoding `{encoding}`; expected {PRELOAD_FORM}"
    )]
    UnknownEncoding {
        /// The specification as given.
        spec: String,
        /// The encoding field.
        encoding: String,
    },
    /// The encoding is a WASI-NN encoding that nnedge does not implement.
    #[error(
        "invalid --nn-preload `{spec}`: encoding `{encoding}` is not supported, nnedge runs \
         only GGML (GGUF) models; expected {PRELOAD_FORM}"
    )]
    UnsupportedEncoding {
        /// The specification as given.
        spec: String,
        /// The encoding field.
        encoding: String,
    },
    /// The target is not one of CPU, GPU, TPU, AUTO.
    #[error("invalid --nn-preload `{spec}`: unknown target `{target}`; expected {PRELOAD_FORM}")]
    UnknownTarget {
        /// The specification as given.
        spec: String,
        /// The target field.
        target: String,
    },
    /// The path (everything after the third `:`) is empty.
    #[error("invalid --nn-preload `{spec}`: the model path is empty; expected {PRELOAD_FORM}")]
    EmptyPath {
        /// The specification as given.
        spec: String,
    },
}

impl FromStr for ModelPreload {
    type Err = PreloadError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let owned = || spec.to_owned();
        let mut fields = spec.splitn(4, ':');
        let (Some(alias), Some(encoding), Some(target), Some(path)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(PreloadError::MissingFields { spec: owned() });
        };

        if alias.is_empty() {
            return Err(PreloadError::EmptyAlias { spec: owned() });
        }
        let encoding = match GraphEncoding::from_name(encoding) {
            Some(GraphEncoding::Ggml) => GraphEncoding::Ggml,
            Some(_) => {
                let encoding = encoding.to_owned();
                return Err(PreloadError::UnsupportedEncoding {
                    spec: owned(),
                    encoding,
                });
            }
            None => {
                let encoding = encoding.to_owned();
                return Err(PreloadError::UnknownEncoding {
                    spec: owned(),
                    encoding,
                });
            }
        };
        let Some(target) = ExecutionTarget::from_name(target) else {
            let target = target.to_owned();
            return Err(PreloadError::UnknownTarget {
                spec: owned(),
                target,
            });
        };
        if path.is_empty() {
            return Err(PreloadError::EmptyPath { spec: owned() });
        }

        let alias = alias.to_owned();
        Ok(Self {
            alias,
            encoding,
            target,
            path: PathBuf::from(path),
        })
    }
}

impl fmt::Display for ModelPreload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            alias,
            encoding,
            target,
            path,
        } = self;
        write!(f, "{alias}:{encoding}:{target}:{}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<ModelPreload, PreloadError> {
        spec.parse()
    }

    #[test]
    fn parses_the_canonical_form() {
        let preload = parse("default:GGML:AUTO:/models/smol.gguf").unwrap();
        assert_eq!(preload.alias, "default");
        assert_eq!(preload.encoding, GraphEncoding::Ggml);
        assert_eq!(preload.target, ExecutionTarget::Auto);
        assert_eq!(preload.path, PathBuf::from("/models/smol.gguf"));
        assert_eq!(preload.to_string(), "default:GGML:AUTO:/models/smol.gguf");
    }

    #[test]
    fn encoding_and_target_ignore_case() {
        let preload = parse("m:ggml:cpu:model.gguf").unwrap();
        assert_eq!(preload.target, ExecutionTarget::Cpu);
        assert_eq!(parse("m:Ggml:Gpu:x").unwrap().target, ExecutionTarget::Gpu);
    }

    #[test]
    fn path_keeps_its_colons() {
        let preload = parse("m:GGML:AUTO:C:/models/a:b.gguf").unwrap();
        assert_eq!(preload.path, PathBuf::from("C:/models/a:b.gguf"));
    }

    #[test]
    fn rejects_malformed_specs_and_says_the_form() {
        let cases = [
            ("default", "expected ALIAS:GGML"),
            ("default:GGML:AUTO", "expected ALIAS:GGML"),
            (":GGML:AUTO:m.gguf", "alias is empty"),
            ("a:GGUF:AUTO:m.gguf", "unknown encoding `GGUF`"),
            ("a:onnx:AUTO:m.onnx", "only GGML"),
            ("a:GGML:NPU:m.gguf", "unknown target `NPU`"),
            ("a:GGML:CPU:", "model path is empty"),
        ];
        for (spec, message) in cases {
            let error = parse(spec).unwrap_err().to_string();
            assert!(error.contains(message), "{spec}: {error}");
            assert!(error.contains(PRELOAD_FORM), "{spec}: {error}");
        }
    }
}
