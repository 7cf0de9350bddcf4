//! HTTP/1.1 on byte buffers: request parsing and response framing, with no I/O.
//!
//! [`RequestReader`] takes bytes as they arrive from a socket and yields complete requests
//! (head parsed with `httparse`, body by `Content-Length`), enforcing the head and body size
//! limits and asking for `100 Continue` when a client waits for it. [`Response`],
//! [`stream_head`] and [`stream_piece`] produce the bytes to send, including keep-alive and chunked framing for
//! server-sent events. Chunked request bodies are not supported (clients of this API send
//! `Content-Length`).

use std::fmt::Write;

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD_SIZE: usize = 16 * 1024;

/// The most headers a request may have.
const MAX_HEADERS: usize = 64;

/// A complete request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method (`GET`, `POST`, ...).
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// Whether the client speaks HTTP/1.1 (and so understands chunked responses).
    pub http11: bool,
}

impl Request {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request the reader cannot accept; the connection closes after the error response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The bytes are not an HTTP/1.x request.
    #[error("malformed HTTP request: {reason}")]
    Malformed {
        /// What the parser found wrong.
        reason: String,
    },
    /// The head exceeds [`MAX_HEAD_SIZE`].
    #[error("request headers exceed {MAX_HEAD_SIZE} bytes")]
    HeadTooLarge,
    /// `Content-Length` exceeds the body limit.
    #[error("request body of {length} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The announced length.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body uses a transfer coding this server does not read.
    #[error("chunked request bodies are not supported; send Content-Length")]
    UnsupportedTransferEncoding,
}

impl HttpError {
    /// The status code that reports this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed { .. } => 400,
            Self::HeadTooLarge => 431,
            Self::BodyTooLarge { .. } => 413,
            Self::UnsupportedTransferEncoding => 501,
        }
    }
}

/// What [`RequestReader::next_request`] found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// More bytes are needed.
    Incomplete,
    /// The client waits for `100 Continue` before sending the body; send it, then read on.
    SendContinue,
    /// A complete request, removed from the buffer.
    Request(Request),
}

/// Accumulates a connection's incoming bytes and splits them into requests.
#[derive(Debug)]
pub struct RequestReader {
    buffer: Vec<u8>,
    max_body: usize,
    continue_sent: bool,
}

impl RequestReader {
    /// A reader that rejects bodies over `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        Self {
            buffer: Vec::new(),
            max_body,
            continue_sent: false,
        }
    }

    /// Appends bytes read from the socket.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet consumed as requests.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete request, if the buffer holds one.
    pub fn next_request(&mut self) -> Result<ReadOutcome, HttpError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let head_len = match parsed.parse(&self.buffer) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if self.buffer.len() > MAX_HEAD_SIZE => {
                return Err(HttpError::HeadTooLarge)
            }
            Ok(httparse::Status::Partial) => return Ok(ReadOutcome::Incomplete),
            Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
            Err(error) => {
                return Err(HttpError::Malformed {
                    reason: error.to_string(),
                })
            }
        };
        if head_len > MAX_HEAD_SIZE {
            return Err(HttpError::HeadTooLarge);
        }

        // the head is complete: collect what the body needs
        let http11 = parsed.version == Some(1);
        let method = parsed.method.unwrap_or_default().to_owned();
        let target = parsed.path.unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/").to_owned();
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_owned(),
                )
            })
            .collect();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if find("transfer-encoding").is_some_and(|v| !v.eq_ignore_ascii_case("identity")) {
            return Err(HttpError::UnsupportedTransferEncoding);
        }
        let length = match find("content-length") {
            None => 0,
            Some(text) => text.parse::<usize>().map_err(|_| HttpError::Malformed {
                reason: format!("invalid Content-Length `{text}`"),
            })?,
        };
        if length > self.max_body {
            return Err(HttpError::BodyTooLarge {
                length,
                limit: self.max_body,
            });
        }
        let connection = find("connection").map(str::to_ascii_lowercase);
        let keep_alive = match connection.as_deref() {
            Some(value) if value.contains("close") => false,
            Some(value) if value.contains("keep-alive") => true,
            _ => http11,
        };
        let expects_continue =
            find("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));

        // wait for the body
        if self.buffer.len() < head_len + length {
            if expects_continue && http11 && !self.continue_sent {
                self.continue_sent = true;
                return Ok(ReadOutcome::SendContinue);
            }
            return Ok(ReadOutcome::Incomplete);
        }
        let body = self.buffer[head_len..head_len + length].to_vec();
        self.buffer.drain(..head_len + length);
        self.continue_sent = false;
        Ok(ReadOutcome::Request(Request {
            method,
            path,
            headers,
            body,
            keep_alive,
            http11,
        }))
    }
}

/// The interim response that lets a client send its body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A complete response with a body of known length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers (Content-Type, Content-Length and Connection are added when written).
    pub headers: Vec<(&'static str, String)>,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }

    /// A response with the given content type.
    pub fn with_body(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type,
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let mut head = status_line(self.status);
        let _ = write!(
            head,
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            self.content_type,
            self.body.len()
        );
        write_common(&mut head, &self.headers, keep_alive);
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// The head of a streamed response: chunked for HTTP/1.1 clients, else closed at the end.
pub fn stream_head(content_type: &str, chunked: bool, keep_alive: bool) -> Vec<u8> {
    let mut head = status_line(200);
    let _ = write!(
        head,
        "Content-Type: {content_type}\r\nCache-Control: no-cache\r\n"
    );
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    write_common(&mut head, &[], keep_alive && chunked);
    head.into_bytes()
}

/// One piece of a streamed body, framed as a chunk when `chunked`.
pub fn stream_piece(data: &[u8], chunked: bool) -> Vec<u8> {
    if !chunked {
        return data.to_vec();
    }
    let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// The end of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn status_line(status: u16) -> String {
    format!("HTTP/1.1 {status} {}\r\n", reason(status))
}

fn write_common(head: &mut String, headers: &[(&'static str, String)], keep_alive: bool) {
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("Access-Control-Allow-Origin: *\r\n");
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let _ = write!(head, "Connection: {connection}\r\n\r\n");
}

/// The reason phrase of the status codes this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(reader: &mut RequestReader) -> Vec<Request> {
        let mut requests = Vec::new();
        while let Ok(ReadOutcome::Request(request)) = reader.next_request() {
            requests.push(request);
        }
        requests
    }

    #[test]
    fn reads_a_body_split_across_reads_and_pipelined_requests() {
        let mut reader = RequestReader::new(1024);
        reader.extend(
            b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nContent-Length: 7\r\nHost: a\r\n\r\n{\"a\"",
        );
        assert_eq!(reader.next_request(), Ok(ReadOutcome::Incomplete));
        reader.extend(b":1}GET /health HTTP/1.1\r\n\r\n");
        let requests = read_all(&mut reader);
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].path, "/v1/chat/completions");
        assert_eq!(requests[0].body, b"{\"a\":1}");
        assert_eq!(requests[0].header("host"), Some("a"));
        assert!(requests[0].keep_alive);
        assert_eq!(
            (requests[1].method.as_str(), requests[1].path.as_str()),
            ("GET", "/health")
        );
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let mut reader = RequestReader::new(0);
        reader.extend(b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        let alive: Vec<bool> = read_all(&mut reader).iter().map(|r| r.keep_alive).collect();
        assert_eq!(alive, [false, true, false]);
    }

    #[test]
    fn body_over_the_limit_is_413_before_it_arrives() {
        let mut reader = RequestReader::new(10);
        reader.extend(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
        let error = reader.next_request().unwrap_err();
        assert_eq!(
            error,
            HttpError::BodyTooLarge {
                length: 11,
                limit: 10
            }
        );
        assert_eq!(error.status(), 413);
    }

    #[test]
    fn asks_for_continue_once() {
        let mut reader = RequestReader::new(100);
        reader.extend(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(reader.next_request(), Ok(ReadOutcome::SendContinue));
        assert_eq!(reader.next_request(), Ok(ReadOutcome::Incomplete));
        reader.extend(b"{}");
        assert!(matches!(reader.next_request(), Ok(ReadOutcome::Request(_))));
    }

    #[test]
    fn rejects_garbage_huge_heads_and_chunked_bodies() {
        let mut reader = RequestReader::new(100);
        reader.extend(b"\x00\x01 nonsense\r\n\r\n");
        assert_eq!(reader.next_request().unwrap_err().status(), 400);

        let mut reader = RequestReader::new(100);
        reader.extend(format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_SIZE)).as_bytes());
        assert_eq!(reader.next_request().unwrap_err(), HttpError::HeadTooLarge);

        let mut reader = RequestReader::new(100);
        reader.extend(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(reader.next_request().unwrap_err().status(), 501);

        let mut reader = RequestReader::new(100);
        reader.extend(b"POST / HTTP/1.1\r\nContent-Length: -4\r\n\r\n");
        assert_eq!(reader.next_request().unwrap_err().status(), 400);
    }

    #[test]
    fn responses_carry_length_and_connection() {
        let bytes = Response::with_body(404, "text/plain", "no")
            .header("X-A", "1")
            .to_bytes(false);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("X-A: 1\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\nno"));
    }

    #[test]
    fn chunked_stream_framing() {
        let head = String::from_utf8(stream_head("text/event-stream", true, true)).unwrap();
        assert!(
            head.contains("Transfer-Encoding: chunked\r\n")
                && head.contains("Connection: keep-alive")
        );
        assert_eq!(stream_piece(b"data: x\n\n", true), b"9\r\ndata: x\n\n\r\n");
        assert_eq!(stream_piece(b"abc", false), b"abc");
        let plain = String::from_utf8(stream_head("text/event-stream", false, true)).unwrap();
        assert!(plain.contains("Connection: close") && !plain.contains("chunked"));
    }
}
