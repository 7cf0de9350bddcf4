//! The HTTP client for DigitalOcean's API (hyper 1 + tokio, TLS through rustls).
//!
//! `Client::send` is the one place a request leaves the process. It adds the bearer token
//! (marked sensitive, never logged), puts a timeout on every attempt, retries per
//! [`RetryPolicy`], logs the `ratelimit-*` headers, and turns error responses into
//! [`DoError::Api`] with the API's `id`, `message` and `request_id`. In dry-run mode it
//! prints each request with the token redacted, sends read-only ones (so names can still be
//! resolved) and stops before the first one that would change anything.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};
use url::Url;

use crate::error::DoError;
use crate::output::OutputSink;
use crate::retry::{RateLimit, RetryPolicy, Verdict};
use crate::token::{ApiToken, REDACTED};

/// The production API. Tests always point [`API_URL_ENV`] at a fake on 127.0.0.1.
pub const DEFAULT_API_URL: &str = "https://api.digitalocean.com";

/// Environment variable that overrides the API base URL.
pub const API_URL_ENV: &str = "DIGITALOCEAN_API_URL";

const USER_AGENT: &str = concat!("nnedge/", env!("CARGO_PKG_VERSION"));

type Transport = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Everything a [`Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, from [`parse_api_url`].
    pub api_url: Url,
    /// The bearer token.
    pub token: ApiToken,
    /// Limit for one attempt (connect, send, read the whole body).
    pub request_timeout: Duration,
    /// Retry limits.
    pub retry: RetryPolicy,
    /// Print requests here instead of sending changes (`--dry-run`).
    pub dry_run: Option<OutputSink>,
}

/// A DigitalOcean API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    api_url: Url,
    authorization: HeaderValue,
    request_timeout: Duration,
    retry: RetryPolicy,
    dry_run: Option<OutputSink>,
}

/// A response as read off the wire.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// The API's error body.
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    id: String,
    message: String,
    request_id: Option<String>,
}

/// Checks a base URL: https, or plain http only to a loopback host (a local fake or proxy),
/// so the token never crosses a network in clear text.
pub fn parse_api_url(text: &str) -> Result<Url, DoError> {
    let invalid = |reason: &str| DoError::InvalidApiUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not allowed"));
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => {}
        ("http", Some(host)) if is_loopback(&host) => {}
        ("http", Some(_)) => {
            return Err(invalid(
                "plain http is allowed only to 127.0.0.1, ::1 or localhost",
            ))
        }
        _ => return Err(invalid("expected an https:// URL")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => *name == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The transport shared by API calls and health probes.
fn build_transport() -> Result<Transport, DoError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|source| DoError::Tls { source })?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https))
}

impl Client {
    /// Builds a client; no request is sent.
    pub fn new(config: ClientConfig) -> Result<Self, DoError> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| DoError::MalformedToken {
                origin: "the configured token".into(),
            })?;
        authorization.set_sensitive(true);

        let inner = Inner {
            transport: build_transport()?,
            api_url: config.api_url,
            authorization,
            request_timeout: config.request_timeout,
            retry: config.retry,
            dry_run: config.dry_run,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The base URL requests go to.
    pub fn api_url(&self) -> &Url {
        &self.inner.api_url
    }

    /// The URL for an API path such as `v2/droplets`, with a query.
    pub(crate) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, DoError> {
        let mut url = self
            .inner
            .api_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| DoError::InvalidApiUrl {
                url: path.to_owned(),
                reason: e.to_string(),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k, v.as_str())));
        }
        Ok(url)
    }

    /// The URL for API path segments, each percent-encoded (for ids a user typed).
    pub(crate) fn url_segments(&self, segments: &[&str]) -> Result<Url, DoError> {
        let mut url = self.inner.api_url.clone();
        let not_a_base = DoError::InvalidApiUrl {
            url: url.to_string(),
            reason: "cannot be a base URL".into(),
        };
        url.path_segments_mut()
            .map_err(|()| not_a_base)?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// GET a JSON document.
    pub(crate) async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, DoError> {
        let response = self.send(Method::GET, url.clone(), None).await?;
        decode(&Method::GET, &url, &response.body)
    }

    /// POST a JSON body and read a JSON document back.
    pub(crate) async fn post<B, T>(&self, url: Url, body: &B) -> Result<T, DoError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = serde_json::to_vec(body).map_err(|source| DoError::Decode {
            method: "POST".into(),
            path: display_path(&url),
            source,
        })?;
        let response = self
            .send(Method::POST, url.clone(), Some(Bytes::from(body)))
            .await?;
        decode(&Method::POST, &url, &response.body)
    }

    /// DELETE; the API answers 204 with no body.
    pub(crate) async fn delete(&self, url: Url) -> Result<(), DoError> {
        self.send(Method::DELETE, url, None).await.map(drop)
    }

    /// Sends one request, retrying per the policy.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
    ) -> Result<ApiResponse, DoError> {
        self.check_origin(&url)?;
        if let Some(sink) = &self.inner.dry_run {
            print_dry_run(sink, &method, &url, body.as_ref());
            if method != Method::GET {
                return Err(DoError::DryRunStop);
            }
        }

        let path = display_path(&url);
        let mut retry = 0;
        loop {
            let attempt = self.attempt(self.build_request(&method, &url, body.clone())?);
            let verdict = match tokio::time::timeout(self.inner.request_timeout, attempt).await {
                Ok(Ok(response)) => {
                    log_response(&method, &path, &response);
                    if response.status.is_success() {
                        return Ok(response);
                    }
                    let verdict = self.inner.retry.after_status(
                        &method,
                        response.status,
                        &response.headers,
                        retry,
                    );
                    if verdict == Verdict::GiveUp {
                        return Err(error_from(&method, &path, &response, retry + 1));
                    }
                    verdict
                }
                Ok(Err(source)) => match self.inner.retry.after_failure(&method, retry) {
                    Verdict::GiveUp => {
                        return Err(DoError::Transport {
                            method: method.to_string(),
                            path,
                            source,
                        })
                    }
                    verdict => verdict,
                },
                Err(_elapsed) => match self.inner.retry.after_failure(&method, retry) {
                    Verdict::GiveUp => {
                        return Err(DoError::Timeout {
                            method: method.to_string(),
                            path,
                            after: self.inner.request_timeout,
                        })
                    }
                    verdict => verdict,
                },
            };

            if let Verdict::RetryAfter(wait) = verdict {
                warn!(%method, %path, retry = retry + 1, ?wait, "retrying DigitalOcean API call");
                tokio::time::sleep(wait).await;
            }
            retry += 1;
        }
    }

    /// The request for one attempt.
    fn build_request(
        &self,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, DoError> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(header::AUTHORIZATION, self.inner.authorization.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, USER_AGENT);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| DoError::InvalidApiUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })
    }

    /// One attempt: send the request and read the whole body.
    async fn attempt(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<ApiResponse, hyper_util::client::legacy::Error> {
        let response = self.inner.transport.request(request).await?;
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                warn!(error = %e, "response body ended early");
                Bytes::new()
            }
        };
        Ok(ApiResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Refuses any URL outside the configured base, so the token goes nowhere else.
    fn check_origin(&self, url: &Url) -> Result<(), DoError> {
        let base = &self.inner.api_url;
        if url.origin() == base.origin() && url.path().starts_with(base.path()) {
            Ok(())
        } else {
            Err(DoError::OutsideApiUrl {
                url: url.to_string(),
            })
        }
    }

    /// An unauthenticated GET to any URL (a node's `/health`), with its own timeout.
    /// Returns the status, or why there was none.
    pub(crate) async fn probe(&self, url: &Url, timeout: Duration) -> Result<StatusCode, String> {
        let request = Request::get(url.as_str())
            .header(header::USER_AGENT, USER_AGENT)
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(timeout, self.inner.transport.request(request)).await {
            Ok(Ok(response)) => Ok(response.status()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }
}

fn decode<T: DeserializeOwned>(method: &Method, url: &Url, body: &[u8]) -> Result<T, DoError> {
    serde_json::from_slice(body).map_err(|source| DoError::Decode {
        method: method.to_string(),
        path: display_path(url),
        source,
    })
}

/// Path and query of a URL, for messages (the host is always the configured one).
pub(crate) fn display_path(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

fn log_response(method: &Method, path: &str, response: &ApiResponse) {
    let limits = RateLimit::from_headers(&response.headers);
    debug!(
        %method, %path, status = response.status.as_u16(),
        ratelimit_remaining = ?limits.remaining, ratelimit_limit = ?limits.limit,
        ratelimit_reset = ?limits.reset, "DigitalOcean API response"
    );
    if limits.remaining == Some(0) {
        warn!("DigitalOcean rate limit exhausted; further calls will wait for `retry-after`");
    }
}

fn error_from(method: &Method, path: &str, response: &ApiResponse, attempts: u32) -> DoError {
    if response.status == StatusCode::TOO_MANY_REQUESTS {
        return DoError::RateLimited {
            method: method.to_string(),
            path: path.to_owned(),
            attempts,
        };
    }
    let parsed: Option<ApiErrorBody> = serde_json::from_slice(&response.body).ok();
    let (id, message, request_id) = match parsed {
        Some(body) => (body.id, body.message, body.request_id),
        None => (
            "unknown".to_owned(),
            String::from_utf8_lossy(&response.body)
                .chars()
                .take(200)
                .collect(),
            None,
        ),
    };
    DoError::Api {
        status: response.status.as_u16(),
        method: method.to_string(),
        path: path.to_owned(),
        id,
        message,
        request_id,
    }
}

/// Prints a request as `--dry-run` shows it: method, URL, headers (token redacted), body.
fn print_dry_run(sink: &OutputSink, method: &Method, url: &Url, body: Option<&Bytes>) {
    let note = if *method == Method::GET {
        "sent (read-only)"
    } else {
        "not sent"
    };
    let mut text = format!(
        "# dry run: {note}\n{method} {url}\nAuthorization: Bearer {REDACTED}\n\
         Accept: application/json\n"
    );
    if let Some(body) = body {
        text.push_str("Content-Type: application/json\n\n");
        let pretty = serde_json::from_slice::<serde_json::Value>(body)
            .and_then(|value| serde_json::to_string_pretty(&value));
        match pretty {
            Ok(pretty) => text.push_str(&pretty),
            Err(_) => text.push_str(&String::from_utf8_lossy(body)),
        }
        text.push('\n');
    }
    text.push('\n');
    if let Err(e) = sink.write_str(&text) {
        warn!(error = %e, "failed to print dry-run request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_must_be_https_or_loopback_http() {
        assert_eq!(
            parse_api_url("https://api.example.test").unwrap().path(),
            "/"
        );
        assert!(parse_api_url("http://127.0.0.1:9999").is_ok());
        assert!(parse_api_url("http://[::1]:9999/prefix")
            .unwrap()
            .path()
            .ends_with('/'));
        assert!(parse_api_url("http://198.51.100.7").is_err());
        assert!(parse_api_url("ftp://127.0.0.1").is_err());
        assert!(parse_api_url("https://user:pw@api.example.test").is_err());
    }
}
