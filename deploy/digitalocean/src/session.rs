//! Per-run state shared by every command: client, output, interrupt, timings.
//!
//! [`RunEnv`] is what the process environment provides (API URL, token, stdout, Ctrl-C);
//! tests build one by hand pointing at the fake on 127.0.0.1, with short [`Tuning`].
//! [`Session`] adds the global flags and builds the [`Client`].

use std::time::Duration;

use url::Url;

use crate::cli::GlobalArgs;
use crate::client::{parse_api_url, Client, ClientConfig, API_URL_ENV, DEFAULT_API_URL};
use crate::error::DoError;
use crate::keys::KeyResolver;
use crate::output::{OutputFormat, OutputSink};
use crate::retry::RetryPolicy;
use crate::token::ApiToken;
use crate::wait::{Interrupt, PollPolicy};

/// Timeouts, retry limits and poll intervals. The defaults suit the real API; tests shrink
/// them so that waits and backoffs take milliseconds.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Limit for one API request attempt.
    pub request_timeout: Duration,
    /// Retries for 429, 5xx and timeouts.
    pub retry: RetryPolicy,
    /// Waiting for droplets to become active and load balancers to get an address.
    pub droplet_wait: PollPolicy,
    /// Waiting for a custom image import (downloads of several GB take a while).
    pub image_wait: PollPolicy,
    /// Waiting for a node's `/health` to answer 200 (first boot fetches the model).
    pub health_wait: PollPolicy,
    /// Limit for one `/health` probe.
    pub health_probe_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            droplet_wait: PollPolicy {
                interval: Duration::from_secs(5),
                timeout: minutes(10),
            },
            image_wait: PollPolicy {
                interval: Duration::from_secs(10),
                timeout: minutes(60),
            },
            health_wait: PollPolicy {
                interval: Duration::from_secs(5),
                timeout: minutes(20),
            },
            health_probe_timeout: Duration::from_secs(5),
        }
    }
}

/// What the environment provides to a run.
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// API base URL (checked by [`parse_api_url`]).
    pub api_url: Url,
    /// Token from [`crate::token::TOKEN_ENV`], if set; `--token-file` overrides it.
    pub token: Option<ApiToken>,
    /// Where data goes (stdout).
    pub out: OutputSink,
    /// Fires on Ctrl-C.
    pub interrupt: Interrupt,
    /// Timings.
    pub tuning: Tuning,
}

impl RunEnv {
    /// Reads `DIGITALOCEAN_API_URL` and `DIGITALOCEAN_ACCESS_TOKEN`, writes to stdout and
    /// listens for Ctrl-C. Must be called inside a tokio runtime.
    pub fn from_process() -> Result<Self, DoError> {
        let api_url = match std::env::var(API_URL_ENV) {
            Ok(text) if !text.trim().is_empty() => parse_api_url(text.trim())?,
            _ => parse_api_url(DEFAULT_API_URL)?,
        };
        Ok(Self {
            api_url,
            token: ApiToken::from_env()?,
            out: OutputSink::stdout(),
            interrupt: Interrupt::ctrl_c(),
            tuning: Tuning::default(),
        })
    }
}

/// A run's client and settings.
#[derive(Debug)]
pub struct Session {
    /// The API client.
    pub client: Client,
    /// Where data goes.
    pub out: OutputSink,
    /// `--output`.
    pub format: OutputFormat,
    /// Fires on Ctrl-C.
    pub interrupt: Interrupt,
    /// Timings.
    pub tuning: Tuning,
    /// SSH keys, fetched at most once.
    pub keys: KeyResolver,
}

impl Session {
    /// Picks the token (`--token-file` first, then the environment) and builds the client.
    pub fn open(global: &GlobalArgs, env: RunEnv) -> Result<Self, DoError> {
        let token = match &global.token_file {
            Some(path) => ApiToken::from_file(path)?,
            None => env.token.ok_or(DoError::MissingToken)?,
        };
        let config = ClientConfig {
            api_url: env.api_url,
            token,
            request_timeout: env.tuning.request_timeout,
            retry: env.tuning.retry.clone(),
            dry_run: global.dry_run.then(|| env.out.clone()),
        };
        Ok(Self {
            client: Client::new(config)?,
            out: env.out,
            format: global.output,
            interrupt: env.interrupt,
            tuning: env.tuning,
            keys: KeyResolver::new(),
        })
    }
}
