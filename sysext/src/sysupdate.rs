//! The systemd-sysupdate transfer file that keeps an extension current on a Flatcar host:
//! it downloads `NAME-VERSION-ARCH.raw` files listed in a `SHA256SUMS` at a URL into
//! `/opt/extensions/NAME` and points `/etc/extensions/NAME.raw` at the newest.

use crate::error::{Result, SysextError};

/// How many versions sysupdate keeps on the host (the running one, the new one, one more).
pub const INSTANCES_MAX: u32 = 3;

/// Renders `NAME.conf` for images named `NAME-@v-%a.raw` published under `source_url`
/// (the folder holding the images and their `SHA256SUMS`).
///
/// The transfer says `Verify=false`: sysupdate checks each download against `SHA256SUMS`
/// but nothing signs that list, so the URL must be trusted (HTTPS). Signing the list with
/// a GPG key that the host's sysupdate keyring trusts would lift this.
/// TODO(#5): sign SHA256SUMS and drop `Verify=false`.
pub fn render_transfer(name: &str, source_url: &str) -> Result<String> {
    let plain = source_url.chars().all(|c| c.is_ascii_graphic());
    let http = source_url.starts_with("https://") || source_url.starts_with("http://");
    if !plain || !http {
        return Err(SysextError::InvalidSourceUrl {
            url: source_url.to_owned(),
        });
    }
    let pattern = format!("{name}-@v-%a.raw");
    Ok(format!(
        "[Transfer]\n\
         Verify=false\n\
         \n\
         [Source]\n\
         Type=url-file\n\
         Path={source_url}\n\
         MatchPattern={pattern}\n\
         \n\
         [Target]\n\
         InstancesMax={INSTANCES_MAX}\n\
         Type=regular-file\n\
         Path=/opt/extensions/{name}\n\
         MatchPattern={pattern}\n\
         CurrentSymlink=/etc/extensions/{name}.raw\n"
    ))
}
