//! Presigned links to result chunks, and the "cloud storage" port that serves them.
//!
//! A link is `<storage>/results/<statement>/<chunk>/<epoch>?X-Expires=<unix ms>&X-Signature=<hex>`:
//! the signature is an HMAC-SHA256, under a key made at start-up, of the path and the expiry,
//! so neither can be changed. As with S3 presigned URLs the link is its own credential: a
//! request that also carries an `Authorization` header is refused (400), an expired link is
//! refused (403 "Request has expired"), and so is a tampered one (403).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::errors::storage_error;
use crate::faults::bump;

/// Signs and checks links.
pub(crate) struct Signer {
    key: [u8; 32],
}

impl Signer {
    pub(crate) fn new() -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Signer { key }
    }

    /// HMAC-SHA256 (RFC 2104) of `message`, hex.
    fn sign(&self, message: &str) -> String {
        const BLOCK: usize = 64;
        let mut block = [0u8; BLOCK];
        block[..self.key.len()].copy_from_slice(&self.key);
        let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message.as_bytes())
            .finalize();
        let outer = Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize();
        outer.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A fresh link to chunk `chunk` of `statement`, and when it expires.
    pub(crate) fn issue(
        &self,
        shared: &Shared,
        statement: &str,
        chunk: usize,
    ) -> (String, DateTime<Utc>) {
        let lifetime = chrono::Duration::from_std(shared.config.link_lifetime)
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
        let expires = Utc::now() + lifetime;
        let path = format!(
            "/results/{statement}/{chunk}/{}",
            shared.faults.link_epoch()
        );
        let millis = expires.timestamp_millis();
        let signature = self.sign(&format!("{path}\n{millis}"));
        bump(&shared.counters.links_issued);
        (
            format!(
                "{}{path}?X-Expires={millis}&X-Signature={signature}",
                shared.storage_url
            ),
            expires,
        )
    }
}

/// The router of the storage port.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/results/{statement}/{chunk}/{epoch}", get(download))
        .fallback(|| async {
            storage_error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        })
        .with_state(shared)
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Path((statement, chunk, epoch)): Path<(String, usize, u64)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    // S3 refuses a second credential before looking at the first.
    if headers.contains_key(header::AUTHORIZATION) {
        bump(&shared.counters.links_rejected_for_auth_header);
        return storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let (Some(expires), Some(signature)) = (query.get("X-Expires"), query.get("X-Signature"))
    else {
        return storage_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the X-Expires and X-Signature parameters",
        );
    };
    let path = format!("/results/{statement}/{chunk}/{epoch}");
    if shared.links.sign(&format!("{path}\n{expires}")) != *signature {
        bump(&shared.counters.links_bad_signature);
        return storage_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let expired = expires
        .parse::<i64>()
        .map_or(true, |ms| ms <= Utc::now().timestamp_millis())
        || epoch < shared.faults.link_epoch();
    if expired {
        bump(&shared.counters.links_expired);
        return storage_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let Some(file) = shared.statements.chunk_file(&statement, chunk) else {
        return storage_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    match tokio::fs::File::open(&file).await {
        Ok(opened) => {
            let length = opened.metadata().await.map(|m| m.len()).unwrap_or(0);
            bump(&shared.counters.link_fetches);
            let mut response =
                Body::from_stream(crate::files::file_stream(opened, length)).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        Err(_) => storage_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}
