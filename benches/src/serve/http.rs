//! A minimal HTTP/1.1 client for one streaming POST per connection: plain `http://` only,
//! `Connection: close`, chunked or length-delimited bodies handed to the caller as they
//! arrive. That is all a load generator needs, and it keeps every byte on the wire in view.
// TODO(#8): https endpoints (a TLS stream under the same reader) for remote servers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address to connect to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request path.
    pub path: String,
}

/// The path used when the URL names only a server.
pub const CHAT_COMPLETIONS_PATH: &str = "/v1/chat/completions";

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be used.
    #[error("cannot use the URL `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// Connecting failed.
    #[error("failed to connect to {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading or writing failed mid-request.
    #[error("connection error: {source}")]
    Io {
        /// The OS error.
        #[from]
        source: std::io::Error,
    },
    /// The server answered with a status other than 2xx.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the response body.
        message: String,
    },
    /// The response is not HTTP/1.x as expected.
    #[error("malformed response: {reason}")]
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
    /// The request took longer than allowed.
    #[error("no complete response within {seconds:.0} s")]
    Timeout {
        /// The limit.
        seconds: f64,
    },
}

impl Endpoint {
    /// Parses an `http://host:port[/path]` URL; a URL without a path (or `/`) means the
    /// chat-completions path.
    pub fn parse(text: &str) -> Result<Self, HttpError> {
        let bad = |reason| HttpError::Url {
            url: text.to_owned(),
            reason,
        };
        let url = url::Url::parse(text).map_err(|_| bad("not a URL"))?;
        if url.scheme() != "http" {
            return Err(bad("only http:// is supported"));
        }
        let host = match url.host().ok_or(bad("no host"))? {
            url::Host::Ipv6(address) => address.to_string(),
            host => host.to_string(),
        };
        let path = match url.path() {
            "" | "/" => CHAT_COMPLETIONS_PATH.to_owned(),
            path => path.to_owned(),
        };
        Ok(Self {
            host,
            port: url.port_or_known_default().unwrap_or(80),
            path,
        })
    }

    fn address(&self) -> (String, u16) {
        (self.host.clone(), self.port)
    }

    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// POSTs `body` as JSON and hands each piece of the response body to `on_body` as it
/// arrives; fails on a non-2xx status, and when the whole exchange exceeds `timeout`.
pub fn post_streaming(
    endpoint: &Endpoint,
    body: &[u8],
    api_key: Option<&str>,
    timeout: Duration,
    mut on_body: impl FnMut(&[u8]),
) -> Result<(), HttpError> {
    let deadline = Instant::now() + timeout;
    let address = endpoint.address();
    let mut stream = TcpStream::connect(&address).map_err(|source| HttpError::Connect {
        address: endpoint.host_header(),
        source,
    })?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;

    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Accept: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        endpoint.path,
        endpoint.host_header(),
        body.len()
    );
    if let Some(key) = api_key {
        head.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;

    let mut reader = Reader {
        stream,
        buffer: Vec::new(),
        deadline,
        timeout,
    };
    let (status, framing) = reader.read_head()?;
    if !(200..300).contains(&status) {
        let mut text = Vec::new();
        reader.read_body(framing, &mut |bytes| text.extend_from_slice(bytes))?;
        let message = String::from_utf8_lossy(&text);
        return Err(HttpError::Status {
            status,
            message: super::sse::truncate(message.trim(), 200),
        });
    }
    reader.read_body(framing, &mut on_body)
}

/// How the body's end is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Chunked,
    Length(usize),
    UntilClose,
}

struct Reader {
    stream: TcpStream,
    buffer: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
}

impl Reader {
    /// Reads more bytes into the buffer; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, HttpError> {
        if Instant::now() > self.deadline {
            return Err(HttpError::Timeout {
                seconds: self.timeout.as_secs_f64(),
            });
        }
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(HttpError::Timeout {
                    seconds: self.timeout.as_secs_f64(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads up to a `\r\n` and returns the line without it.
    fn line(&mut self) -> Result<String, HttpError> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if !self.fill()? {
                return Err(HttpError::Malformed {
                    reason: "the connection closed mid-line",
                });
            }
        }
    }

    fn read_head(&mut self) -> Result<(u16, Framing), HttpError> {
        let status_line = self.line()?;
        let status = parse_status(&status_line).ok_or(HttpError::Malformed {
            reason: "no HTTP/1.x status line",
        })?;
        let mut framing = Framing::UntilClose;
        loop {
            let line = self.line()?;
            if line.is_empty() {
                return Ok((status, framing));
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            } else if name == "content-length" && framing != Framing::Chunked {
                let length = value.parse().map_err(|_| HttpError::Malformed {
                    reason: "a Content-Length that is not a number",
                })?;
                framing = Framing::Length(length);
            }
        }
    }

    fn read_body(&mut self, framing: Framing, out: &mut dyn FnMut(&[u8])) -> Result<(), HttpError> {
        match framing {
            Framing::Chunked => self.read_chunked(out),
            Framing::Length(mut left) => {
                while left > 0 {
                    if self.buffer.is_empty() && !self.fill()? {
                        return Err(HttpError::Malformed {
                            reason: "the body ended before its Content-Length",
                        });
                    }
                    let take = left.min(self.buffer.len());
                    out(&self.buffer[..take]);
                    self.buffer.drain(..take);
                    left -= take;
                }
                Ok(())
            }
            Framing::UntilClose => loop {
                if !self.buffer.is_empty() {
                    out(&self.buffer);
                    self.buffer.clear();
                }
                if !self.fill()? {
                    return Ok(());
                }
            },
        }
    }

    fn read_chunked(&mut self, out: &mut dyn FnMut(&[u8])) -> Result<(), HttpError> {
        loop {
            let size_line = self.line()?;
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let mut left =
                usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Malformed {
                    reason: "a chunk size that is not hexadecimal",
                })?;
            if left == 0 {
                return Ok(());
            }
            while left > 0 {
                if self.buffer.is_empty() && !self.fill()? {
                    return Err(HttpError::Malformed {
                        reason: "the connection closed mid-chunk",
                    });
                }
                let take = left.min(self.buffer.len());
                out(&self.buffer[..take]);
                self.buffer.drain(..take);
                left -= take;
            }
            if !self.line()?.is_empty() {
                return Err(HttpError::Malformed {
                    reason: "a chunk not followed by CRLF",
                });
            }
        }
    }
}

/// The status code of an `HTTP/1.x NNN reason` line.
fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_chat_path_by_default() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080").expect("valid URL");
        assert_eq!(
            endpoint,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 8080,
                path: CHAT_COMPLETIONS_PATH.into()
            }
        );
        let custom = Endpoint::parse("http://localhost/v1/custom").expect("valid URL");
        assert_eq!((custom.port, custom.path.as_str()), (80, "/v1/custom"));
        assert!(Endpoint::parse("https://127.0.0.1:8443").is_err());
        assert!(Endpoint::parse("127.0.0.1:8080").is_err());
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(parse_status("SSH-2.0-OpenSSH"), None);
    }
}
