//! What can go wrong in `bench droplet` besides the API and deploy errors it passes on.

/// Why a droplet benchmark could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum DropletBenchError {
    /// Size slugs the sizes API does not list; nothing was created.
    #[error(
        "unknown droplet size {sizes}; nothing was created. Sizes the API offers include: \
         {available} (all of them, with prices: `nnedge do sizes list`)"
    )]
    UnknownSize {
        /// The unknown slugs, quoted.
        sizes: String,
        /// Some slugs that exist.
        available: String,
    },

    /// A size that exists but cannot be created in the region now.
    #[error(
        "size `{size}` cannot be created in `{region}` now; nothing was created. Pick \
         another size or region (`nnedge do sizes list` shows where each is offered)"
    )]
    SizeUnavailable {
        /// Size slug.
        size: String,
        /// Region slug.
        region: String,
    },

    /// Every request of a concurrency level failed: the run measured nothing.
    #[error(
        "every request to {url} failed at concurrency {concurrency} ({example}); check \
         --model, the API key and the node's logs (`ssh core@ADDRESS journalctl -b`)"
    )]
    NothingMeasured {
        /// The endpoint.
        url: String,
        /// The level at which everything failed.
        concurrency: usize,
        /// One of the errors.
        example: String,
    },

    /// Ctrl-C arrived while the load ran, or between sizes.
    #[error("interrupted (Ctrl-C) {during}")]
    Interrupted {
        /// What was going on.
        during: String,
    },

    /// The load generator's thread ended without a report.
    #[error("the load generator stopped without a report")]
    LoadGeneratorLost,

    /// Deleting a droplet failed: it still exists, and is billed, until someone deletes it.
    #[error(
        "DROPLET {id} (`{name}`) WAS NOT DELETED and is still billed: {reason}. Delete it \
         now with `nnedge do droplet delete {id}` (or in the control panel)"
    )]
    NotDestroyed {
        /// Droplet id.
        id: u64,
        /// Droplet name.
        name: String,
        /// The API's error.
        reason: String,
    },
}
