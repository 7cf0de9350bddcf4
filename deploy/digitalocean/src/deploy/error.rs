//! Errors of the deploy flow that are not API errors.

use std::time::Duration;

/// Why a deployment could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The region slug is not in the region list.
    #[error("unknown region `{region}`; available regions: {available}")]
    UnknownRegion {
        /// The region as given.
        region: String,
        /// Regions that accept new droplets.
        available: String,
    },

    /// The size is not offered in the region.
    #[error("size `{size}` is not offered in `{region}`; see `nnedge do sizes list`")]
    SizeNotInRegion {
        /// Size slug.
        size: String,
        /// Region slug.
        region: String,
    },

    /// No image given and no Flatcar image found.
    #[error(
        "no available image tagged `flatcar` in `{region}`; import one with \
         `nnedge do image flatcar --region {region} --wait` or pass --image"
    )]
    NoFlatcarImage {
        /// Region slug.
        region: String,
    },

    /// The image cannot be used here.
    #[error("image {id} cannot be used: {reason}")]
    ImageNotUsable {
        /// Image id.
        id: u64,
        /// Why.
        reason: String,
    },

    /// Droplets already carry the deployment tag; clean-up by tag would delete them.
    #[error(
        "tag `{tag}` is already on droplets {droplets}; pick another --tag or remove them with \
         `nnedge deploy destroy --tag {tag}`"
    )]
    TagInUse {
        /// The tag.
        tag: String,
        /// The droplets carrying it.
        droplets: String,
    },

    /// A tag name the API would refuse.
    #[error("invalid tag `{tag}`: use letters, digits, `:`, `-` and `_` (at most 255)")]
    InvalidTag {
        /// The tag.
        tag: String,
    },

    /// A node never answered `/health` with 200.
    #[error(
        "{url} did not answer 200 within {after:?} (last: {last}); log in with \
         `ssh core@ADDRESS` and read `journalctl -b` to see why"
    )]
    Unhealthy {
        /// The probed URL.
        url: String,
        /// The last probe's result.
        last: String,
        /// How long we waited.
        after: Duration,
    },
}
