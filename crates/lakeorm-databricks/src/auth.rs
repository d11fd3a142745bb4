//! Credentials for a Databricks workspace: personal access tokens, and OAuth machine-to-machine
//! (a service principal's client id and secret exchanged for short-lived tokens).
//!
//! One [`TokenSource`] serves every caller of a workspace, the SQL-warehouse driver and
//! Databricks Connect alike: an OAuth token is requested once, reused while it has more than
//! the refresh margin left, and requested again by exactly one caller when it runs out (the
//! others wait for that answer rather than asking too).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lakeorm_core::{Error, Result};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::errors::{self, ENGINE};

/// How long before its expiry an OAuth token is replaced by default (the margin covers a
/// request in flight when the token runs out, and clock skew).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A credential, shown as `<redacted>` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

/// How a workspace is authenticated to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A personal access token (or any bearer token the caller manages).
    Token(Secret),
    /// OAuth machine-to-machine: a service principal's client id and secret, exchanged at the
    /// workspace's `/oidc/v1/token` endpoint for tokens with the `all-apis` scope.
    OAuthM2M {
        /// The service principal's application (client) id.
        client_id: String,
        /// Its OAuth secret.
        client_secret: Secret,
    },
}

impl Credentials {
    /// A personal access token.
    pub fn token(token: impl Into<Secret>) -> Self {
        Credentials::Token(token.into())
    }

    /// OAuth machine-to-machine credentials of a service principal.
    pub fn oauth_m2m(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Credentials::OAuthM2M {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// The credentials the standard variables name: `DATABRICKS_CLIENT_ID` with
    /// `DATABRICKS_CLIENT_SECRET` (OAuth M2M) if set, else `DATABRICKS_TOKEN`.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        match (
            var("DATABRICKS_CLIENT_ID"),
            var("DATABRICKS_CLIENT_SECRET"),
            var("DATABRICKS_TOKEN"),
        ) {
            (Some(id), Some(secret), _) => Ok(Credentials::oauth_m2m(id, secret)),
            (Some(_), None, _) => Err(Error::Config(
                "DATABRICKS_CLIENT_ID is set but DATABRICKS_CLIENT_SECRET is not".into(),
            )),
            (None, Some(_), _) => Err(Error::Config(
                "DATABRICKS_CLIENT_SECRET is set but DATABRICKS_CLIENT_ID is not".into(),
            )),
            (None, None, Some(token)) => Ok(Credentials::token(token)),
            (None, None, None) => Err(Error::Config(
                "no Databricks credentials: set DATABRICKS_TOKEN (a personal access token), or \
                 DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (a service principal)"
                    .into(),
            )),
        }
    }
}

/// An OAuth token and when to replace it.
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Bearer tokens for one workspace, cached and refreshed; cheap to share (`Arc`).
pub struct TokenSource {
    endpoint: Url,
    credentials: Credentials,
    http: reqwest::Client,
    margin: Duration,
    cached: Mutex<Option<Cached>>,
    requests: AtomicU64,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.endpoint.as_str())
            .field("credentials", &self.credentials)
            .field("token_requests", &self.token_requests())
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    /// Tokens for the workspace at `host` (its URL) from `credentials`, replaced
    /// [`DEFAULT_REFRESH_MARGIN`] before they expire.
    pub fn new(host: &Url, credentials: Credentials, http: reqwest::Client) -> Result<Arc<Self>> {
        Self::with_refresh_margin(host, credentials, http, DEFAULT_REFRESH_MARGIN)
    }

    /// The same source with another refresh margin. A token whose whole lifetime is shorter
    /// than twice the margin is replaced at half its lifetime instead, so that short-lived
    /// tokens are not requested on every call.
    pub fn with_refresh_margin(
        host: &Url,
        credentials: Credentials,
        http: reqwest::Client,
        margin: Duration,
    ) -> Result<Arc<Self>> {
        let endpoint = host
            .join("oidc/v1/token")
            .map_err(|e| Error::Config(format!("workspace URL {host}: {e}")))?;
        Ok(Arc::new(TokenSource {
            endpoint,
            credentials,
            http,
            margin,
            cached: Mutex::new(None),
            requests: AtomicU64::new(0),
        }))
    }

    /// How many tokens were requested from the workspace so far.
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }

    /// Whether these are OAuth credentials (tokens expire and are refreshed).
    pub fn is_oauth(&self) -> bool {
        matches!(self.credentials, Credentials::OAuthM2M { .. })
    }

    /// A valid bearer token: the personal token, or the cached OAuth token while it has time
    /// left, or a fresh one.
    pub async fn token(&self) -> Result<Secret> {
        let (client_id, client_secret) = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::OAuthM2M {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        // Held across the request: callers arriving while a token is fetched wait for it.
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref()
            && Instant::now() < current.refresh_at
        {
            return Ok(current.token.clone());
        }
        let fresh = self.request(client_id, client_secret).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `stale` after the workspace refused it (revoked, or expired early), so the next
    /// call requests a new one. A token other callers already replaced is left alone.
    pub async fn invalidate(&self, stale: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == stale) {
            *cached = None;
        }
    }

    async fn request(&self, client_id: &str, client_secret: &Secret) -> Result<Cached> {
        self.requests.fetch_add(1, Ordering::AcqRel);
        let operation = "requesting an OAuth token";
        let started = Instant::now();
        let response = self
            .http
            .post(self.endpoint.clone())
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
            .await
            .map_err(|e| errors::transport(operation, e))?;
        let status = response.status();
        let body = errors::read_body(response).await;
        if !status.is_success() {
            // The endpoint's error body (`invalid_client`, …) holds no credential.
            let error = errors::ApiError::from_body(status, &body);
            if matches!(status.as_u16(), 400 | 401 | 403) {
                return Err(Error::Config(format!(
                    "the workspace refused the OAuth client credentials of `{client_id}`: {error}"
                )));
            }
            return Err(Error::engine(
                ENGINE,
                operation,
                status.is_server_error() || status.as_u16() == 429,
                error,
            ));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            Error::engine(
                ENGINE,
                operation,
                false,
                format!("the token endpoint answered with something other than a token: {e}"),
            )
        })?;
        if parsed.access_token.is_empty() {
            return Err(Error::engine(
                ENGINE,
                operation,
                false,
                "the token endpoint answered with an empty token",
            ));
        }
        if let Some(kind) = &parsed.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(Error::engine(
                ENGINE,
                operation,
                false,
                format!("the token endpoint issued a `{kind}` token, not a bearer token"),
            ));
        }
        // Without an expiry the token is kept for an hour, Databricks' usual lifetime.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        let margin = self.margin.min(lifetime / 2);
        tracing::debug!(lifetime = ?lifetime, "obtained an OAuth token");
        Ok(Cached {
            token: Secret::new(parsed.access_token),
            refresh_at: started + lifetime - margin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::oauth_m2m("app", "s3cr3t");
        assert!(!format!("{creds:?}").contains("s3cr3t"));
        assert_eq!(Secret::new("x").to_string(), "<redacted>");
    }

    #[test]
    fn documented_token_answers_parse() {
        let answer: TokenResponse =
            serde_json::from_str(lakeorm_databricks_server::fixture("oidc_token")).unwrap();
        assert!(!answer.access_token.is_empty());
        assert_eq!(
            answer
                .token_type
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("bearer")
        );
        assert!(answer.expires_in.is_some());
    }

    #[test]
    fn credentials_from_the_standard_variables() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            move |name: &str| map.get(name).cloned()
        };
        assert_eq!(
            Credentials::from_lookup(env(&[("DATABRICKS_TOKEN", "dapi1")])).unwrap(),
            Credentials::token("dapi1")
        );
        assert_eq!(
            Credentials::from_lookup(env(&[
                ("DATABRICKS_TOKEN", "dapi1"),
                ("DATABRICKS_CLIENT_ID", "app"),
                ("DATABRICKS_CLIENT_SECRET", "sec"),
            ]))
            .unwrap(),
            Credentials::oauth_m2m("app", "sec")
        );
        let missing = Credentials::from_lookup(env(&[("DATABRICKS_CLIENT_ID", "app")]))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("DATABRICKS_CLIENT_SECRET"), "{missing}");
        let none = Credentials::from_lookup(env(&[])).unwrap_err().to_string();
        assert!(none.contains("DATABRICKS_TOKEN"), "{none}");
    }
}
