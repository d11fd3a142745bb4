//! Amazon S3 and S3-compatible stores.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lakeorm_core::{Error, Location, Result};
use object_store::ClientConfigKey;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, RetryConfig};

use crate::store::{ObjectStoreBackend, bucket_root};

/// How to reach an S3 bucket.
///
/// Options given here win over the standard `AWS_*` environment variables, which are read when
/// the options come from [`S3Options::from_env`] (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT`,
/// `AWS_ALLOW_HTTP`). Requests are path-style unless
/// [`virtual_hosted_style`](Self::virtual_hosted_style) is set, which is what S3-compatible
/// servers on a bare host and port expect.
#[derive(Clone, Default)]
pub struct S3Options {
    bucket: String,
    prefix: String,
    from_env: bool,
    endpoint: Option<String>,
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    allow_http: Option<bool>,
    virtual_hosted_style: bool,
    max_retries: Option<usize>,
    retry_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials never reach logs.
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("from_env", &self.from_env)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "***"))
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl S3Options {
    /// A lake in `bucket`, configured only by these options.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Options {
            bucket: bucket.into(),
            ..Self::default()
        }
    }

    /// A lake in `bucket`, configured by the standard `AWS_*` environment variables and then by
    /// these options.
    pub fn from_env(bucket: impl Into<String>) -> Self {
        S3Options {
            from_env: true,
            ..Self::new(bucket)
        }
    }

    /// The lake's root inside the bucket (e.g. `"warehouse/prod"`); the bucket's root if unset.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_matches('/').to_owned();
        self
    }

    /// The service endpoint, for S3-compatible servers (`http://127.0.0.1:9000`).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The region (default `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Static credentials.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// A session token to go with temporary credentials.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Allows plain HTTP, for servers on loopback. Off by default.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = Some(allow);
        self
    }

    /// Addresses the bucket as a host name (`bucket.s3.amazonaws.com`) instead of a path.
    pub fn virtual_hosted_style(mut self, on: bool) -> Self {
        self.virtual_hosted_style = on;
        self
    }

    /// Retries of a failed request (object_store's default is 10).
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// How long a request may keep retrying (object_store's default is 3 minutes).
    pub fn retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = Some(timeout);
        self
    }

    /// How long one request may take before it fails and counts as a retry (object_store's
    /// default is 30 seconds). With [`retry_timeout`](Self::retry_timeout) this bounds how long
    /// a call waits on a server that stopped answering.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The bucket.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// The lake's root URI (`s3://bucket/prefix`).
    pub fn root(&self) -> Result<Location> {
        bucket_root("s3", &self.bucket, &self.prefix)
    }

    fn builder(&self) -> AmazonS3Builder {
        let mut builder = if self.from_env {
            AmazonS3Builder::from_env()
        } else {
            AmazonS3Builder::new()
        };
        builder = builder
            .with_bucket_name(&self.bucket)
            .with_virtual_hosted_style_request(self.virtual_hosted_style);
        if self.from_env {
            // object_store reads AWS_ENDPOINT but not the SDKs' AWS_ENDPOINT_URL, nor the
            // region fallbacks; honour what users of the AWS CLI expect.
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                builder = builder.with_endpoint(endpoint);
            }
            if std::env::var_os("AWS_REGION").is_none()
                && let Ok(region) = std::env::var("AWS_DEFAULT_REGION")
            {
                builder = builder.with_region(region);
            }
            if let Ok(allow) = std::env::var("AWS_ALLOW_HTTP") {
                builder =
                    builder.with_allow_http(allow.eq_ignore_ascii_case("true") || allow == "1");
            }
        }
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &self.region {
            builder = builder.with_region(region);
        }
        if let (Some(key), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
        }
        if let Some(token) = &self.session_token {
            builder = builder.with_token(token);
        }
        if let Some(allow) = self.allow_http {
            builder = builder.with_allow_http(allow);
        }
        if self.max_retries.is_some() || self.retry_timeout.is_some() {
            let default = RetryConfig::default();
            builder = builder.with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: self.max_retries.unwrap_or(default.max_retries),
                retry_timeout: self.retry_timeout.unwrap_or(default.retry_timeout),
            });
        }
        if let Some(timeout) = self.request_timeout {
            // Through the config key, not `with_client_options`, which would replace the
            // client options set above (`allow_http`, and those read from the environment).
            builder = builder.with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                humantime_duration(timeout),
            );
        }
        builder
    }
}

/// A duration as object_store's config parser (humantime) reads it, in whole milliseconds.
fn humantime_duration(duration: Duration) -> String {
    format!("{}ms", duration.as_millis().max(1))
}

impl ObjectStoreBackend {
    /// A lake in an S3 (or S3-compatible) bucket.
    ///
    /// JVM Spark engines address it as `s3a://`; the client and native engines as `s3://`.
    /// Performs no I/O: a wrong endpoint or missing bucket shows at the first request, or
    /// up front with `lakeorm::verify`.
    pub fn s3(options: S3Options) -> Result<Self> {
        let root = options.root()?;
        let store = options
            .builder()
            .build()
            .map_err(|e| Error::Config(format!("S3 lake {root}: {e}")))?;
        Ok(ObjectStoreBackend::from_store("s3", root, Arc::new(store)).with_hadoop_scheme("s3a"))
    }
}

#[cfg(test)]
mod tests {
    use lakeorm_core::{Backend, EngineFlavor};

    use super::*;

    #[test]
    fn s3_root_layout_and_hadoop_scheme() {
        let backend = ObjectStoreBackend::s3(
            S3Options::new("bucket")
                .prefix("/warehouse/prod/")
                .endpoint("http://127.0.0.1:9")
                .allow_http(true)
                .credentials("key", "secret"),
        )
        .unwrap();
        assert_eq!(backend.name(), "s3");
        assert_eq!(backend.root().as_str(), "s3://bucket/warehouse/prod");
        let table = backend.table_location("users");
        assert_eq!(
            backend.store_path(&table).as_ref(),
            "warehouse/prod/tables/users"
        );
        assert_eq!(
            backend
                .engine_location(&table, EngineFlavor::Hadoop)
                .unwrap()
                .as_str(),
            "s3a://bucket/warehouse/prod/tables/users"
        );
    }

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let options = S3Options::new("b").credentials("AKIAEXAMPLE", "very-secret");
        let text = format!("{options:?}");
        assert!(
            !text.contains("AKIAEXAMPLE") && !text.contains("very-secret"),
            "{text}"
        );
    }

    #[test]
    fn a_bucket_is_required() {
        assert!(matches!(
            ObjectStoreBackend::s3(S3Options::new("")),
            Err(Error::Config(_))
        ));
    }
}
