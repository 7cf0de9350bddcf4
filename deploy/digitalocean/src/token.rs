//! The DigitalOcean API token.
//!
//! The token comes from the `DIGITALOCEAN_ACCESS_TOKEN` environment variable or from a file
//! named by `--token-file`, never from a command-line value (which would land in shell
//! history and process listings). [`ApiToken`] redacts itself in `Debug` and `Display`, so
//! a stray `{:?}` in a log line or an error cannot leak it.

use std::fmt;
use std::path::Path;

use crate::error::DoError;

/// Name of the environment variable that holds the API token.
pub const TOKEN_ENV: &str = "DIGITALOCEAN_ACCESS_TOKEN";

/// What a redacted secret prints as.
pub const REDACTED: &str = "[redacted]";

/// A DigitalOcean personal access token. Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token, trimming surrounding whitespace (token files end in a newline).
    ///
    /// Refuses an empty token and one with characters an HTTP header cannot carry; the error
    /// says where the token came from, never what it is.
    pub fn new(value: &str, origin: &str) -> Result<Self, DoError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(DoError::EmptyToken {
                origin: origin.to_owned(),
            });
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DoError::MalformedToken {
                origin: origin.to_owned(),
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// Reads the token from `path` (whole file, trimmed).
    pub fn from_file(path: &Path) -> Result<Self, DoError> {
        let text = std::fs::read_to_string(path).map_err(|source| DoError::TokenFile {
            path: path.to_owned(),
            source,
        })?;
        Self::new(&text, &format!("token file `{}`", path.display()))
    }

    /// Reads the token from [`TOKEN_ENV`], if set.
    pub fn from_env() -> Result<Option<Self>, DoError> {
        match std::env::var(TOKEN_ENV) {
            Ok(value) => Self::new(&value, TOKEN_ENV).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(DoError::MalformedToken {
                origin: TOKEN_ENV.to_owned(),
            }),
        }
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiToken({REDACTED})")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let token = ApiToken::new("dop_v1_secretvalue\n", "test").unwrap();
        assert_eq!(format!("{token}"), REDACTED);
        assert_eq!(format!("{token:?}"), "ApiToken([redacted])");
        assert_eq!(token.expose(), "dop_v1_secretvalue");
    }

    #[test]
    fn empty_and_malformed_tokens_are_refused_without_echoing() {
        assert!(matches!(
            ApiToken::new("  \n", "x"),
            Err(DoError::EmptyToken { .. })
        ));
        let err = ApiToken::new("abc def", "x").unwrap_err();
        assert!(!err.to_string().contains("abc"));
    }
}
