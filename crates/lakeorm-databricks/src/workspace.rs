//! A Databricks workspace: its URL, an HTTP client and the credentials every request carries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lakeorm_core::{Error, Result};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use url::Url;

use crate::auth::{Credentials, Secret, TokenSource};
use crate::errors::{self, ApiError};

/// How long one HTTP request may take before it is abandoned (statements themselves are
/// polled, so no request waits for a long query).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Throttled (429) or briefly unavailable (503) requests are sent again this often.
const THROTTLE_RETRIES: u32 = 5;

/// A workspace and its credentials; cheap to clone (clones share the HTTP client and the
/// token cache).
#[derive(Clone)]
pub struct Workspace {
    host: Url,
    http: reqwest::Client,
    tokens: Arc<TokenSource>,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace")
            .field("host", &self.host.as_str())
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// The workspace URL of `host`: `https://` unless a scheme is given (`http://` serves local
/// test servers), without a path.
pub fn workspace_url(host: &str) -> Result<Url> {
    let host = host.trim().trim_end_matches('/');
    if host.is_empty() {
        return Err(Error::Config(
            "the Databricks workspace host is empty".into(),
        ));
    }
    let text = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    let mut url =
        Url::parse(&text).map_err(|e| Error::Config(format!("workspace host `{host}`: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "workspace host `{host}` is not an http(s) address"
        )));
    }
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The HTTP client of a workspace.
pub(crate) fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("lakeorm/", env!("CARGO_PKG_VERSION")))
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))
}

impl Workspace {
    /// The workspace at `host` (`adb-123.azuredatabricks.net`, `https://…`), authenticated
    /// with `credentials`. Nothing is requested until the first call.
    pub fn new(host: &str, credentials: Credentials) -> Result<Self> {
        let host = workspace_url(host)?;
        let http = http_client()?;
        let tokens = TokenSource::new(&host, credentials, http.clone())?;
        Ok(Workspace { host, http, tokens })
    }

    /// The workspace with a token source of the caller's (to share it, or to set its refresh
    /// margin).
    pub fn with_tokens(host: &str, tokens: Arc<TokenSource>) -> Result<Self> {
        Ok(Workspace {
            host: workspace_url(host)?,
            http: http_client()?,
            tokens,
        })
    }

    /// `DATABRICKS_HOST` with the credentials of [`Credentials::from_env`].
    pub fn from_env() -> Result<Self> {
        let host = std::env::var("DATABRICKS_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Error::Config("environment variable DATABRICKS_HOST is not set".into())
            })?;
        Self::new(&host, Credentials::from_env()?)
    }

    /// The workspace URL.
    pub fn host(&self) -> &Url {
        &self.host
    }

    /// The token source requests are authenticated with.
    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of an API path (`api/2.0/…`, without a leading slash).
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.host
            .join(path)
            .map_err(|e| Error::Config(format!("API path `{path}`: {e}")))
    }

    /// Sends an authenticated request built by `build` and returns a successful answer.
    ///
    /// A refused token (expired early, revoked) is replaced once; throttling (429) and brief
    /// unavailability (503) are waited out with backoff, honouring `Retry-After`. Any other
    /// error answer becomes a typed error naming `operation`.
    pub(crate) async fn send(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            let token = self.tokens.token().await?;
            let request =
                build(self.http.request(method.clone(), url.clone())).bearer_auth(token.expose());
            let response = request
                .send()
                .await
                .map_err(|e| errors::transport(operation, e))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && self.tokens.is_oauth() && !refreshed {
                refreshed = true;
                self.refused(&token).await;
                continue;
            }
            if matches!(status.as_u16(), 429 | 503) && throttled < THROTTLE_RETRIES {
                let wait = retry_after(&response).unwrap_or_else(|| backoff(throttled));
                throttled += 1;
                tracing::debug!(%status, ?wait, operation, "the workspace asked to wait");
                tokio::time::sleep(wait).await;
                continue;
            }
            let body = errors::read_body(response).await;
            return Err(errors::api(operation, ApiError::from_body(status, &body)));
        }
    }

    async fn refused(&self, token: &Secret) {
        tracing::debug!("the workspace refused the OAuth token; requesting a new one");
        self.tokens.invalidate(token).await;
    }
}

/// Exponential backoff from 250 ms, capped at 8 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(5))).min(Duration::from_secs(8))
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_urls() {
        assert_eq!(
            workspace_url("adb-1.2.azuredatabricks.net")
                .unwrap()
                .as_str(),
            "https://adb-1.2.azuredatabricks.net/"
        );
        assert_eq!(
            workspace_url("https://dbc-1.cloud.databricks.com/?o=1#x")
                .unwrap()
                .as_str(),
            "https://dbc-1.cloud.databricks.com/"
        );
        assert_eq!(
            workspace_url("http://127.0.0.1:8080/").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(workspace_url("").is_err());
        assert!(workspace_url("ftp://x").is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(9), Duration::from_secs(8));
    }
}
