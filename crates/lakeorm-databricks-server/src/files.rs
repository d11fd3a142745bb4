//! The Files API on the one volume: `/api/2.0/fs/files{path}` (PUT, GET with `Range`, HEAD,
//! DELETE) and `/api/2.0/fs/directories{path}` (PUT, GET listing with pages, HEAD, DELETE).
//!
//! Paths are `/Volumes/<catalog>/<schema>/<volume>/…`, mapped onto the volume's local
//! directory; any other path is `NOT_FOUND`, as a volume that does not exist is. Uploads go to
//! a temporary file renamed into place, so a reader never sees half a file.

use std::path::{Component, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::Shared;
use crate::errors::{ApiError, json_response};
use crate::faults::bump;

/// The most entries one listing page holds (larger `page_size`s are lowered to it).
const MAX_PAGE: usize = 1000;

/// The bytes of `file` from its position on, `length` of them, in 64 KiB pieces.
pub(crate) fn file_stream(
    file: tokio::fs::File,
    length: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::unfold((file, length), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; usize::try_from(left.min(64 * 1024)).unwrap_or(64 * 1024)];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (file, left - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    })
}

/// The local path of an API path, or `NOT_FOUND` outside the volume.
fn local_path(shared: &Shared, path: &str) -> Result<PathBuf, ApiError> {
    let c = &shared.config;
    let api_path = format!("/{}", path.trim_start_matches('/'));
    let mut parts = api_path.trim_matches('/').split('/');
    let volume = [parts.next(), parts.next(), parts.next(), parts.next()];
    if volume
        != [
            Some("Volumes"),
            Some(c.catalog.as_str()),
            Some(c.schema.as_str()),
            Some(c.volume.as_str()),
        ]
    {
        return Err(ApiError::not_found(format!(
            "The path {api_path} is not in an existing volume; this workspace has /Volumes/{}/{}/{}",
            c.catalog, c.schema, c.volume
        )));
    }
    let rest: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
    let relative = PathBuf::from(rest.join("/"));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(ApiError::invalid_parameter(format!(
            "The path {api_path} is not a valid absolute path"
        )));
    }
    Ok(shared.volume_dir.join(relative))
}

fn query_map(query: Option<String>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::internal(format!("the volume's storage failed: {e}"))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn http_date(time: SystemTime) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(time)).unwrap_or(HeaderValue::from_static(""))
}

fn file_headers(headers: &mut HeaderMap, meta: &std::fs::Metadata, length: u64) {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(modified) = meta.modified() {
        headers.insert(header::LAST_MODIFIED, http_date(modified));
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// `PUT /api/2.0/fs/files{path}?overwrite=`: the body, verbatim. As documented, an unspecified
/// `overwrite` overwrites; `overwrite=false` refuses an existing file with 409.
pub(crate) async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    bump(&shared.counters.files_put);
    let target = local_path(&shared, &path)?;
    let overwrite = match query_map(query).get("overwrite").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "overwrite must be true or false, not `{other}`"
            )));
        }
    };
    if target.is_dir() {
        return Err(ApiError::already_exists(format!(
            "The path /{path} is a directory"
        )));
    }
    if !overwrite && target.exists() {
        return Err(ApiError::already_exists(format!(
            "The file being created already exists: /{path}"
        )));
    }
    if let Some(parent) = target.parent() {
        if parent.is_file() {
            return Err(ApiError::already_exists(format!(
                "A parent of /{path} is a file"
            )));
        }
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
    }
    let temp = target.with_file_name(format!(
        ".{}.{}.upload",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file"),
        uuid::Uuid::new_v4().simple()
    ));
    let written: Result<(), ApiError> = async {
        let mut file = tokio::fs::File::create(&temp).await.map_err(io_error)?;
        let mut stream = body.into_data_stream();
        while let Some(piece) = stream.next().await {
            let piece =
                piece.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?;
            file.write_all(&piece).await.map_err(io_error)?;
        }
        file.flush().await.map_err(io_error)?;
        file.sync_all().await.map_err(io_error)?;
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e);
    }
    if !overwrite && target.exists() {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(ApiError::already_exists(format!(
            "The file being created already exists: /{path}"
        )));
    }
    tokio::fs::rename(&temp, &target).await.map_err(io_error)?;
    Ok(no_content())
}

/// `GET /api/2.0/fs/files{path}`, with `Range: bytes=a-b`, `a-` or `-n` (206).
pub(crate) async fn download(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    bump(&shared.counters.files_get);
    let target = local_path(&shared, &path)?;
    let meta = match tokio::fs::metadata(&target).await {
        Ok(meta) if meta.is_file() => meta,
        _ => {
            return Err(ApiError::not_found(format!(
                "The file /{path} does not exist"
            )));
        }
    };
    let size = meta.len();
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => match parse_range(text, size) {
            Some(range) => Some(range),
            None => {
                let mut response = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "INVALID_PARAMETER_VALUE",
                    format!("The range `{text}` is not satisfiable for a file of {size} bytes"),
                )
                .into_response();
                response.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}"))
                        .unwrap_or(HeaderValue::from_static("")),
                );
                return Ok(response);
            }
        },
    };
    let mut file = tokio::fs::File::open(&target).await.map_err(io_error)?;
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { end - start + 1 };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io_error)?;
    }
    let mut response = Body::from_stream(file_stream(file, length)).into_response();
    file_headers(response.headers_mut(), &meta, length);
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{size}"))
                .unwrap_or(HeaderValue::from_static("")),
        );
    }
    Ok(response)
}

/// An inclusive byte range of a file of `size` bytes (RFC 9110 §14.1.2), one range only.
fn parse_range(text: &str, size: u64) -> Option<(u64, u64)> {
    let spec = text.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        if n == 0 {
            return None;
        }
        return Some((size.saturating_sub(n), size - 1));
    }
    let start: u64 = first.parse().ok()?;
    let end: u64 = if last.is_empty() {
        size - 1
    } else {
        last.parse::<u64>().ok()?.min(size - 1)
    };
    (start <= end && start < size).then_some((start, end))
}

/// `HEAD /api/2.0/fs/files{path}`: the file's metadata in headers, no body.
pub(crate) async fn metadata(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Response {
    bump(&shared.counters.files_head);
    let Ok(target) = local_path(&shared, &path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::metadata(&target).await {
        Ok(meta) if meta.is_file() => {
            let mut response = StatusCode::OK.into_response();
            file_headers(response.headers_mut(), &meta, meta.len());
            response
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE /api/2.0/fs/files{path}`.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    bump(&shared.counters.files_deleted);
    let target = local_path(&shared, &path)?;
    match tokio::fs::metadata(&target).await {
        Ok(meta) if meta.is_file() => {
            tokio::fs::remove_file(&target).await.map_err(io_error)?;
            Ok(no_content())
        }
        _ => Err(ApiError::not_found(format!(
            "The file /{path} does not exist"
        ))),
    }
}

/// `PUT /api/2.0/fs/directories{path}`: creates it and its parents (a no-op if it exists).
pub(crate) async fn create_directory(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    bump(&shared.counters.directory_requests);
    let target = local_path(&shared, &path)?;
    if target.is_file() {
        return Err(ApiError::already_exists(format!(
            "The path /{path} already exists as a file"
        )));
    }
    tokio::fs::create_dir_all(&target)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
                ApiError::already_exists(format!("A parent of /{path} is a file"))
            }
            _ => io_error(e),
        })?;
    Ok(no_content())
}

/// `HEAD /api/2.0/fs/directories{path}`: 200 if the directory exists, 404 if not.
pub(crate) async fn directory_metadata(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Response {
    bump(&shared.counters.directory_requests);
    match local_path(&shared, &path) {
        Ok(target) if target.is_dir() => StatusCode::OK.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE /api/2.0/fs/directories{path}`: only an empty directory is deleted.
pub(crate) async fn delete_directory(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    bump(&shared.counters.directory_requests);
    let target = local_path(&shared, &path)?;
    if !target.is_dir() {
        return Err(ApiError::not_found(format!(
            "The directory /{path} does not exist"
        )));
    }
    if target == shared.volume_dir {
        return Err(ApiError::invalid_parameter(
            "The root of a volume cannot be deleted through the Files API",
        ));
    }
    let mut entries = tokio::fs::read_dir(&target).await.map_err(io_error)?;
    if entries.next_entry().await.map_err(io_error)?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "DIRECTORY_NOT_EMPTY",
            format!("The directory /{path} is not empty; delete its contents first"),
        ));
    }
    tokio::fs::remove_dir(&target).await.map_err(io_error)?;
    Ok(no_content())
}

/// `GET /api/2.0/fs/directories{path}?page_size=&page_token=`: entries by name, in pages.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&shared.counters.directory_requests);
    let target = local_path(&shared, &path)?;
    if !target.is_dir() {
        return Err(ApiError::not_found(format!(
            "The directory /{path} does not exist"
        )));
    }
    let query = query_map(query);
    let page_size = match query.get("page_size") {
        None => MAX_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => MAX_PAGE,
            Ok(n) => n.min(MAX_PAGE),
            Err(_) => {
                return Err(ApiError::invalid_parameter(format!(
                    "page_size must be a positive integer, not `{text}`"
                )));
            }
        },
    };
    // The token is the last name of the previous page, so a listing resumes after it even if
    // entries were added or removed in between.
    let after = match query.get("page_token").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::invalid_parameter("page_token is not a token this API issued")
                })?,
        ),
    };
    let mut names = Vec::new();
    let mut entries = tokio::fs::read_dir(&target).await.map_err(io_error)?;
    while let Some(entry) = entries.next_entry().await.map_err(io_error)? {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // In-flight uploads are not files yet.
        if name.starts_with('.') && name.ends_with(".upload") {
            continue;
        }
        names.push(name);
    }
    names.sort();
    let api_dir = format!("/{}", path.trim_matches('/'));
    let remaining: Vec<&String> = names
        .iter()
        .filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str()))
        .collect();
    let mut contents = Vec::new();
    for name in remaining.iter().take(page_size) {
        let meta = tokio::fs::metadata(target.join(name.as_str()))
            .await
            .map_err(io_error)?;
        let entry_path = format!("{api_dir}/{name}");
        if meta.is_dir() {
            contents.push(serde_json::json!({
                "path": format!("{entry_path}/"),
                "is_directory": true,
                "name": name,
            }));
        } else {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64);
            contents.push(serde_json::json!({
                "path": entry_path,
                "is_directory": false,
                "file_size": meta.len(),
                "last_modified": modified,
                "name": name,
            }));
        }
    }
    let mut body = serde_json::json!({ "contents": contents });
    if remaining.len() > page_size
        && let Some(last) = remaining.get(page_size - 1)
    {
        body["next_page_token"] = serde_json::Value::String(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes()),
        );
    }
    Ok(json_response(StatusCode::OK, &body))
}
