//! The `nnedge do …` handlers: call the client, print a table or JSON.

use anyhow::Context as _;
use serde_json::Value;

use crate::cli::{DoCommand, DropletCommand, DropletCreateArgs, ImageCommand, ListOnly};
use crate::droplets::{check_user_data, validate_droplet_name, Droplet, DropletCreate, ImageRef};
use crate::error::DoError;
use crate::images::{self, Image, ImageCreate};
use crate::output::{emit, Table};
use crate::session::Session;

/// Dispatches one `do` command.
pub(crate) async fn run(session: &Session, command: &DoCommand) -> anyhow::Result<()> {
    match command {
        DoCommand::Image(command) => image(session, command).await,
        DoCommand::Droplet(command) => droplet(session, command).await,
        DoCommand::Keys(ListOnly::List) => {
            let keys = session.keys.keys(&session.client).await?;
            emit(&session.out, session.format, keys, || {
                let mut table = Table::new(&["ID", "NAME", "FINGERPRINT"]);
                for key in keys {
                    table.row(vec![
                        key.id.to_string(),
                        key.name.clone(),
                        key.fingerprint.clone(),
                    ]);
                }
                table
            })
        }
        DoCommand::Sizes(ListOnly::List) => {
            let sizes = session.client.list_sizes().await?;
            emit(&session.out, session.format, &sizes, || {
                let header = [
                    "SLUG",
                    "VCPUS",
                    "MEMORY",
                    "DISK",
                    "$/HOUR",
                    "$/MONTH",
                    "AVAILABLE",
                ];
                let mut table = Table::new(&header);
                for size in &sizes {
                    table.row(vec![
                        size.slug.clone(),
                        size.vcpus.to_string(),
                        format!("{} MiB", size.memory),
                        format!("{} GB", size.disk),
                        format!("{:.5}", size.price_hourly),
                        format!("{:.2}", size.price_monthly),
                        size.available.to_string(),
                    ]);
                }
                table
            })
        }
    }
}

async fn image(session: &Session, command: &ImageCommand) -> anyhow::Result<()> {
    let client = &session.client;
    match command {
        ImageCommand::Create(args) => {
            let distribution = args
                .distribution
                .as_deref()
                .map(images::check_distribution)
                .transpose()?;
            let request = ImageCreate {
                name: args.name.clone(),
                url: args.url.clone(),
                region: args.region.clone(),
                distribution: distribution.map(str::to_owned),
                description: args.description.clone(),
                tags: args.tags.clone(),
            };
            create_image(session, &request, args.wait).await
        }
        ImageCommand::Flatcar(args) => {
            let url = images::flatcar_image_url(args.channel, &args.version)?;
            let channel = args.channel.as_str();
            let request = ImageCreate {
                name: args
                    .name
                    .clone()
                    .unwrap_or(format!("flatcar-{channel}-{}", args.version)),
                url,
                region: args.region.clone(),
                distribution: Some(images::FLATCAR_DISTRIBUTION.to_owned()),
                description: Some(format!(
                    "Flatcar Container Linux {channel} {}",
                    args.version
                )),
                tags: vec![images::FLATCAR_IMAGE_TAG.to_owned(), "nnedge".to_owned()],
            };
            create_image(session, &request, args.wait).await
        }
        ImageCommand::List { tag } => {
            print_images(session, &client.list_images(tag.as_deref()).await?)
        }
        ImageCommand::Get { id } => print_images(session, &[client.get_image(id).await?]),
        ImageCommand::Delete { id } => {
            client.delete_image(*id).await?;
            tracing::info!(id, "image deleted");
            Ok(())
        }
    }
}

async fn create_image(session: &Session, request: &ImageCreate, wait: bool) -> anyhow::Result<()> {
    images::check_image_url(&request.url)?;
    let image = session.client.create_image(request).await?;
    tracing::info!(id = image.id, "image import started");
    if !wait {
        return print_images(session, &[image]);
    }

    let waited = session
        .client
        .wait_for_image(image.id, session.tuning.image_wait, &session.interrupt)
        .await;
    let image = waited.map_err(|e| {
        let note = format!(
            "image {} (`{}`) exists and is still importing; check it with \
             `nnedge do image get {}` or delete it with `nnedge do image delete {}`",
            image.id, image.name, image.id, image.id
        );
        note_if_wait_ended_early(e, note)
    })?;
    print_images(session, &[image])
}

/// Adds what exists to an error that ended a wait early (timeout, Ctrl-C).
pub(crate) fn note_if_wait_ended_early(error: DoError, note: String) -> anyhow::Error {
    match error {
        DoError::WaitTimedOut { .. } | DoError::Interrupted { .. } => {
            anyhow::Error::new(error).context(note)
        }
        other => other.into(),
    }
}

fn print_images(session: &Session, images: &[Image]) -> anyhow::Result<()> {
    emit(&session.out, session.format, images, || {
        let mut table = Table::new(&["ID", "NAME", "STATUS", "DISTRIBUTION", "REGIONS", "TAGS"]);
        for image in images {
            table.row(vec![
                image.id.to_string(),
                image.name.clone(),
                image.status.clone().unwrap_or_default(),
                image.distribution.clone().unwrap_or_default(),
                image.regions.join(","),
                image.tags.clone().unwrap_or_default().join(","),
            ]);
        }
        table
    })
}

async fn droplet(session: &Session, command: &DropletCommand) -> anyhow::Result<()> {
    let client = &session.client;
    match command {
        DropletCommand::Create(args) => create_droplets(session, args).await,
        DropletCommand::List { tag } => {
            print_droplets(session, &client.list_droplets(tag.as_deref()).await?)
        }
        DropletCommand::Get { id } => print_droplets(session, &[client.get_droplet(*id).await?]),
        DropletCommand::Delete { id: Some(id), .. } => {
            client.delete_droplet(*id).await?;
            tracing::info!(id, "droplet deleted");
            Ok(())
        }
        DropletCommand::Delete { tag: Some(tag), .. } => {
            client.delete_droplets_by_tag(tag).await?;
            tracing::info!(tag, "droplets deleted");
            Ok(())
        }
        DropletCommand::Delete {
            id: None,
            tag: None,
        } => {
            anyhow::bail!("say which droplet to delete: an id or --tag TAG")
        }
    }
}

async fn create_droplets(session: &Session, args: &DropletCreateArgs) -> anyhow::Result<()> {
    // Everything that can be checked locally is checked before the first call.
    args.names
        .iter()
        .try_for_each(|name| validate_droplet_name(name))?;
    let user_data = read_user_data(args)?;
    if let Some(user_data) = &user_data {
        check_user_data(user_data)?;
    }

    let request = DropletCreate {
        names: args.names.clone(),
        region: args.region.clone(),
        size: args.size.clone(),
        image: ImageRef::parse(&args.image),
        ssh_keys: session
            .keys
            .resolve(&session.client, &args.ssh_keys)
            .await?,
        user_data,
        tags: args.tags.clone(),
    };
    let created = session.client.create_droplets(&request).await?;
    if !args.wait {
        return print_droplets(session, &created);
    }

    let ids: Vec<u64> = created.iter().map(|d| d.id).collect();
    let waited = session
        .client
        .wait_for_droplets(&ids, session.tuning.droplet_wait, &session.interrupt)
        .await;
    let active =
        waited.map_err(|e| note_if_wait_ended_early(e, existing_droplets_note(&created)))?;
    print_droplets(session, &active)
}

/// Reads `--user-data-file` or `--ignition` (which must be an Ignition config).
fn read_user_data(args: &DropletCreateArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.user_data_file {
        return Ok(Some(fs_err::read_to_string(path)?));
    }
    let Some(path) = &args.ignition else {
        return Ok(None);
    };
    let text = fs_err::read_to_string(path)?;
    check_ignition(&text)
        .with_context(|| format!("`{}` is not an Ignition config", path.display()))?;
    Ok(Some(text))
}

/// An Ignition config is a JSON object with `ignition.version`.
pub(crate) fn check_ignition(text: &str) -> anyhow::Result<()> {
    let value: Value = serde_json::from_str(text).context("it is not valid JSON")?;
    match value.pointer("/ignition/version").and_then(Value::as_str) {
        Some(_) => Ok(()),
        None => anyhow::bail!("it has no `ignition.version`"),
    }
}

/// The droplets that exist, and how to delete them.
pub(crate) fn existing_droplets_note(droplets: &[Droplet]) -> String {
    let listed: Vec<String> = droplets
        .iter()
        .map(|d| format!("{} (`{}`)", d.id, d.name))
        .collect();
    let deletes: Vec<String> = droplets
        .iter()
        .map(|d| format!("nnedge do droplet delete {}", d.id))
        .collect();
    format!(
        "droplets {} exist but are not active yet; delete them with `{}`",
        listed.join(", "),
        deletes.join("` and `")
    )
}

fn print_droplets(session: &Session, droplets: &[Droplet]) -> anyhow::Result<()> {
    emit(&session.out, session.format, droplets, || {
        let header = [
            "ID",
            "NAME",
            "STATUS",
            "REGION",
            "SIZE",
            "PUBLIC IPV4",
            "TAGS",
        ];
        let mut table = Table::new(&header);
        for droplet in droplets {
            table.row(vec![
                droplet.id.to_string(),
                droplet.name.clone(),
                droplet.status.clone(),
                droplet.region.slug.clone(),
                droplet.size_slug.clone(),
                droplet
                    .public_ipv4()
                    .map(|ip| ip.to_string())
                    .unwrap_or_default(),
                droplet.tags.join(","),
            ]);
        }
        table
    })
}
