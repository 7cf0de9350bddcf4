//! `bench droplet`: what a million generated tokens cost on each DigitalOcean droplet size.
//!
//! Steps: look every size up in the sizes API (its `price_hourly`; an unknown slug stops
//! the run before anything is created), then for each size in turn deploy one node with
//! `nnedge deploy node`'s own code and options, wait until it is active and its server
//! answers `/health` on its public IPv4 (bounded by `--health-timeout`), run `bench serve`
//! against `http://IPV4:PORT`, and delete the droplet, also when the load fails or the user
//! presses Ctrl-C (module `one_size`). Each level is priced by [`cost`]; [`report`] renders
//! Markdown, JSON, CSV and an SVG of the costs.
//!
//! The run stops at the first size that fails: a node config that never becomes healthy
//! would fail on every size, each costing a droplet and a health timeout. The sizes measured
//! before are still reported. `--dry-run` prints the plan and the requests it would send.
//!
//! The API token comes from `DIGITALOCEAN_ACCESS_TOKEN` or `--token-file`, as for
//! `nnedge do` and `nnedge deploy`, and never appears in output; the API URL from
//! `DIGITALOCEAN_API_URL` (default: DigitalOcean's), which tests point at the fake.

mod args;
pub mod cost;
mod error;
mod one_size;
mod quote;
pub mod report;

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use nnedge_digitalocean::cli::GlobalArgs;
use nnedge_digitalocean::deploy;
use nnedge_digitalocean::output::OutputFormat;
use nnedge_digitalocean::session::{RunEnv, Session};
use nnedge_digitalocean::sizes::Size;
use nnedge_digitalocean::DoError;

pub use args::DropletArgs;
pub use error::DropletBenchError;
pub use report::{DropletReport, ReportContext, SizeResult};

use crate::environment::Versions;
use crate::machine::Machine;

/// Runs `bench droplet` with the process environment (API URL, token, Ctrl-C) on a runtime
/// of its own.
pub fn run_blocking(args: &DropletArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")?;
    runtime.block_on(async {
        let env = RunEnv::from_process()?;
        run_with(args, env).await
    })
}

/// Runs `bench droplet` in `env`: the Markdown report (or, with `--dry-run`, the plan) goes
/// to `env.out`, and with `--out DIR` the report files to DIR.
pub async fn run_with(args: &DropletArgs, mut env: RunEnv) -> anyhow::Result<()> {
    env.tuning.health_wait.timeout = Duration::from_secs(args.health_timeout);
    let api_url = env.api_url.clone();
    let global = GlobalArgs {
        output: OutputFormat::Table,
        dry_run: args.dry_run,
        token_file: args.token_file.clone(),
    };
    let session = Session::open(&global, env)?;

    // Every size is priced before anything is created.
    let sizes = quote::quote_sizes(&session.client, &args.unique_sizes(), &args.region).await?;
    if args.dry_run {
        return dry_run(&session, args, &sizes).await;
    }

    let (results, failure) = bench_sizes(&session, args, &sizes).await;
    if !results.is_empty() {
        let report = DropletReport::new(report_context(args, &api_url), results);
        let written = publish(&session, args, &report);
        match (&failure, written) {
            (None, written) => written?,
            (Some(_), Err(error)) => tracing::error!(
                error = %format!("{error:#}"),
                "the report of the sizes measured was not written"
            ),
            (Some(_), Ok(())) => {}
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Benches each size in turn, until the first failure (or Ctrl-C): the results so far and
/// that failure.
async fn bench_sizes(
    session: &Session,
    args: &DropletArgs,
    sizes: &[Size],
) -> (Vec<SizeResult>, Option<anyhow::Error>) {
    let mut results = Vec::new();
    for (index, size) in sizes.iter().enumerate() {
        if session.interrupt.fired() {
            let during = format!("before size `{}`", size.slug);
            return (
                results,
                Some(DropletBenchError::Interrupted { during }.into()),
            );
        }
        let (number, count) = (index + 1, sizes.len());
        progress(&format!("size {number} of {count}: {}", size.slug));
        match one_size::bench_size(session, args, size).await {
            Ok(result) => results.push(result),
            Err(error) => return (results, Some(error)),
        }
    }
    (results, None)
}

/// What the report records besides the sizes.
fn report_context(args: &DropletArgs, api_url: &url::Url) -> ReportContext {
    ReportContext {
        load_generator: Machine::detect(),
        versions: Versions::detect(None),
        api_url: api_url.to_string(),
        local_stand_in: is_loopback(api_url),
        region: args.region.clone(),
        node: args.node_summary(),
        model_file: args.model_file(),
    }
}

/// Prints the Markdown report and writes the files of `--out`.
fn publish(session: &Session, args: &DropletArgs, report: &DropletReport) -> anyhow::Result<()> {
    session.out.write_str(&report::droplet_markdown(report))?;
    if let Some(dir) = &args.out {
        report::write_droplet(dir, report)
            .with_context(|| format!("failed to write the report to `{}`", dir.display()))?;
    }
    Ok(())
}

/// Prints the plan, then the requests `deploy node` would send for each size, stopping
/// each at its first change.
async fn dry_run(session: &Session, args: &DropletArgs, sizes: &[Size]) -> anyhow::Result<()> {
    session.out.write_str(&quote::plan(args, sizes))?;
    for size in sizes {
        let options = args.node_options(&size.slug);
        match deploy::provision(session, &options).await {
            Err(error) if stopped_by_dry_run(&error) => {}
            Err(error) => return Err(error),
            Ok(deployment) => anyhow::bail!(
                "the dry run created droplets {:?}; delete them with `nnedge deploy destroy \
                 --tag {}`",
                deployment.nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
                deployment.tag
            ),
        }
    }
    Ok(())
}

/// Whether the API is on this machine: then the "droplets" are local stand-ins too.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// Whether `error` is a dry run stopping before its first change.
fn stopped_by_dry_run(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|c| matches!(c.downcast_ref(), Some(DoError::DryRunStop)))
}

/// One progress line on stderr, when stderr is a terminal (always in the debug log).
pub(crate) fn progress(line: &str) {
    tracing::debug!("{line}");
    if std::io::stderr().is_terminal() {
        eprintln!("bench droplet: {line}");
    }
}
