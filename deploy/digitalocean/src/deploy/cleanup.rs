//! Nothing is left behind silently.
//!
//! When `deploy node` fails after it started creating droplets, [`after_failure`] finds
//! what exists (the droplets it recorded plus anything carrying the deployment tag, which
//! catches a create whose response was lost) and deletes it: the load balancer first, then
//! the droplets by tag. The pre-flight check made sure the tag was unused, so deleting by
//! tag touches only this run's droplets. With `--keep-on-failure`, or when the user pressed
//! Ctrl-C (unless [`NodeOptions::delete_on_interrupt`] is set), nothing is deleted and the
//! error lists what exists and how to delete it.

use tracing::{info, warn};

use super::NodeOptions;
use crate::droplets::Droplet;
use crate::error::DoError;
use crate::session::Session;

/// What a run has created so far.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    /// The deployment tag.
    pub tag: String,
    /// Whether the create request was sent (so droplets may exist).
    pub attempted: bool,
    /// Droplets the API reported.
    pub droplets: Vec<Droplet>,
    /// Load balancer id.
    pub load_balancer: Option<String>,
}

impl Created {
    pub(crate) fn new(tag: &str) -> Self {
        Self {
            tag: tag.to_owned(),
            attempted: false,
            droplets: Vec::new(),
            load_balancer: None,
        }
    }
}

/// Cleans up (or reports) after `error`, and returns the error with what happened added.
pub(crate) async fn after_failure(
    session: &Session,
    options: &NodeOptions,
    created: &Created,
    error: anyhow::Error,
) -> anyhow::Error {
    let stopped_by = |wanted: fn(&DoError) -> bool| {
        error
            .chain()
            .any(|c| c.downcast_ref::<DoError>().is_some_and(wanted))
    };
    if !created.attempted || stopped_by(|e| matches!(e, DoError::DryRunStop)) {
        return error;
    }

    let droplets = existing_droplets(session, created).await;
    if droplets.is_empty() && created.load_balancer.is_none() {
        return error;
    }
    let inventory = describe(&droplets, created.load_balancer.as_deref());
    let tag = &created.tag;
    let destroy = format!("nnedge deploy destroy --tag {tag}");

    let interrupted = stopped_by(|e| matches!(e, DoError::Interrupted { .. }));
    if (interrupted && !options.delete_on_interrupt) || options.keep_on_failure {
        let why = if interrupted {
            "interrupted"
        } else {
            "failed (--keep-on-failure)"
        };
        return error.context(format!(
            "deploy {why}; left in place: {inventory}; delete with `{destroy}`"
        ));
    }

    let what = if interrupted { "interrupted" } else { "failed" };
    warn!(%tag, "deploy {what}; deleting what it created");
    let problems = delete_all(session, created).await;
    if problems.is_empty() {
        info!(%tag, "clean-up done");
        error.context(format!("deploy {what}; cleaned up: deleted {inventory}"))
    } else {
        error.context(format!(
            "deploy {what} and clean-up failed too ({}); still existing: {inventory}; \
             delete with `{destroy}`",
            problems.join("; ")
        ))
    }
}

/// The recorded droplets plus any others carrying the tag.
async fn existing_droplets(session: &Session, created: &Created) -> Vec<Droplet> {
    let mut droplets = created.droplets.clone();
    match session.client.list_droplets(Some(&created.tag)).await {
        Ok(tagged) => {
            for droplet in tagged {
                if !droplets.iter().any(|d| d.id == droplet.id) {
                    droplets.push(droplet);
                }
            }
        }
        Err(e) => warn!(error = %e, "could not list the deployment's droplets"),
    }
    droplets
}

/// Deletes the load balancer and the tagged droplets; returns what went wrong.
async fn delete_all(session: &Session, created: &Created) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(id) = &created.load_balancer {
        if let Err(e) = session.client.delete_load_balancer(id).await {
            problems.push(format!("load balancer {id}: {e}"));
        }
    }
    if let Err(e) = session.client.delete_droplets_by_tag(&created.tag).await {
        problems.push(format!("droplets tagged `{}`: {e}", created.tag));
    }
    problems
}

/// `droplet 1 `a` (203.0.113.7), droplet 2 `b`, load balancer X`.
fn describe(droplets: &[Droplet], load_balancer: Option<&str>) -> String {
    let mut items: Vec<String> = droplets
        .iter()
        .map(|d| match d.public_ipv4() {
            Some(ip) => format!("droplet {} `{}` ({ip})", d.id, d.name),
            None => format!("droplet {} `{}`", d.id, d.name),
        })
        .collect();
    items.extend(load_balancer.map(|id| format!("load balancer {id}")));
    items.join(", ")
}
