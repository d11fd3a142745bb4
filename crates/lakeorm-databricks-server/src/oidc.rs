//! OAuth machine-to-machine: `POST /oidc/v1/token` (the client credentials grant, `all-apis`
//! scope), the discovery documents SDKs read first, and the bearer check every other workspace
//! endpoint goes through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::Shared;
use crate::errors::{ApiError, json_response};
use crate::faults::bump;

/// The tokens issued so far: when each expires and under which fault epoch it was issued.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Issued>>,
}

#[derive(Debug, Clone, Copy)]
struct Issued {
    expires: Instant,
    epoch: u64,
}

/// Whether a bearer token was accepted, and if not why.
enum Check {
    Valid,
    Expired,
    Unknown,
}

impl Tokens {
    fn issue(&self, shared: &Shared) -> String {
        // 256 random bits, hex: opaque, as Databricks' tokens are to a client.
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        issued.retain(|_, t| t.expires > now);
        issued.insert(
            token.clone(),
            Issued {
                expires: now + shared.config.token_lifetime,
                epoch: shared.faults.token_epoch(),
            },
        );
        token
    }

    fn check(&self, token: &str, epoch: u64) -> Check {
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        match issued.get(token) {
            Some(t) if t.expires > Instant::now() && t.epoch == epoch => Check::Valid,
            Some(_) => Check::Expired,
            None => Check::Unknown,
        }
    }
}

/// An OAuth error body (RFC 6749 §5.2), which the token endpoint answers with.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"oidc\""),
        );
    }
    response
}

/// The client id and secret of a request: HTTP basic authentication (`client_secret_basic`)
/// or the form fields (`client_secret_post`).
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let encoded = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before the basic encoding.
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return Some((decode(id), decode(secret)));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

/// `POST /oidc/v1/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bump(&shared.counters.token_requests);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some((id, secret)) = client_credentials(&headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: no client credentials were sent",
        );
    };
    if id != shared.config.client_id || secret != shared.config.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type `{other}` is not supported; use client_credentials"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the grant_type parameter is missing",
            );
        }
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if !scopes.contains(&"all-apis")
        || scopes
            .iter()
            .any(|s| !matches!(*s, "all-apis" | "offline_access" | "sql"))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("scope `{scope}` is not allowed; request `all-apis`"),
        );
    }
    let token = shared.tokens.issue(&shared);
    bump(&shared.counters.tokens_issued);
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": shared.config.token_lifetime.as_secs(),
            "scope": "all-apis",
        }),
    )
}

/// `GET /oidc/.well-known/oauth-authorization-server` (and `openid-configuration`).
pub(crate) async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    let host = &shared.host;
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "issuer": format!("{host}/oidc"),
            "authorization_endpoint": format!("{host}/oidc/v1/authorize"),
            "token_endpoint": format!("{host}/oidc/v1/token"),
            "jwks_uri": format!("{host}/oidc/jwks.json"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["all-apis", "offline_access"],
            "response_types_supported": ["code"],
        }),
    )
}

/// Lets a request through only with a valid bearer token (an issued, unexpired OAuth token or
/// the configured personal access token).
pub(crate) async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let refusal = match bearer {
        None => Some("Credential was not sent or was of an unsupported type for this API."),
        Some(token) if shared.config.personal_token.as_deref() == Some(token.as_str()) => None,
        Some(token) => match shared.tokens.check(&token, shared.faults.token_epoch()) {
            Check::Valid => None,
            Check::Expired => Some("Token expired. Request a new access token."),
            Check::Unknown => Some("Invalid access token."),
        },
    };
    match refusal {
        None if shared.faults.take_throttle() => {
            bump(&shared.counters.throttled);
            let mut response = ApiError::throttled().into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
        None => next.run(request).await,
        Some(message) => {
            bump(&shared.counters.unauthenticated);
            ApiError::unauthenticated(message).into_response()
        }
    }
}
