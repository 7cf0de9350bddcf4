//! The fake's HTTP side: one hyper connection task per client, and the checks wrapped
//! around every handler.
//!
//! Per request, in order: find the operation in the API description (unknown → 404 and a
//! violation), check the bearer token (401), check parameters and body against the
//! request schema (422 and a violation), apply an injected fault, enforce the account-keys
//! rate limit, run the handler, check the reply against the response schema (a violation
//! if it does not conform), and add the `ratelimit-*` headers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::routes::{route, Call, Reply};
use super::{FaultKind, RecordedRequest, Shared};

/// Requests per hour the fake reports in `ratelimit-limit`.
const RATE_LIMIT: u64 = 5000;

/// Accepts connections until `shutdown` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut shutdown => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(shared.clone(), request));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // A client that hangs up early (a timeout test) is not the fake's problem.
            let _ = connection.await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorized =
        header(http::header::AUTHORIZATION) == Some(format!("Bearer {}", shared.token));
    let is_json =
        header(http::header::CONTENT_TYPE).is_some_and(|c| c.starts_with("application/json"));

    let body: Option<Value> = if raw.is_empty() {
        None
    } else {
        serde_json::from_slice(&raw).ok()
    };
    let mut record = RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
        raw_body: String::from_utf8_lossy(&raw).into_owned(),
        authorized,
        status: 0,
    };

    let (reply, delay, retry_after) = decide(&shared, &mut record, &raw, body.as_ref(), is_json);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    record.status = reply.status;
    shared.lock().requests.push(record);
    Ok(respond(&shared, reply, retry_after))
}

/// Everything between parsing and writing the response; returns the reply, a delay to apply
/// first, and a `retry-after` value.
fn decide(
    shared: &Shared,
    record: &mut RecordedRequest,
    raw: &Bytes,
    body: Option<&Value>,
    is_json: bool,
) -> (Reply, Option<Duration>, Option<u32>) {
    let (method, path) = (record.method.as_str(), record.path.as_str());
    let Some(op) = shared.spec.operation(method, path) else {
        shared.violation(format!(
            "{method} {path}: no such operation in the API description"
        ));
        return (
            Reply::error(404, "not_found", "no such endpoint"),
            None,
            None,
        );
    };
    let checked = |reply: Reply| {
        for problem in shared
            .spec
            .check_response(&op, reply.status, reply.body.as_ref())
        {
            shared.violation(format!("fake answered {method} {path} wrongly: {problem}"));
        }
        reply
    };

    if !record.authorized {
        return (
            checked(Reply::error(
                401,
                "unauthorized",
                "Unable to authenticate you",
            )),
            None,
            None,
        );
    }
    if !raw.is_empty() && (body.is_none() || !is_json) {
        shared.violation(format!(
            "{method} {path}: body is not JSON sent as application/json"
        ));
        return (
            checked(Reply::error(400, "bad_request", "body must be JSON")),
            None,
            None,
        );
    }
    let problems = shared.spec.check_request(&op, &record.query, body);
    if !problems.is_empty() {
        for problem in &problems {
            shared.violation(format!("{method} {path}: {problem}"));
        }
        return (
            checked(Reply::error(
                422,
                "unprocessable_entity",
                &problems.join("; "),
            )),
            None,
            None,
        );
    }

    let mut delay = None;
    match shared.take_fault(method, path) {
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let reply = Reply::error(429, "too_many_requests", "API rate limit exceeded.");
            return (checked(reply), None, Some(retry_after));
        }
        Some(FaultKind::ServerError { status }) => {
            let reply = Reply::error(status, "server_error", "Unexpected server-side error");
            return (checked(reply), None, None);
        }
        Some(FaultKind::Delay(wait)) => delay = Some(wait),
        None => {}
    }
    if method == "GET" && op.template == "/v2/account/keys" && !shared.allow_keys_call() {
        let reply = Reply::error(429, "too_many_requests", "API rate limit exceeded.");
        return (checked(reply), delay, Some(60));
    }

    let mut guard = shared.lock();
    let call = Call {
        method,
        template: &op.template,
        params: &op.params,
        query: &record.query,
        body,
        base_url: &shared.base_url,
    };
    let reply = route(&mut guard.account, &call);
    drop(guard);
    if reply.status == 501 {
        shared.violation(format!("{method} {path}: not implemented by the fake"));
    }
    (checked(reply), delay, None)
}

fn respond(shared: &Shared, reply: Reply, retry_after: Option<u32>) -> Response<Full<Bytes>> {
    let remaining = shared.take_rate_limit();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 60)
        .unwrap_or(0);
    let body = reply
        .body
        .map(|b| Bytes::from(b.to_string()))
        .unwrap_or_default();

    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert("ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(reset));
    if let Some(seconds) = retry_after {
        headers.insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

impl Shared {
    /// Counts a call to the account-keys endpoint against its 10-a-minute limit.
    fn allow_keys_call(&self) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        inner
            .keys_calls
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if inner.keys_calls.len() >= inner.account.options.keys_calls_per_minute {
            return false;
        }
        inner.keys_calls.push_back(now);
        true
    }

    fn take_rate_limit(&self) -> u64 {
        let mut inner = self.lock();
        inner.rate_limit_used += 1;
        RATE_LIMIT.saturating_sub(inner.rate_limit_used)
    }
}
