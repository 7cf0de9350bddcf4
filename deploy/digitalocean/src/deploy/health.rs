//! Waiting for each node's API server to answer `GET /health` with 200.
//!
//! The probe goes to the droplet's public address without the API token. Nodes are probed
//! one after another, each with the full [`crate::session::Tuning::health_wait`]; the first
//! node usually takes longest (first boot), the rest are ready by then.

use std::sync::Mutex;

use http::StatusCode;
use tracing::info;
use url::Url;

use super::{DeployError, NodeOptions};
use crate::droplets::Droplet;
use crate::error::DoError;
use crate::session::Session;
use crate::wait::poll_until;

/// The `/health` URL of a droplet.
pub(crate) fn health_url(options: &NodeOptions, droplet: &Droplet) -> anyhow::Result<Url> {
    let ip = droplet
        .public_ipv4()
        .ok_or_else(|| anyhow::anyhow!("droplet {} has no public IPv4 address", droplet.id))?;
    let port = options.health_port();
    let text = format!("{}://{ip}:{port}/health", options.health_scheme.as_str());
    Ok(Url::parse(&text)?)
}

/// Polls every droplet's `/health` until it answers 200.
pub(crate) async fn wait_healthy(
    session: &Session,
    options: &NodeOptions,
    droplets: &[Droplet],
) -> anyhow::Result<()> {
    let policy = session.tuning.health_wait;
    for droplet in droplets {
        let url = health_url(options, droplet)?;
        let last = Mutex::new(String::from("no answer yet"));
        info!(%url, droplet = droplet.id, "waiting for the node's /health");

        let outcome = poll_until(
            url.as_str(),
            "healthy",
            policy,
            &session.interrupt,
            || async {
                let probe = session
                    .client
                    .probe(&url, session.tuning.health_probe_timeout)
                    .await;
                let healthy = matches!(probe, Ok(StatusCode::OK));
                let note = match probe {
                    Ok(status) => format!("HTTP {status}"),
                    Err(reason) => reason,
                };
                *last
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = note;
                Ok(healthy.then_some(()))
            },
        )
        .await;

        match outcome {
            Ok(()) => info!(%url, "node is healthy"),
            Err(DoError::WaitTimedOut { after, .. }) => {
                let last = last
                    .into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                return Err(DeployError::Unhealthy {
                    url: url.to_string(),
                    last,
                    after,
                }
                .into());
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}
