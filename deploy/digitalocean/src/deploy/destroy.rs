//! `deploy destroy --tag T`: delete a deployment's load balancer and droplets.

use serde::Serialize;

use super::{load_balancer_name, validate_tag, DestroyOptions};
use crate::output::{emit, Table};
use crate::session::Session;

/// What was deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Destroyed {
    tag: String,
    droplets: Vec<(u64, String)>,
    load_balancers: Vec<String>,
}

/// Runs `deploy destroy`: balancers that target the tag (or carry the deployment's balancer
/// name) first, then every droplet with the tag.
pub async fn destroy(session: &Session, options: &DestroyOptions) -> anyhow::Result<()> {
    let tag = &options.tag;
    validate_tag(tag)?;
    let client = &session.client;

    let name = load_balancer_name(tag);
    let balancers: Vec<String> = client
        .list_load_balancers()
        .await?
        .into_iter()
        .filter(|b| b.tag.as_deref() == Some(tag.as_str()) || b.name == name)
        .map(|b| b.id)
        .collect();
    let droplets = client.list_droplets(Some(tag)).await?;

    for id in &balancers {
        client.delete_load_balancer(id).await?;
    }
    if !droplets.is_empty() {
        client.delete_droplets_by_tag(tag).await?;
    }
    if balancers.is_empty() && droplets.is_empty() {
        tracing::warn!(%tag, "nothing carries this tag; nothing deleted");
    }

    let destroyed = Destroyed {
        tag: tag.clone(),
        droplets: droplets.into_iter().map(|d| (d.id, d.name)).collect(),
        load_balancers: balancers,
    };
    emit(&session.out, session.format, &destroyed, || {
        let mut table = Table::new(&["DELETED", "ID", "NAME"]);
        for (id, name) in &destroyed.droplets {
            table.row(vec!["droplet".into(), id.to_string(), name.clone()]);
        }
        for id in &destroyed.load_balancers {
            table.row(vec!["load balancer".into(), id.clone(), String::new()]);
        }
        table
    })
}
