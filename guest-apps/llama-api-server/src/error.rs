//! API errors in OpenAI's JSON shape: `{"error": {"message", "type", "code"}}`.

use serde_json::json;

use crate::http::Response;

/// An error answered to a client, with its status code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Human-readable message.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `server_error`, ...).
    pub kind: &'static str,
    /// A machine-readable code, if any.
    pub code: Option<&'static str>,
    /// Seconds after which a client may retry (sent as `Retry-After`).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(
        status: u16,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code,
            retry_after: None,
        }
    }

    /// 400: the request is not valid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", None, message)
    }

    /// 400 with a code.
    pub fn invalid_with_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", Some(code), message)
    }

    /// 401: missing or wrong API key.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            "missing or incorrect API key; send `Authorization: Bearer <key>`",
        )
    }

    /// 404: no such route or model.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, "invalid_request_error", Some(code), message)
    }

    /// 405: the route exists with other methods.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Self {
        Self::new(
            405,
            "invalid_request_error",
            Some("method_not_allowed"),
            format!("{method} is not allowed on {path}; use {allowed}"),
        )
    }

    /// 500: the inference backend failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", None, message)
    }

    /// 503: busy or not ready; retry later.
    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(503, "server_error", Some(code), message)
        }
    }

    /// The error as a status code plus an extra HTTP status (413, 431, 501) from the HTTP layer.
    pub fn from_status(status: u16, message: impl Into<String>) -> Self {
        let code = match status {
            413 => Some("request_too_large"),
            431 => Some("headers_too_large"),
            501 => Some("not_implemented"),
            _ => None,
        };
        Self::new(status, "invalid_request_error", code, message)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "code": self.code}})
    }

    /// The complete response.
    pub fn response(&self) -> Response {
        let mut response = Response::json(self.status, &self.body());
        if let Some(seconds) = self.retry_after {
            response = response.header("Retry-After", seconds.to_string());
        }
        if self.status == 401 {
            response = response.header("WWW-Authenticate", "Bearer");
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_and_retry_after() {
        let error = ApiError::unavailable("server_busy", "all slots busy", 2);
        assert_eq!(
            error.body(),
            json!({"error": {"message": "all slots busy", "type": "server_error", "code": "server_busy"}})
        );
        let response = error.response();
        assert_eq!(response.status, 503);
        assert!(response.headers.contains(&("Retry-After", "2".to_owned())));
        assert_eq!(
            ApiError::invalid("x").body()["error"]["code"],
            serde_json::Value::Null
        );
    }
}
