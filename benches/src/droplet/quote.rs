//! Before anything is created: every size looked up in the sizes API (slug, vCPUs, memory,
//! `price_hourly`), and, for `--dry-run`, the plan in words.

use std::fmt::Write as _;

use nnedge_digitalocean::sizes::Size;
use nnedge_digitalocean::Client;

use super::error::DropletBenchError;
use super::DropletArgs;

/// How many existing slugs an unknown-size error names.
const SUGGESTIONS: usize = 12;

/// Looks up each of `wanted` in the sizes API; refuses a slug the API does not list, or one
/// it cannot create in `region`, before anything is created.
pub(crate) async fn quote_sizes(
    client: &Client,
    wanted: &[String],
    region: &str,
) -> anyhow::Result<Vec<Size>> {
    let offered = client.list_sizes().await?;
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|slug| !offered.iter().any(|s| &s.slug == *slug))
        .map(|slug| format!("`{slug}`"))
        .collect();
    if !unknown.is_empty() {
        let mut available: Vec<&str> = offered.iter().map(|s| s.slug.as_str()).collect();
        if available.len() > SUGGESTIONS {
            available.truncate(SUGGESTIONS);
            available.push("…");
        }
        return Err(DropletBenchError::UnknownSize {
            sizes: unknown.join(", "),
            available: available.join(", "),
        }
        .into());
    }

    let mut quotes = Vec::with_capacity(wanted.len());
    for slug in wanted {
        let Some(size) = offered.iter().find(|s| &s.slug == slug) else {
            continue;
        };
        let in_region = size.regions.is_empty() || size.regions.iter().any(|r| r == region);
        if !size.available || !in_region {
            return Err(DropletBenchError::SizeUnavailable {
                size: slug.clone(),
                region: region.to_owned(),
            }
            .into());
        }
        tracing::debug!(size = %slug, price_hourly = size.price_hourly, "size priced");
        quotes.push(size.clone());
    }
    Ok(quotes)
}

/// What a run would do, for `--dry-run`: the sizes with their prices, then the steps.
pub(crate) fn plan(args: &DropletArgs, sizes: &[Size]) -> String {
    let mut out = String::from("# bench droplet plan (dry run: nothing is created)\n\n");
    let image = args.image.as_deref().map_or_else(
        || {
            format!(
                "the newest available image tagged `flatcar` in {}",
                args.region
            )
        },
        |image| format!("`{image}`"),
    );
    let _ = writeln!(out, "region {}, image {image}", args.region);
    let _ = writeln!(out, "node: {}\n", args.node_summary());
    out.push_str("| size | vCPUs | memory | $/h | droplet |\n|---|---|---|---|---|\n");
    for size in sizes {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} GiB | {:.5} | {} |",
            size.slug,
            size.vcpus,
            size.memory as f64 / 1024.0,
            size.price_hourly,
            args.droplet_name(&size.slug)
        );
    }
    let concurrency: Vec<String> = args.load.concurrency.iter().map(u64::to_string).collect();
    let _ = writeln!(
        out,
        "\nFor each size in turn: create the droplet, wait until it is active and \
         http://IPV4:{}/health answers 200 (at most {} s), load it at concurrency {} \
         ({} requests per stream, max_tokens {}), then delete it, also on failure or \
         Ctrl-C.\n\nThe requests that would be sent:\n",
        args.health_port.unwrap_or_else(|| args.server_port()),
        args.health_timeout,
        concurrency.join(", "),
        args.load.requests_per_stream,
        args.load.max_tokens
    );
    out
}
