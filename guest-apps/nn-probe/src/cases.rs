//! The probe's cases: what each one does to the host, and which call's errno it reports.

use std::fmt;
use std::str::FromStr;

/// Declares [`Case`] with each case's name and what it reports.
macro_rules! cases {
    ($($variant:ident => $name:literal: $about:literal,)*) => {
        /// One robustness case; its line is `case <name>: errno <n>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Case {
            $(#[doc = $about] $variant,)*
        }

        impl Case {
            /// Every case, in the order the probe runs them by default.
            pub const ALL: &'static [Case] = &[$(Case::$variant,)*];

            /// The name used on the command line and in the output.
            pub fn name(self) -> &'static str {
                match self { $(Case::$variant => $name,)* }
            }

            /// What the case does and which call's errno it reports.
            pub fn about(self) -> &'static str {
                match self { $(Case::$variant => $about,)* }
            }
        }
    };
}

cases! {
    UnknownAlias => "unknown-alias":
        "load_by_name with an alias nobody preloaded",
    InvalidJsonConfig => "invalid-json-config":
        "load_by_name_with_config with a config that is not JSON",
    WrongConfigTypes => "wrong-config-types":
        "load_by_name_with_config with {\"ctx-size\": \"large\"} (a string for a number)",
    NonGgufModel => "non-gguf-model":
        "load (GGML, CPU) of a builder holding text instead of a GGUF model",
    TruncatedGguf => "truncated-gguf":
        "load (GGML, CPU) of a GGUF header that ends before its first key",
    InvalidEncoding => "invalid-encoding":
        "load with encoding 99",
    OobNamePointer => "oob-name-pointer":
        "load_by_name with a name that runs past the end of linear memory",
    NegativePointer => "negative-pointer":
        "load_by_name with name pointer -8 (0xfffffff8, wraps around)",
    OobHandlePointer => "oob-handle-pointer":
        "init_execution_context writing its handle past the end of linear memory",
    HugeNameLength => "huge-name-length":
        "load_by_name with a name length of i32::MAX",
    HugeBuilderArray => "huge-builder-array":
        "load with 0x20000000 builders (the array's byte size overflows 32 bits)",
    HugeTensorLength => "huge-tensor-length":
        "set_input with a tensor data length of 0xfffffff0",
    OobTensorPointer => "oob-tensor-pointer":
        "set_input with a tensor descriptor straddling the end of linear memory",
    OobOutputBuffer => "oob-output-buffer":
        "get_output into a buffer that runs past the end of linear memory",
    OverlappingPointers => "overlapping-pointers":
        "get_output with the bytes-written pointer inside the output buffer",
    UnknownGraph => "unknown-graph":
        "init_execution_context on a graph handle never returned",
    UnknownContext => "unknown-context":
        "compute on a context handle never returned",
    UseAfterUnload => "use-after-unload":
        "init_execution_context on a second graph after unloading it",
    DoubleUnload => "double-unload":
        "unload of a graph that was already unloaded",
    UseAfterFinalize => "use-after-finalize":
        "compute on a context after finalize_execution_context",
    InvalidUtf8Prompt => "invalid-utf8-prompt":
        "set_input of a prompt that is not UTF-8, then compute: the first non-zero errno",
    InvalidJsonMetadata => "invalid-json-metadata":
        "set_input index 1 (metadata) with bytes that are not JSON",
    WrongMetadataTypes => "wrong-metadata-types":
        "set_input index 1 with {\"n-predict\": \"many\"} (a string for a number)",
    WrongTensorType => "wrong-tensor-type":
        "set_input of the prompt as an F32 tensor",
    BadInputIndex => "bad-input-index":
        "set_input at index 7",
    BadOutputIndex => "bad-output-index":
        "get_output at index 9 after a compute",
    OutMaxTooSmall => "out-max-too-small":
        "get_output with out_max 1 after a compute",
    StreamToEnd => "stream-to-end":
        "compute_single until it fails (100 at the end of the sequence), then fini_single",
    NormalInference => "normal-inference":
        "set_input, compute and get_output on the context every other case used",
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Case {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Case::ALL
            .iter()
            .copied()
            .find(|case| case.name() == name)
            .ok_or_else(|| format!("unknown case `{name}` (`nn-probe --list` shows the cases)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for (i, case) in Case::ALL.iter().enumerate() {
            assert_eq!(case.name().parse::<Case>(), Ok(*case));
            assert!(
                Case::ALL[..i]
                    .iter()
                    .all(|other| other.name() != case.name()),
                "{case}"
            );
        }
    }

    #[test]
    fn the_default_run_ends_with_a_normal_inference() {
        assert_eq!(Case::ALL.last(), Some(&Case::NormalInference));
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = "segfault".parse::<Case>().unwrap_err();
        assert!(err.contains("--list"), "{err}");
    }
}
