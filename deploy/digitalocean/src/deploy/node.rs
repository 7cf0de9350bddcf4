//! `deploy node`: check, create, wait, balance.

use anyhow::Context as _;
use nnedge_ignition::node::render_node_json;
use serde::Serialize;

use super::cleanup::{after_failure, Created};
use super::health::wait_healthy;
use super::{load_balancer_name, validate_tag, DeployError, NodeOptions};
use crate::commands::check_ignition;
use crate::droplets::{check_user_data, validate_droplet_name, Droplet, DropletCreate, ImageRef};
use crate::images::FLATCAR_IMAGE_TAG;
use crate::load_balancers::LoadBalancerCreate;
use crate::output::{emit, Table};
use crate::session::Session;

/// What a successful `deploy node` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// The deployment tag (give it to `deploy destroy`).
    pub tag: String,
    /// One entry per droplet.
    pub nodes: Vec<NodeEndpoint>,
    /// The load balancer, with `--count` > 1.
    pub load_balancer: Option<BalancerEndpoint>,
}

/// A node and where its API answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeEndpoint {
    /// Droplet id.
    pub id: u64,
    /// Droplet name.
    pub name: String,
    /// Public IPv4 address.
    pub ipv4: String,
    /// Base URL of the node's API.
    pub endpoint: String,
}

/// The load balancer and its address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BalancerEndpoint {
    /// Load balancer id.
    pub id: String,
    /// Public IPv4 address.
    pub ip: String,
    /// Base URL clients use.
    pub endpoint: String,
}

/// The checked inputs of a deployment.
#[derive(Debug)]
struct Plan {
    names: Vec<String>,
    tag: String,
    user_data: String,
}

/// Runs `deploy node`: [`provision`], then print where the nodes answer.
pub async fn node(session: &Session, options: &NodeOptions) -> anyhow::Result<()> {
    let deployment = provision(session, options).await?;
    print(session, &deployment)
}

/// Checks, creates the droplets (and load balancer), waits until every node answers
/// `/health`, and returns where they answer, printing nothing. On failure, what was
/// created is deleted (or reported) as [`NodeOptions`] asks; on success the caller owns
/// the droplets (`nnedge bench droplet` deletes them after measuring).
pub async fn provision(session: &Session, options: &NodeOptions) -> anyhow::Result<Deployment> {
    let plan = plan(options)?;
    let request = preflight(session, options, &plan).await?;

    let mut created = Created::new(&plan.tag);
    match create_and_wait(session, options, &request, &mut created).await {
        Ok(deployment) => Ok(deployment),
        Err(error) => Err(after_failure(session, options, &created, error).await),
    }
}

/// Local checks, before any call: names, tag, user data.
fn plan(options: &NodeOptions) -> anyhow::Result<Plan> {
    let names: Vec<String> = match options.count {
        1 => vec![options.name.clone()],
        n => (1..=n).map(|i| format!("{}-{i}", options.name)).collect(),
    };
    names
        .iter()
        .try_for_each(|name| validate_droplet_name(name))?;

    let tag = options.tag.clone().unwrap_or_else(|| options.name.clone());
    validate_tag(&tag)?;

    let user_data = render_user_data(options)?;
    check_user_data(&user_data)?;
    Ok(Plan {
        names,
        tag,
        user_data,
    })
}

/// The node's Ignition config as user data: rendered from the node flags, or read from
/// `--ignition FILE`.
fn render_user_data(options: &NodeOptions) -> anyhow::Result<String> {
    if let Some(path) = &options.ignition {
        let text = fs_err::read_to_string(path)?;
        check_ignition(&text)
            .with_context(|| format!("`{}` is not an Ignition config", path.display()))?;
        return Ok(text);
    }
    match &options.node {
        Some(node) => render_node_json(node).context("failed to render the node's Ignition config"),
        None => anyhow::bail!(
            "say what to run on the node: the node flags (--model-url, --sysext-url, \
             --sysext-sha256, ...) or --ignition FILE"
        ),
    }
}

/// Read-only checks against the API: region, size, image, keys, an unused tag.
async fn preflight(
    session: &Session,
    options: &NodeOptions,
    plan: &Plan,
) -> anyhow::Result<DropletCreate> {
    let client = &session.client;
    let regions = client.list_regions().await?;
    let Some(region) = regions
        .iter()
        .find(|r| r.slug == options.region && r.available)
    else {
        let available: Vec<&str> = regions
            .iter()
            .filter(|r| r.available)
            .map(|r| r.slug.as_str())
            .collect();
        let region = options.region.clone();
        return Err(DeployError::UnknownRegion {
            region,
            available: available.join(", "),
        }
        .into());
    };
    if !region.sizes.is_empty() && !region.sizes.contains(&options.size) {
        let (size, region) = (options.size.clone(), options.region.clone());
        return Err(DeployError::SizeNotInRegion { size, region }.into());
    }

    let image = resolve_image(session, options).await?;
    let ssh_keys = session.keys.resolve(client, &options.ssh_keys).await?;

    let existing = client.list_droplets(Some(&plan.tag)).await?;
    if !existing.is_empty() {
        let droplets: Vec<String> = existing.iter().map(|d| d.id.to_string()).collect();
        let tag = plan.tag.clone();
        return Err(DeployError::TagInUse {
            tag,
            droplets: droplets.join(", "),
        }
        .into());
    }

    Ok(DropletCreate {
        names: plan.names.clone(),
        region: options.region.clone(),
        size: options.size.clone(),
        image,
        ssh_keys,
        user_data: Some(plan.user_data.clone()),
        tags: vec![plan.tag.clone(), "nnedge".to_owned()],
    })
}

/// `--image`, checked, or the newest available Flatcar image in the region.
async fn resolve_image(session: &Session, options: &NodeOptions) -> anyhow::Result<ImageRef> {
    let region = &options.region;
    let Some(given) = &options.image else {
        let images = session.client.list_images(Some(FLATCAR_IMAGE_TAG)).await?;
        let newest = images
            .iter()
            .filter(|i| i.status.as_deref() == Some("available") && i.regions.contains(region))
            .max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        return match newest {
            Some(image) => Ok(ImageRef::Id(image.id)),
            None => Err(DeployError::NoFlatcarImage {
                region: region.clone(),
            }
            .into()),
        };
    };

    let image = ImageRef::parse(given);
    if let ImageRef::Id(id) = image {
        let found = session.client.get_image(&id.to_string()).await?;
        let status = found.status.clone().unwrap_or_default();
        if status != "available" {
            let reason = format!("its status is `{status}`, not `available`");
            return Err(DeployError::ImageNotUsable { id, reason }.into());
        }
        if !found.regions.is_empty() && !found.regions.contains(region) {
            let reason = format!(
                "it is not in `{region}` (only {})",
                found.regions.join(", ")
            );
            return Err(DeployError::ImageNotUsable { id, reason }.into());
        }
    }
    Ok(image)
}

/// The steps that create things; `created` records them for clean-up.
async fn create_and_wait(
    session: &Session,
    options: &NodeOptions,
    request: &DropletCreate,
    created: &mut Created,
) -> anyhow::Result<Deployment> {
    let client = &session.client;
    created.attempted = true;
    let droplets = client.create_droplets(request).await?;
    created.droplets = droplets.clone();

    let ids: Vec<u64> = droplets.iter().map(|d| d.id).collect();
    let active = client
        .wait_for_droplets(&ids, session.tuning.droplet_wait, &session.interrupt)
        .await?;
    created.droplets = active.clone();
    wait_healthy(session, options, &active).await?;

    let load_balancer = if options.count > 1 {
        let name = load_balancer_name(&created.tag);
        let create = LoadBalancerCreate::http_to_tag(
            &name,
            &options.region,
            &created.tag,
            options.server_port(),
        );
        let balancer = client.create_load_balancer(&create).await?;
        created.load_balancer = Some(balancer.id.clone());
        let balancer = client
            .wait_for_load_balancer(
                &balancer.id,
                session.tuning.droplet_wait,
                &session.interrupt,
            )
            .await?;
        let endpoint = format!("http://{}/", balancer.ip);
        Some(BalancerEndpoint {
            id: balancer.id,
            ip: balancer.ip,
            endpoint,
        })
    } else {
        None
    };

    let nodes = active.iter().map(|d| endpoint(options, d)).collect();
    Ok(Deployment {
        tag: created.tag.clone(),
        nodes,
        load_balancer,
    })
}

fn endpoint(options: &NodeOptions, droplet: &Droplet) -> NodeEndpoint {
    let ipv4 = droplet
        .public_ipv4()
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    NodeEndpoint {
        id: droplet.id,
        name: droplet.name.clone(),
        endpoint: format!(
            "{}://{ipv4}:{}/",
            options.health_scheme.as_str(),
            options.server_port()
        ),
        ipv4,
    }
}

fn print(session: &Session, deployment: &Deployment) -> anyhow::Result<()> {
    emit(&session.out, session.format, deployment, || {
        let mut table = Table::new(&["ID", "NAME", "IPV4", "ENDPOINT"]);
        for node in &deployment.nodes {
            let cells = [node.id.to_string(), node.name.clone(), node.ipv4.clone()];
            table.row(cells.into_iter().chain([node.endpoint.clone()]).collect());
        }
        if let Some(balancer) = &deployment.load_balancer {
            let cells = [
                balancer.id.clone(),
                "load balancer".into(),
                balancer.ip.clone(),
            ];
            table.row(
                cells
                    .into_iter()
                    .chain([balancer.endpoint.clone()])
                    .collect(),
            );
        }
        table
    })
}
