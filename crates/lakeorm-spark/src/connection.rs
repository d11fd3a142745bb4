//! Spark Connect connection strings.
//!
//! The format is `sc://host[:port]/[;param=value]*` (port 15002 by default). Known parameters:
//! `token` (bearer token; implies TLS), `user_id`, `user_agent`, `session_id`, `use_ssl`; any
//! other parameter is sent as a gRPC header, which is how Databricks receives its cluster id
//! (`x-databricks-cluster-id`). Values are percent-decoded, as the Spark Connect clients do:
//! a token holding `=`, `/` or `;` is written `%3D`, `%2F`, `%3B`, and this module writes
//! every value that way when it renders a connection string.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use lakeorm_core::{Error, Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// What a parameter value keeps unescaped: RFC 3986's unreserved characters. Everything else
/// (`=`, `/`, `;`, `%`, `?`, `#` among them) would change how the string splits.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(value: &str) -> String {
    utf8_percent_encode(value, VALUE).to_string()
}

/// The Spark Connect default port.
pub const DEFAULT_PORT: u16 = 15002;

/// A parsed Spark Connect connection string.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Bearer token, if any.
    pub token: Option<String>,
    /// The user id reported to the server.
    pub user_id: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// A fixed session id (a UUID), to reattach to a server-side session.
    pub session_id: Option<String>,
    /// Whether to use TLS.
    pub use_ssl: bool,
    /// Extra gRPC headers.
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("use_ssl", &self.use_ssl)
            .field("user_agent", &self.user_agent)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether a header is a credential by its name (`authorization`, `x-api-key`, `…-token`,
/// `…-secret`): shown redacted like the token.
fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "token", "secret", "password", "key", "credential"]
        .iter()
        .any(|word| name.contains(word))
}

impl ConnectionString {
    /// `text` with every secret of this connection string (the token, credential-like
    /// headers; raw and percent-encoded) replaced by `<redacted>`: for error messages of
    /// lower layers that may quote the string.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let secrets = self.token.iter().chain(
            self.headers
                .iter()
                .filter(|(k, _)| looks_secret(k))
                .map(|(_, v)| v),
        );
        for secret in secrets.filter(|s| !s.is_empty()) {
            for form in [secret.clone(), encode(secret)] {
                out = out.replace(&form, "<redacted>");
            }
        }
        out
    }
}

fn invalid(input: &str, why: impl fmt::Display) -> Error {
    // Never echo a token back: report the string with parameters stripped.
    let shown = input.split(';').next().unwrap_or(input);
    Error::Config(format!("invalid Spark Connect URL `{shown}…`: {why}"))
}

impl ConnectionString {
    /// Parses `sc://host[:port]/[;param=value]*`.
    pub fn parse(input: &str) -> Result<Self> {
        let rest = input
            .strip_prefix("sc://")
            .ok_or_else(|| invalid(input, "it must start with sc://"))?;
        let (authority, params) = match rest.split_once('/') {
            Some((authority, params)) => (authority, params),
            None => match rest.split_once(';') {
                Some((authority, params)) => (authority, params),
                None => (rest, ""),
            },
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| invalid(input, format!("`{port}` is not a port number")))?;
                (host, port)
            }
            _ => (authority, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid(input, "the host is missing"));
        }
        let mut out = ConnectionString {
            host: host.to_owned(),
            port,
            token: None,
            user_id: None,
            user_agent: None,
            session_id: None,
            use_ssl: false,
            headers: BTreeMap::new(),
        };
        for param in params.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').ok_or_else(|| {
                invalid(
                    input,
                    format!(
                        "parameter `{}` has no value",
                        param.split('=').next().unwrap_or(param)
                    ),
                )
            })?;
            let value = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| invalid(input, format!("the value of `{key}` is not UTF-8")))?
                .into_owned();
            match key {
                "token" => {
                    out.token = Some(value);
                    out.use_ssl = true;
                }
                "user_id" => out.user_id = Some(value),
                "user_agent" => out.user_agent = Some(value),
                "session_id" => {
                    // The Spark Connect clients take version 4 UUIDs only.
                    uuid::Uuid::try_parse(&value)
                        .ok()
                        .filter(|u| u.get_version_num() == 4)
                        .ok_or_else(|| invalid(input, "session_id must be a version 4 UUID"))?;
                    out.session_id = Some(value);
                }
                "use_ssl" => {
                    out.use_ssl = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(invalid(
                                input,
                                format!("use_ssl must be true or false, not `{other}`"),
                            ));
                        }
                    }
                }
                other => {
                    out.headers.insert(other.to_owned(), value);
                }
            }
        }
        Ok(out)
    }

    /// A connection to a Databricks cluster through Databricks Connect.
    ///
    /// `host` is the workspace host (with or without `https://`), `token` a personal access or
    /// OAuth token, `cluster_id` the cluster to attach to.
    pub fn databricks(host: &str, token: &str, cluster_id: &str) -> Result<Self> {
        let host = host
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        if host.is_empty() || token.is_empty() || cluster_id.is_empty() {
            return Err(Error::Config(
                "Databricks Connect needs a host, a token and a cluster id".into(),
            ));
        }
        let mut headers = BTreeMap::new();
        headers.insert("x-databricks-cluster-id".to_owned(), cluster_id.to_owned());
        Ok(ConnectionString {
            host,
            port: 443,
            token: Some(token.to_owned()),
            user_id: None,
            user_agent: Some(format!("lakeorm/{}", env!("CARGO_PKG_VERSION"))),
            session_id: None,
            use_ssl: true,
            headers,
        })
    }

    /// A connection to a Databricks cluster whose token is supplied per session (OAuth): the
    /// driver's token source fills it in.
    pub fn databricks_cluster(host: &str, cluster_id: &str) -> Result<Self> {
        let mut url = Self::databricks(host, "-", cluster_id)?;
        url.token = None;
        Ok(url)
    }

    /// The gRPC endpoint (`http://host:port` or `https://host:port`).
    pub fn endpoint(&self) -> String {
        let scheme = if self.use_ssl { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    /// The full connection string, token included, as the Spark Connect client parses it.
    /// Never log this; [`Display`](fmt::Display) prints a redacted form.
    pub(crate) fn to_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut url = format!("sc://{host}:{}/", self.port);
        let mut param = |key: &str, value: &str| {
            url.push(';');
            url.push_str(&encode(key));
            url.push('=');
            url.push_str(&encode(value));
        };
        if let Some(token) = &self.token {
            param("token", token);
        }
        if let Some(user) = &self.user_id {
            param("user_id", user);
        }
        if let Some(agent) = &self.user_agent {
            param("user_agent", agent);
        }
        if let Some(session) = &self.session_id {
            param("session_id", session);
        }
        if self.use_ssl {
            param("use_ssl", "true");
        }
        for (key, value) in &self.headers {
            param(key, value);
        }
        url
    }
}

impl FromStr for ConnectionString {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for ConnectionString {
    /// The connection string with the token redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sc://{}:{}/", self.host, self.port)?;
        if self.token.is_some() {
            f.write_str(";token=<redacted>")?;
        }
        if let Some(user) = &self.user_id {
            write!(f, ";user_id={user}")?;
        }
        if let Some(session) = &self.session_id {
            write!(f, ";session_id={session}")?;
        }
        for (k, v) in &self.headers {
            if looks_secret(k) {
                write!(f, ";{}=<redacted>", encode(k))?;
            } else {
                write!(f, ";{}={}", encode(k), encode(v))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_url_round_trips() {
        let text =
            "sc://db.example:443/;token=secret;user_id=ada;use_ssl=true;x-databricks-cluster-id=c1";
        let parsed = ConnectionString::parse(text).unwrap();
        assert_eq!(ConnectionString::parse(&parsed.to_url()).unwrap(), parsed);
        assert!(!parsed.to_string().contains("secret"));
    }

    #[test]
    fn parses_the_standard_form() {
        let c =
            ConnectionString::parse("sc://localhost:15002/;user_id=ada;token=secret;x-custom=1")
                .unwrap();
        assert_eq!(c.host, "localhost");
        assert_eq!(c.port, 15002);
        assert_eq!(c.user_id.as_deref(), Some("ada"));
        assert_eq!(c.token.as_deref(), Some("secret"));
        assert!(c.use_ssl, "a token implies TLS");
        assert_eq!(c.headers.get("x-custom").map(String::as_str), Some("1"));
        assert_eq!(c.endpoint(), "https://localhost:15002");
        assert!(!format!("{c:?}").contains("secret"));
        assert!(!c.to_string().contains("secret"));
    }

    #[test]
    fn defaults_and_variants() {
        let c = ConnectionString::parse("sc://spark").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.use_ssl),
            ("spark", DEFAULT_PORT, false)
        );
        let c = ConnectionString::parse("sc://127.0.0.1:4040;use_ssl=false").unwrap();
        assert_eq!(c.port, 4040);
        let c = ConnectionString::parse("sc://[::1]:15002/").unwrap();
        assert_eq!(c.host, "::1");
        assert_eq!(c.endpoint(), "http://[::1]:15002");
    }

    #[test]
    fn rejects_bad_strings_without_leaking_tokens() {
        for bad in [
            "http://host:1",
            "sc://:15002",
            "sc://host:port",
            "sc://host/;token",
            "sc://host/;session_id=nope",
            "sc://host/;use_ssl=maybe",
        ] {
            assert!(ConnectionString::parse(bad).is_err(), "{bad}");
        }
        let e = ConnectionString::parse("sc://host:x/;token=secret").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    /// What the official client accepts is the judge: the rendered string of a token with
    /// `=`, `/`, `;` and `%` (OAuth and PAT tokens hold such characters) and a user agent with
    /// a `/` parses there to the same values, and ours reads it back.
    #[test]
    fn rendered_strings_are_what_the_official_client_parses() {
        let token = "dapi/abc=+x;y%z==";
        let c = ConnectionString::databricks("adb-1.example.net", token, "0123-abc").unwrap();
        let url = c.to_url();
        let official = spark_connect_core::channel::ChannelBuilder::parse(&url)
            .unwrap_or_else(|e| panic!("{}", c.redact(&e.message())));
        assert_eq!(official.token().as_deref(), Some(token));
        assert_eq!(official.get("user_agent"), c.user_agent.as_deref());
        assert_eq!(official.get("x-databricks-cluster-id"), Some("0123-abc"));
        assert_eq!(official.port(), 443);
        assert!(official.use_ssl());
        assert_eq!(ConnectionString::parse(&url).unwrap(), c);
        for shown in [c.to_string(), format!("{c:?}")] {
            assert!(!shown.contains("dapi"), "{shown}");
        }
        assert_eq!(
            c.redact(&format!("refused {url} and {token}")),
            format!(
                "refused {} and <redacted>",
                url.replace(&encode(token), "<redacted>")
            )
        );
    }

    #[test]
    fn credential_headers_are_redacted() {
        let c = ConnectionString::parse(
            "sc://h/;x-api-key=k3y;authorization=Bearer%20s3cr3t;x-trace=1",
        )
        .unwrap();
        assert_eq!(c.headers["authorization"], "Bearer s3cr3t");
        let shown = c.to_string();
        assert!(
            !shown.contains("k3y") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert!(shown.contains("x-trace=1"), "{shown}");
        assert_eq!(c.redact("k3y Bearer s3cr3t"), "<redacted> <redacted>");
    }

    #[test]
    fn databricks_sets_the_cluster_header() {
        let c =
            ConnectionString::databricks("https://adb-1.azuredatabricks.net/", "dapi", "0123-abc")
                .unwrap();
        assert_eq!(c.host, "adb-1.azuredatabricks.net");
        assert_eq!(c.port, 443);
        assert_eq!(c.headers["x-databricks-cluster-id"], "0123-abc");
        assert!(ConnectionString::databricks("", "t", "c").is_err());
    }
}
