//! Errors of the DigitalOcean client and its flows.
//!
//! One enum, [`DoError`], with structured fields. API failures carry the API's own `id`,
//! `message` and `request_id`; input problems that can be caught before any call (a droplet
//! name with `_`, an unknown SSH key, oversized user data, an image URL in a format the API
//! refuses) say what to change.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong talking to DigitalOcean.
#[derive(Debug, thiserror::Error)]
pub enum DoError {
    /// No token in the environment and no `--token-file`.
    #[error(
        "no DigitalOcean API token: set {env} or pass --token-file FILE \
         (create a token under API → Tokens in the control panel)",
        env = crate::token::TOKEN_ENV
    )]
    MissingToken,

    /// The token source held only whitespace.
    #[error("the API token from {origin} is empty")]
    EmptyToken {
        /// Where the token was read from (never the token).
        origin: String,
    },

    /// The token has characters an HTTP header cannot carry.
    #[error("the API token from {origin} contains spaces or non-ASCII characters")]
    MalformedToken {
        /// Where the token was read from (never the token).
        origin: String,
    },

    /// The token file could not be read.
    #[error("failed to read token file `{path}`")]
    TokenFile {
        /// The file named by `--token-file`.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },

    /// `DIGITALOCEAN_API_URL` is not a usable base URL.
    #[error("invalid API base URL `{url}`: {reason}")]
    InvalidApiUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// TLS could not be set up (no usable crypto provider or roots).
    #[error("failed to set up TLS for the API client")]
    Tls {
        /// The rustls error.
        source: rustls::Error,
    },

    /// The connection failed or broke before a response arrived.
    #[error("{method} {path}: connection to the API failed")]
    Transport {
        /// HTTP method.
        method: String,
        /// Request path (no host, no token).
        path: String,
        /// The transport error.
        source: hyper_util::client::legacy::Error,
    },

    /// No response within the request timeout.
    #[error("{method} {path}: no response within {after:?}")]
    Timeout {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The timeout that expired.
        after: Duration,
    },

    /// The API answered with an error status.
    #[error(
        "{method} {path}: DigitalOcean API returned {status} {id}: {message}{}{}",
        request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default(),
        api_hint(*status)
    )]
    Api {
        /// HTTP status code.
        status: u16,
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The API's short error id (`not_found`, `unprocessable_entity`, ...).
        id: String,
        /// The API's message.
        message: String,
        /// The API's request id, to quote to DigitalOcean support.
        request_id: Option<String>,
    },

    /// The API kept answering 429 after every retry.
    #[error(
        "{method} {path}: still rate limited after {attempts} attempts; \
         wait a minute (the account-keys endpoint allows 10 calls a minute) and retry"
    )]
    RateLimited {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// How many requests were sent.
        attempts: u32,
    },

    /// A response body did not have the expected shape.
    #[error("{method} {path}: unexpected response body")]
    Decode {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The JSON error.
        source: serde_json::Error,
    },

    /// A URL outside the API base URL (a bad pagination link, for instance).
    #[error("refusing to send the API token to `{url}`, outside the configured API base URL")]
    OutsideApiUrl {
        /// The URL.
        url: String,
    },

    /// `--dry-run` stopped before the first request that would change something.
    #[error("dry run: stopped before the first request that changes state")]
    DryRunStop,

    /// A droplet name the API would refuse.
    #[error(
        "invalid droplet name `{name}`: {reason}; names may contain only letters, digits, \
         `.` and `-`, must start and end with a letter or digit, at most 255 characters"
    )]
    InvalidDropletName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An SSH key that is not on the account.
    #[error("SSH key `{key}` is not on this account; the account's keys are:\n{available}")]
    UnknownSshKey {
        /// The id, fingerprint or name as given.
        key: String,
        /// The account's keys, one per line (`id  fingerprint  name`), or a note that there
        /// are none.
        available: String,
    },

    /// User data over the API's limit.
    #[error(
        "user data is {size} bytes, over DigitalOcean's limit of {limit} bytes; \
         move large files out of the Ignition config (fetch them at boot instead)"
    )]
    UserDataTooLarge {
        /// Size of the user data in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// An image URL in a format the API will not import.
    #[error("image URL `{url}` cannot be imported: {reason}")]
    UnsupportedImageUrl {
        /// The URL as given.
        url: String,
        /// What is wrong, and what to use instead.
        reason: String,
    },

    /// A custom image distribution name the API does not know.
    #[error("unknown image distribution `{given}`; use one of: {allowed}")]
    UnknownDistribution {
        /// The name as given.
        given: String,
        /// The accepted names.
        allowed: String,
    },

    /// A custom image import ended in `deleted`.
    #[error("import of image {id} failed: {message}")]
    ImageImportFailed {
        /// Image id.
        id: u64,
        /// The API's `error_message`.
        message: String,
    },

    /// Something did not reach the wanted state in time.
    #[error("{what} did not become {state} within {after:?}")]
    WaitTimedOut {
        /// What was being waited for (`droplet 123`, `image 456`).
        what: String,
        /// The wanted state.
        state: String,
        /// How long we waited.
        after: Duration,
    },

    /// A load balancer ended in `errored`.
    #[error("load balancer {id} ended `errored`; delete it and check the region's quota")]
    LoadBalancerErrored {
        /// Load balancer id.
        id: String,
    },

    /// Ctrl-C arrived while waiting.
    #[error("interrupted while waiting for {what}")]
    Interrupted {
        /// What was being waited for.
        what: String,
    },
}

/// What to do about an API status, appended to the error message.
fn api_hint(status: u16) -> &'static str {
    match status {
        401 => "; check the token in DIGITALOCEAN_ACCESS_TOKEN or --token-file",
        403 => "; the token lacks the scope for this call (needs read and write)",
        404 => "; check the id (list them with `nnedge do ... list`)",
        _ => "",
    }
}
