//! When and how long to wait before sending a request again.
//!
//! * 429 Too Many Requests: the request was not processed, so every method is retried. The
//!   wait is the `retry-after` header (seconds, times [`RetryPolicy::retry_after_unit`]) or
//!   an exponential backoff when the header is missing, whichever is longer.
//! * 5xx, timeouts and broken connections: retried only for idempotent methods (GET, PUT,
//!   DELETE). A `POST` that failed this way may still have created something, so it is
//!   reported instead; the deploy flow tags everything it creates and cleans up by tag.
//!
//! Both kinds are bounded by [`RetryPolicy::max_retries`].

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

/// Retry limits and the clock they run on. Tests shrink the units to keep waits short.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` requests at most).
    pub max_retries: u32,
    /// First backoff; doubles with every retry.
    pub backoff_base: Duration,
    /// Longest single wait.
    pub max_wait: Duration,
    /// What one second of `retry-after` means (one second, except in tests).
    pub retry_after_unit: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            backoff_base: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
            retry_after_unit: Duration::from_secs(1),
        }
    }
}

/// What to do after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// Give up and report what happened.
    GiveUp,
}

impl RetryPolicy {
    /// Exponential backoff for retry number `retry` (0-based), capped at `max_wait`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        self.backoff_base.saturating_mul(factor).min(self.max_wait)
    }

    /// Decides about a response with `status` after `retry` retries so far.
    pub(crate) fn after_status(
        &self,
        method: &Method,
        status: StatusCode,
        headers: &HeaderMap,
        retry: u32,
    ) -> Verdict {
        if retry >= self.max_retries {
            return Verdict::GiveUp;
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let told = retry_after(headers).map(|secs| self.retry_after_unit.saturating_mul(secs));
            let wait = told.unwrap_or_default().max(self.backoff(retry));
            return Verdict::RetryAfter(wait.min(self.max_wait));
        }
        if status.is_server_error() && is_idempotent(method) {
            return Verdict::RetryAfter(self.backoff(retry));
        }
        Verdict::GiveUp
    }

    /// Decides about a timeout or a broken connection after `retry` retries so far.
    pub(crate) fn after_failure(&self, method: &Method, retry: u32) -> Verdict {
        if retry < self.max_retries && is_idempotent(method) {
            Verdict::RetryAfter(self.backoff(retry))
        } else {
            Verdict::GiveUp
        }
    }
}

/// Methods that can be repeated without creating anything twice.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    )
}

/// The `retry-after` header as whole seconds. (The HTTP-date form is not used by the API.)
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<u32> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The `ratelimit-*` headers of a response, for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    /// Requests allowed per hour.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Unix time when the oldest request expires.
    pub reset: Option<u64>,
}

impl RateLimit {
    /// Reads the headers; missing or malformed ones are `None`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse().ok();
        Self {
            limit: number("ratelimit-limit"),
            remaining: number("ratelimit-remaining"),
            reset: number("ratelimit-reset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            backoff_base: Duration::from_millis(10),
            max_wait: Duration::from_secs(5),
            retry_after_unit: Duration::from_millis(100),
        }
    }

    #[test]
    fn too_many_requests_waits_for_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        let verdict =
            policy().after_status(&Method::POST, StatusCode::TOO_MANY_REQUESTS, &headers, 0);
        assert_eq!(verdict, Verdict::RetryAfter(Duration::from_millis(300)));
    }

    #[test]
    fn server_errors_retry_only_idempotent_methods_and_only_so_often() {
        let p = policy();
        let headers = HeaderMap::new();
        let bad = StatusCode::BAD_GATEWAY;
        assert_eq!(
            p.after_status(&Method::GET, bad, &headers, 2),
            Verdict::RetryAfter(Duration::from_millis(40))
        );
        assert_eq!(
            p.after_status(&Method::GET, bad, &headers, 3),
            Verdict::GiveUp
        );
        assert_eq!(
            p.after_status(&Method::POST, bad, &headers, 0),
            Verdict::GiveUp
        );
        assert_eq!(
            p.after_status(&Method::GET, StatusCode::NOT_FOUND, &headers, 0),
            Verdict::GiveUp
        );
    }

    #[test]
    fn rate_limit_headers_parse() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-limit", "5000".parse().unwrap());
        headers.insert("ratelimit-remaining", "4816".parse().unwrap());
        let limits = RateLimit::from_headers(&headers);
        assert_eq!(
            (limits.limit, limits.remaining, limits.reset),
            (Some(5000), Some(4816), None)
        );
    }
}
