//! Data URLs for embedded contents, chosen the way Butane chooses them.
//!
//! Butane tries three encodings and keeps the shortest: a percent-encoded URL
//! (`data:,hello%20world%0A`), a base64 URL (`data:;base64,...`), and, when compression is
//! allowed and the user did not declare one, gzip (best compression) then base64. The gzip
//! form must beat the others by more than the four bytes of `gzip` it adds to the
//! `compression` field. When the input declares no compression, the field is set to `""`
//! explicitly, so a config merged over this one cannot make Ignition gunzip plain text.
//! The gzip stream itself comes from flate2, so its bytes differ from Go's, not its meaning.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// An encoded data URL and the `compression` value that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The `data:` URL.
    pub url: String,
    /// `Some("")`, `Some("gzip")`, or `None` to keep the user's declared compression.
    pub compression: Option<String>,
}

/// Encodes `contents` as Butane does for `inline` and `local`.
///
/// `declared` is the `compression` the user wrote next to `inline`/`local`: then the bytes
/// are already compressed, so they are never gzipped again and the field is left alone.
pub fn encode(contents: &[u8], declared: Option<&str>, allow_gzip: bool) -> Encoded {
    let user_compressed = declared.is_some_and(|c| !c.is_empty());

    // plain and base64 forms; ties go to the plain one
    let mut opaque = format!(",{}", escape(contents));
    let base64 = format!(";base64,{}", STANDARD.encode(contents));
    if base64.len() < opaque.len() {
        opaque = base64;
    }

    // gzip only pays when it beats the others by the length of its compression value
    let mut compression = (!user_compressed).then(String::new);
    if allow_gzip && !user_compressed {
        let gzip = format!(";base64,{}", STANDARD.encode(gzip(contents)));
        if gzip.len() + "gzip".len() < opaque.len() {
            opaque = gzip;
            compression = Some("gzip".to_owned());
        }
    }
    Encoded {
        url: format!("data:{opaque}"),
        compression,
    }
}

/// Percent-encodes everything except RFC 2396 unreserved characters.
pub fn escape(contents: &[u8]) -> String {
    let mut out = String::with_capacity(contents.len());
    for &byte in contents {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes a `data:` URL into its bytes (percent or base64 form); `None` if malformed.
pub fn decode(url: &str) -> Option<Vec<u8>> {
    let rest = url.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    if header.ends_with(";base64") {
        return STANDARD.decode(data).ok();
    }
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = data.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Decompresses gzip data; `None` if it is not valid gzip.
pub fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(data).read_to_end(&mut out).ok()?;
    Some(out)
}

fn gzip(contents: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(contents);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_percent_encoded() {
        let e = encode(b"hello world\n", None, true);
        assert_eq!(e.url, "data:,hello%20world%0A");
        assert_eq!(e.compression.as_deref(), Some(""));
    }

    #[test]
    fn binary_prefers_base64() {
        let e = encode(&[0xff, 0xfe, 0x00, 0x01, 0x80, 0x90], None, true);
        assert_eq!(e.url, "data:;base64,//4AAYCQ");
    }

    #[test]
    fn repetitive_text_is_gzipped() {
        let text = "Environment=A=1\n".repeat(40);
        let e = encode(text.as_bytes(), None, true);
        assert_eq!(e.compression.as_deref(), Some("gzip"));
        let raw = decode(&e.url).and_then(|gz| gunzip(&gz));
        assert_eq!(raw.as_deref(), Some(text.as_bytes()));
    }

    #[test]
    fn declared_compression_is_kept_and_not_regzipped() {
        let text = "x".repeat(500);
        let e = encode(text.as_bytes(), Some("gzip"), true);
        assert_eq!(e.compression, None);
        assert_eq!(decode(&e.url).as_deref(), Some(text.as_bytes()));
    }

    #[test]
    fn empty_contents() {
        assert_eq!(encode(b"", None, true).url, "data:,");
    }
}
