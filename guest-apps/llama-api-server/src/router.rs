//! Maps a method and path to an endpoint, with 404 and 405 for the rest.

use crate::error::ApiError;

/// The endpoints this server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /`: the chat page, when the server was built with one.
    ChatPage,
    /// `GET /health`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// `GET /v1/models`.
    Models,
    /// `GET /v1/models/{id}`.
    Model(String),
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `OPTIONS` on any path: a CORS preflight.
    Preflight,
}

impl Route {
    /// A short name for metrics labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::ChatPage => "page",
            Self::Health => "health",
            Self::Metrics => "metrics",
            Self::Models | Self::Model(_) => "models",
            Self::Chat => "chat",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Preflight => "preflight",
        }
    }

    /// Whether the route needs the API key (when one is configured). Health checks and the
    /// chat page stay open so probes and browsers can reach them.
    pub fn needs_key(&self) -> bool {
        !matches!(self, Self::Health | Self::ChatPage | Self::Preflight)
    }
}

/// Finds the route for a request; `has_page` says whether `GET /` serves a chat page.
pub fn route(method: &str, path: &str, has_page: bool) -> Result<Route, ApiError> {
    if method == "OPTIONS" {
        return Ok(Route::Preflight);
    }
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let (route, allowed) = match path {
        "/" if has_page => (Route::ChatPage, "GET"),
        "/health" => (Route::Health, "GET"),
        "/metrics" => (Route::Metrics, "GET"),
        "/v1/models" => (Route::Models, "GET"),
        "/v1/chat/completions" => (Route::Chat, "POST"),
        "/v1/completions" => (Route::Completions, "POST"),
        "/v1/embeddings" => (Route::Embeddings, "POST"),
        _ => match path.strip_prefix("/v1/models/") {
            Some(id) if !id.is_empty() => (Route::Model(id.to_owned()), "GET"),
            _ => {
                return Err(ApiError::not_found(
                    "not_found",
                    format!("no route for {path}"),
                ))
            }
        },
    };
    if method != allowed {
        return Err(ApiError::method_not_allowed(method, path, allowed));
    }
    Ok(route)
}

/// The methods a path allows, for the `Allow` header of a 405.
pub fn allowed_methods(path: &str) -> &'static str {
    match path.trim_end_matches('/') {
        "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings" => "POST, OPTIONS",
        _ => "GET, OPTIONS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_methods_and_errors() {
        assert_eq!(
            route("POST", "/v1/chat/completions", false),
            Ok(Route::Chat)
        );
        assert_eq!(route("GET", "/v1/models/", false), Ok(Route::Models));
        assert_eq!(
            route("GET", "/v1/models/smol", false),
            Ok(Route::Model("smol".into()))
        );
        assert_eq!(
            route("GET", "/v1/chat/completions", false)
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(route("POST", "/health", false).unwrap_err().status, 405);
        assert_eq!(route("GET", "/nope", false).unwrap_err().status, 404);
        assert_eq!(route("GET", "/", false).unwrap_err().status, 404);
        assert_eq!(route("GET", "/", true), Ok(Route::ChatPage));
        assert_eq!(
            route("OPTIONS", "/v1/embeddings", false),
            Ok(Route::Preflight)
        );
    }

    #[test]
    fn health_and_page_need_no_key() {
        assert!(!Route::Health.needs_key());
        assert!(Route::Models.needs_key() && Route::Chat.needs_key() && Route::Metrics.needs_key());
    }
}
