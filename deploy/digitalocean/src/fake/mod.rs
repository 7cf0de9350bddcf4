//! A fake DigitalOcean API on 127.0.0.1 for tests (feature `fake`).
//!
//! [`FakeDigitalOcean::start`] binds an ephemeral port on 127.0.0.1 and serves from a
//! thread of its own, so sync and async tests (and the host's end-to-end tests, which run
//! the `nnedge` binary against it) can all use it. It behaves like the published API for
//! the endpoints nnedge uses: bearer auth, pagination, `ratelimit-*` headers, the 10-a-minute
//! account-keys limit, images `NEW` → `available` / `deleted`, droplets `new` → `active`,
//! load balancers, tags, regions, sizes, actions. Faults (429 with `retry-after`, 5xx,
//! delays) are injected with [`FakeDigitalOcean::inject`].
//!
//! Every request is checked against the request schema of
//! `../shared/reference/digitalocean-openapi-subset.json` and every reply against its
//! response schema; mismatches are collected as violations, which
//! [`FakeDigitalOcean::assert_conformant`] turns into a test failure.

mod openapi;
mod routes;
mod server;
mod state;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

pub use openapi::{to_json_schema, Spec, SpecError, DEFAULT_SPEC_PATH};
use state::Account;

/// The token the fake accepts unless told otherwise. Not a secret; tests still check that
/// it never shows up in output, as a real token must not.
pub const FAKE_TOKEN: &str = "dop_v1_fake0123456789abcdef0123456789abcdef0123456789abcdef01234567";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// The bearer token it accepts.
    pub token: String,
    /// The OpenAPI description to check against.
    pub spec_path: PathBuf,
    /// Reads of a new custom image before its import finishes.
    pub image_polls_until_ready: u32,
    /// When set, imports end `deleted` with this `error_message`.
    pub image_import_error: Option<String>,
    /// Reads of a new droplet before it is `active`.
    pub droplet_polls_until_active: u32,
    /// Reads of a new load balancer before it is `active`.
    pub load_balancer_polls_until_active: u32,
    /// Public IPv4 handed to droplets and load balancers (127.0.0.1, so a local server can
    /// answer their `/health`).
    pub droplet_ipv4: Ipv4Addr,
    /// Largest page the fake serves (the API's is 200); lower it to force pagination.
    pub max_per_page: usize,
    /// Account-keys calls allowed per minute (the API allows 10).
    pub keys_calls_per_minute: usize,
    /// SSH keys on the account: name and public key.
    pub ssh_keys: Vec<(String, String)>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            token: FAKE_TOKEN.to_owned(),
            spec_path: PathBuf::from(DEFAULT_SPEC_PATH),
            image_polls_until_ready: 2,
            image_import_error: None,
            droplet_polls_until_active: 2,
            load_balancer_polls_until_active: 2,
            droplet_ipv4: Ipv4Addr::LOCALHOST,
            max_per_page: 200,
            keys_calls_per_minute: 10,
            ssh_keys: vec![
                (
                    "laptop".into(),
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyLaptop laptop".into(),
                ),
                (
                    "ci".into(),
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyCi ci".into(),
                ),
            ],
        }
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer 429 with `retry-after: SECONDS`.
    TooManyRequests {
        /// The `retry-after` value in seconds.
        retry_after: u32,
    },
    /// Answer this 5xx status.
    ServerError {
        /// The status code.
        status: u16,
    },
    /// Wait this long before handling the request normally.
    Delay(Duration),
}

/// A fault for the next `times` requests matching `method` and `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `GET`, `POST`, ... or `None` for any.
    pub method: Option<String>,
    /// Exact request path (`/v2/droplets`).
    pub path: String,
    /// What happens.
    pub kind: FaultKind,
    /// How many matching requests it affects.
    pub times: u32,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Query pairs, decoded.
    pub query: Vec<(String, String)>,
    /// Body parsed as JSON.
    pub body: Option<Value>,
    /// Body as received.
    pub raw_body: String,
    /// Whether it carried the right bearer token.
    pub authorized: bool,
    /// Status the fake answered.
    pub status: u16,
}

/// Why the fake did not start.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// The API description is missing or broken.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The listener or its thread could not be set up.
    #[error("failed to start the fake API on 127.0.0.1")]
    Io(#[from] std::io::Error),
}

/// State shared between the server thread and the test.
#[derive(Debug)]
pub(crate) struct Shared {
    spec: Arc<Spec>,
    token: String,
    base_url: String,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    account: Account,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    faults: Vec<Fault>,
    keys_calls: VecDeque<Instant>,
    rate_limit_used: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn violation(&self, message: String) {
        self.lock().violations.push(message);
    }

    fn take_fault(&self, method: &str, path: &str) -> Option<FaultKind> {
        let mut inner = self.lock();
        let fault = inner.faults.iter_mut().find(|f| {
            f.times > 0 && f.path == path && f.method.as_deref().is_none_or(|m| m == method)
        })?;
        fault.times -= 1;
        Some(fault.kind.clone())
    }
}

/// A running fake API. Stops when dropped.
#[derive(Debug)]
pub struct FakeDigitalOcean {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDigitalOcean {
    /// Starts a fake with default options.
    pub fn start_default() -> Result<Self, FakeError> {
        Self::start(FakeOptions::default())
    }

    /// Loads the API description and starts serving on 127.0.0.1 (ephemeral port).
    pub fn start(options: FakeOptions) -> Result<Self, FakeError> {
        let spec = Spec::load(&options.spec_path)?;
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let shared = Arc::new(Shared {
            spec,
            token: options.token.clone(),
            base_url: format!("http://{addr}"),
            inner: Mutex::new(Inner {
                account: Account::new(options),
                requests: Vec::new(),
                violations: Vec::new(),
                faults: Vec::new(),
                keys_calls: VecDeque::new(),
                rate_limit_used: 0,
            }),
        });

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stop) = oneshot::channel();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-digitalocean".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, served, stop).await,
                        Err(e) => served.violation(format!("fake could not listen: {e}")),
                    }
                });
            })?;
        Ok(Self {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Base URL to put in `DIGITALOCEAN_API_URL` (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many requests had this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Requests and replies that did not match the API description.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Panics with the list of violations, if there are any.
    pub fn assert_conformant(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the fake saw non-conforming traffic:\n{}",
            violations.join("\n")
        );
    }

    /// Adds an `available` custom image in `region` with `tags`; returns its id.
    pub fn add_image(&self, name: &str, region: &str, tags: &[&str]) -> u64 {
        let mut inner = self.shared.lock();
        let id = inner.account.add_image(name, Some(region), "available");
        if let Some(image) = inner.account.images.iter_mut().find(|i| i.id == id) {
            image.tags = tags.iter().map(|t| t.to_string()).collect();
        }
        id
    }

    /// Ids of the account's SSH keys, in order.
    pub fn ssh_key_ids(&self) -> Vec<u64> {
        self.shared
            .lock()
            .account
            .keys
            .iter()
            .map(|k| k.id)
            .collect()
    }

    /// Droplets that exist: id, name, tags.
    pub fn droplets(&self) -> Vec<(u64, String, Vec<String>)> {
        let inner = self.shared.lock();
        inner
            .account
            .droplets
            .iter()
            .map(|d| (d.id, d.name.clone(), d.tags.clone()))
            .collect()
    }

    /// The user data a droplet was created with, exactly as received.
    pub fn user_data(&self, droplet: u64) -> Option<String> {
        let inner = self.shared.lock();
        inner
            .account
            .droplets
            .iter()
            .find(|d| d.id == droplet)?
            .user_data
            .clone()
    }

    /// Ids of the load balancers that exist.
    pub fn load_balancers(&self) -> Vec<String> {
        self.shared
            .lock()
            .account
            .balancers
            .iter()
            .map(|b| b.id.clone())
            .collect()
    }

    /// Ids and statuses of the custom images.
    pub fn images(&self) -> Vec<(u64, String)> {
        let inner = self.shared.lock();
        inner
            .account
            .images
            .iter()
            .filter(|i| !i.public)
            .map(|i| (i.id, i.status.clone()))
            .collect()
    }
}

impl Drop for FakeDigitalOcean {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
