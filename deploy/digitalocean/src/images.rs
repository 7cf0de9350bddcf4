//! Custom images: import from a URL, list, get, delete, wait for an import.
//!
//! The API imports an image asynchronously: it starts as `NEW`, becomes `available`, or
//! ends `deleted` with an `error_message`. [`check_image_url`] catches the formats the
//! importer refuses before anything is sent. [`flatcar_image_url`] fills in Flatcar's
//! published DigitalOcean image.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::DoError;
use crate::wait::{poll_until, Interrupt, PollPolicy};

/// Distribution names the API accepts for custom images.
pub const DISTRIBUTIONS: &[&str] = &[
    "Arch Linux",
    "CentOS",
    "CoreOS",
    "Debian",
    "Fedora",
    "Fedora Atomic",
    "FreeBSD",
    "Gentoo",
    "openSUSE",
    "RancherOS",
    "Rocky Linux",
    "Ubuntu",
    "Unknown",
];

/// The distribution recorded for Flatcar images. DigitalOcean has no Flatcar entry;
/// Flatcar descends from CoreOS Container Linux, the closest one listed.
pub const FLATCAR_DISTRIBUTION: &str = "CoreOS";

/// Tag put on Flatcar images by `do image flatcar`; `deploy node` looks for it.
pub const FLATCAR_IMAGE_TAG: &str = "flatcar";

/// Disk formats the importer reads, by file extension (raw images are often `.img`/`.bin`).
const DISK_FORMATS: &[&str] = &["raw", "img", "bin", "qcow2", "vhdx", "vdi", "vmdk"];

/// Compressions the importer unpacks.
const COMPRESSIONS: &[&str] = &["gz", "gzip", "bz2", "bzip2"];

/// Compressions people try that the importer refuses.
const REFUSED_COMPRESSIONS: &[&str] = &["xz", "zst", "zstd", "lz4", "lzma", "zip", "7z", "tar"];

/// An image as the API describes it (the fields nnedge uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Numeric id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Slug of a public image (`ubuntu-24-04-x64`); `None` for custom images.
    #[serde(default)]
    pub slug: Option<String>,
    /// `base`, `snapshot`, `backup`, `custom` or `admin`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Distribution name.
    #[serde(default)]
    pub distribution: Option<String>,
    /// `NEW`, `available`, `pending`, `deleted` or `retired`.
    #[serde(default)]
    pub status: Option<String>,
    /// Why an import failed.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Regions the image is in.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Tags (the API may send `null`).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Size in GB, once known.
    #[serde(default)]
    pub size_gigabytes: Option<f64>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
}

impl Image {
    /// Whether the image carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().flatten().any(|t| t == tag)
    }
}

/// Body of `POST /v2/images`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageCreate {
    /// Display name.
    pub name: String,
    /// Where the importer downloads the image.
    pub url: String,
    /// Region to import into.
    pub region: String,
    /// One of [`DISTRIBUTIONS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags to apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct ImageEnvelope {
    image: Image,
}

/// Checks an image URL before asking the API to import it: http(s), a disk format the
/// importer reads, optionally gzip or bzip2 compressed. Says what to do otherwise.
pub fn check_image_url(text: &str) -> Result<(), DoError> {
    let refuse = |reason: String| DoError::UnsupportedImageUrl {
        url: text.to_owned(),
        reason,
    };
    let url = url::Url::parse(text).map_err(|e| refuse(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse(
            "the importer downloads only http:// or https:// URLs".into(),
        ));
    }

    let file = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let lower = file.to_ascii_lowercase();
    let mut parts: Vec<&str> = lower.split('.').skip(1).collect();
    if let Some(last) = parts.last() {
        if REFUSED_COMPRESSIONS.contains(last) {
            return Err(refuse(format!(
                "`.{last}` compression is not supported; recompress with gzip or bzip2 \
                 (e.g. `xz -dc IMAGE.xz | bzip2 > IMAGE.bz2`) and host that"
            )));
        }
        if COMPRESSIONS.contains(last) {
            parts.pop();
        }
    }
    match parts.last() {
        Some(format) if DISK_FORMATS.contains(format) => Ok(()),
        _ => Err(refuse(format!(
            "`{file}` does not name a raw, qcow2, vhdx, vdi or vmdk image \
             (optionally .gz or .bz2); the importer accepts only those"
        ))),
    }
}

/// The canonical spelling of a distribution name (case-insensitive match).
pub fn check_distribution(given: &str) -> Result<&'static str, DoError> {
    DISTRIBUTIONS
        .iter()
        .copied()
        .find(|d| d.eq_ignore_ascii_case(given))
        .ok_or_else(|| DoError::UnknownDistribution {
            given: given.to_owned(),
            allowed: DISTRIBUTIONS.join(", "),
        })
}

/// Flatcar release channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlatcarChannel {
    /// Production releases.
    Stable,
    /// The next stable.
    Beta,
    /// Newest features.
    Alpha,
    /// Long-term support.
    Lts,
}

impl FlatcarChannel {
    /// Lower-case channel name, as in Flatcar's release URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Beta => "beta",
            Self::Alpha => "alpha",
            Self::Lts => "lts",
        }
    }
}

/// Flatcar's DigitalOcean image for a channel and version (`current` or `4081.2.0`).
pub fn flatcar_image_url(channel: FlatcarChannel, version: &str) -> Result<String, DoError> {
    let well_formed = version == "current"
        || (!version.is_empty()
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
    if !well_formed {
        return Err(DoError::UnsupportedImageUrl {
            url: format!("flatcar {} {version}", channel.as_str()),
            reason: "the version must be `current` or numbers like 4081.2.0".into(),
        });
    }
    Ok(format!(
        "https://{}.release.flatcar-linux.net/amd64-usr/{version}/\
         flatcar_production_digitalocean_image.bin.bz2",
        channel.as_str()
    ))
}

impl Client {
    /// Starts a custom image import.
    pub async fn create_image(&self, request: &ImageCreate) -> Result<Image, DoError> {
        let url = self.url("v2/images", &[])?;
        let envelope: ImageEnvelope = self.post(url, request).await?;
        Ok(envelope.image)
    }

    /// The account's custom images (`private=true`), optionally only those tagged `tag`.
    pub async fn list_images(&self, tag: Option<&str>) -> Result<Vec<Image>, DoError> {
        let mut query = vec![("private", "true".to_owned())];
        if let Some(tag) = tag {
            query.push(("tag_name", tag.to_owned()));
        }
        self.list_all("v2/images", &query, "images").await
    }

    /// One image by id or public slug.
    pub async fn get_image(&self, id_or_slug: &str) -> Result<Image, DoError> {
        let url = self.url_segments(&["v2", "images", id_or_slug])?;
        let envelope: ImageEnvelope = self.get(url).await?;
        Ok(envelope.image)
    }

    /// Deletes an image.
    pub async fn delete_image(&self, id: u64) -> Result<(), DoError> {
        self.delete(self.url(&format!("v2/images/{id}"), &[])?)
            .await
    }

    /// Polls until image `id` is `available`; an import that ends `deleted` or `retired`
    /// is an [`DoError::ImageImportFailed`] with the API's `error_message`.
    pub async fn wait_for_image(
        &self,
        id: u64,
        policy: PollPolicy,
        interrupt: &Interrupt,
    ) -> Result<Image, DoError> {
        let what = format!("image {id}");
        poll_until(&what, "available", policy, interrupt, || async {
            let image = self.get_image(&id.to_string()).await?;
            match image.status.as_deref() {
                Some("available") => Ok(Some(image)),
                Some(status @ ("deleted" | "retired")) => Err(DoError::ImageImportFailed {
                    id,
                    message: image
                        .error_message
                        .filter(|m| !m.trim().is_empty())
                        .unwrap_or_else(|| format!("the image ended `{status}` without a message")),
                }),
                _ => Ok(None),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_urls_in_supported_formats_pass() {
        for url in [
            "https://example.test/flatcar_production_digitalocean_image.bin.bz2",
            "http://example.test/a/disk.qcow2",
            "https://example.test/disk.vmdk.gz",
            "https://example.test/disk.IMG",
        ] {
            assert!(check_image_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn xz_and_unknown_formats_are_refused_with_advice() {
        let err = check_image_url("https://example.test/disk.img.xz").unwrap_err();
        assert!(err.to_string().contains("gzip or bzip2"), "{err}");
        assert!(check_image_url("https://example.test/disk.iso").is_err());
        assert!(check_image_url("file:///tmp/disk.img").is_err());
    }

    #[test]
    fn flatcar_urls_and_versions() {
        let url = flatcar_image_url(FlatcarChannel::Lts, "current").unwrap();
        assert!(url.starts_with("https://lts.release.flatcar-linux.net/amd64-usr/current/"));
        assert!(check_image_url(&url).is_ok());
        assert!(flatcar_image_url(FlatcarChannel::Stable, "4081.2.0").is_ok());
        assert!(flatcar_image_url(FlatcarChannel::Stable, "../../x").is_err());
    }

    #[test]
    fn distributions_match_case_insensitively() {
        assert_eq!(check_distribution("rocky linux").unwrap(), "Rocky Linux");
        assert!(check_distribution("Flatcar").is_err());
    }
}
