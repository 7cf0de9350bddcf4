//! Errors and validation diagnostics of the Butane renderer and the node generator.

use std::fmt;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The config renders, but probably not as meant.
    Warning,
    /// The config cannot be rendered.
    Error,
}

/// One finding about a Butane config, tied to the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// JSON-path style location in the Butane input, e.g. `$.storage.files.0.mode`.
    pub path: String,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{level}: {}: {}", self.path, self.message)
    }
}

/// Everything that can go wrong while rendering Butane or generating a node config.
#[derive(Debug, thiserror::Error)]
pub enum IgnitionError {
    /// The input is not well-formed YAML.
    #[error("invalid YAML at line {line}, column {column}: {message}")]
    Yaml {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's description.
        message: String,
    },

    /// The YAML's aliases would copy more than `limit` nodes and bytes (nested aliases,
    /// "billion laughs"); refused before copying.
    #[error(
        "invalid YAML at line {line}, column {column}: excessive aliasing: the document's \
         aliases would expand to more than {limit} nodes and bytes; write repeated parts \
         out or nest fewer aliases"
    )]
    ExcessiveAliasing {
        /// 1-based line of the alias that passed the limit.
        line: usize,
        /// 1-based column of that alias.
        column: usize,
        /// The limit (see the YAML module's `ALIAS_EXPANSION_LIMIT`).
        limit: usize,
    },

    /// The config failed validation; every finding is listed.
    #[error("{}", render_diagnostics(.diagnostics))]
    Invalid {
        /// Every finding (warnings included), in the order found.
        diagnostics: Vec<Diagnostic>,
    },

    /// A node generator flag has a value that cannot work.
    #[error("invalid value for `--{flag}`: {reason}")]
    InvalidFlag {
        /// Flag name without dashes.
        flag: &'static str,
        /// Why it is rejected and what to give instead.
        reason: String,
    },

    /// The rendered config is larger than the provider accepts as user data.
    #[error(
        "the rendered Ignition config is {size} bytes, over the {limit}-byte user_data limit; \
         host the full config on an HTTPS server and pass a small pointer config instead \
         (`nnedge ignition node ... --pointer-url URL --full-config FILE`), which uses \
         `ignition.config.replace` with the full config's sha512"
    )]
    UserDataTooLarge {
        /// Size of the rendered JSON in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    format!("invalid Butane config:\n  {}", lines.join("\n  "))
}
