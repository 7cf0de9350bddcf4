//! One size: deploy a node, load it, delete it.
//!
//! `deploy::provision` creates the droplet, waits for it and for `/health`, and deletes it
//! itself when one of those steps fails (also after Ctrl-C, since the bench asks it to).
//! Once it returns the node, this module owns the droplet: it runs `bench serve` against
//! it on a thread of its own and deletes the droplet whatever the load's outcome. A
//! failed delete is logged as an error and ends the run with the droplet's id.

use anyhow::Context as _;
use nnedge_digitalocean::deploy::{self, NodeEndpoint};
use nnedge_digitalocean::session::Session;
use nnedge_digitalocean::sizes::Size;
use nnedge_digitalocean::wait::Interrupt;
use nnedge_digitalocean::DoError;
use tokio::sync::oneshot;

use super::error::DropletBenchError;
use super::report::{DropletMachine, SizeResult};
use super::{progress, DropletArgs};
use crate::serve::{self, ServeReport, ServeSettings};

/// Deploys a node of `size`, loads it and deletes it; the droplet is gone when this
/// returns, unless the error says it is not.
pub(crate) async fn bench_size(
    session: &Session,
    args: &DropletArgs,
    size: &Size,
) -> anyhow::Result<SizeResult> {
    let options = args.node_options(&size.slug);
    progress(&format!(
        "{}: creating droplet `{}`",
        size.slug, options.name
    ));
    let deployment = deploy::provision(session, &options)
        .await
        .with_context(|| format!("no node of size `{}` to measure", size.slug))?;

    let mut measured = Err(anyhow::anyhow!("the deployment has no node"));
    if let Some(node) = deployment.nodes.first() {
        progress(&format!(
            "{}: droplet {} answers at {}; loading it",
            size.slug, node.id, node.endpoint
        ));
        measured = measure(session, args, size, node).await;
    }

    let mut not_destroyed = Vec::new();
    for node in &deployment.nodes {
        if let Err(error) = destroy(session, node).await {
            not_destroyed.push(error.to_string());
        }
    }
    match (measured, not_destroyed.is_empty()) {
        (Ok(result), true) => Ok(result),
        (Err(error), true) => Err(error.context(format!(
            "the bench of `{}` failed (its droplet was deleted)",
            size.slug
        ))),
        (Ok(_), false) => Err(anyhow::anyhow!(not_destroyed.join("; "))),
        (Err(error), false) => Err(error.context(not_destroyed.join("; "))),
    }
}

/// Describes the droplet and runs the load against it.
async fn measure(
    session: &Session,
    args: &DropletArgs,
    size: &Size,
    node: &NodeEndpoint,
) -> anyhow::Result<SizeResult> {
    // The image as the API reports it; a failed read costs only the report's image field.
    let image = match session.client.get_droplet(node.id).await {
        Ok(droplet) => droplet.image.map(|i| i.describe()),
        Err(error) => {
            tracing::warn!(droplet = node.id, %error, "could not read the droplet's image");
            None
        }
    };
    let machine = DropletMachine {
        size: size.slug.clone(),
        vcpus: size.vcpus,
        memory_mib: size.memory,
        disk_gb: size.disk,
        price_hourly: size.price_hourly,
        price_monthly: size.price_monthly,
        region: args.region.clone(),
        image: image
            .or_else(|| args.image.clone())
            .unwrap_or_else(|| "unknown".to_owned()),
        droplet_id: node.id,
    };

    let settings = args.load.settings(&node.endpoint);
    let report = run_load(settings, args.request_api_key(), &session.interrupt).await?;
    if let Some((concurrency, example)) = report.all_failed() {
        return Err(DropletBenchError::NothingMeasured {
            url: report.settings.url.clone(),
            concurrency,
            example: example.to_owned(),
        }
        .into());
    }
    Ok(SizeResult::new(machine, report))
}

/// Runs `bench serve` on a thread of its own, so that Ctrl-C can end the wait. An
/// interrupted load is left running: the caller deletes the droplet, after which its
/// requests fail fast, and the process exits soon after.
async fn run_load(
    settings: ServeSettings,
    api_key: Option<String>,
    interrupt: &Interrupt,
) -> anyhow::Result<ServeReport> {
    let (done, finished) = oneshot::channel();
    let url = settings.url.clone();
    std::thread::Builder::new()
        .name("bench-droplet-load".into())
        .spawn(move || {
            let _ = done.send(serve::run(&settings, api_key.as_deref()));
        })?;
    tokio::select! {
        report = finished => match report {
            Ok(report) => Ok(report?),
            Err(_) => Err(DropletBenchError::LoadGeneratorLost.into()),
        },
        () = interrupt.wait() => Err(DropletBenchError::Interrupted {
            during: format!("while loading {url}"),
        }
        .into()),
    }
}

/// Deletes one droplet; a droplet that is already gone counts as deleted.
async fn destroy(session: &Session, node: &NodeEndpoint) -> Result<(), DropletBenchError> {
    match session.client.delete_droplet(node.id).await {
        Ok(()) => {
            progress(&format!("droplet {} (`{}`) deleted", node.id, node.name));
            Ok(())
        }
        Err(DoError::Api { status: 404, .. }) => {
            tracing::warn!(droplet = node.id, "the droplet was already gone");
            Ok(())
        }
        Err(error) => {
            tracing::error!(
                droplet = node.id, name = %node.name, %error,
                "FAILED TO DELETE THE DROPLET: it is still running and billed"
            );
            Err(DropletBenchError::NotDestroyed {
                id: node.id,
                name: node.name.clone(),
                reason: error.to_string(),
            })
        }
    }
}
