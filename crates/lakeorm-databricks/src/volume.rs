//! Unity Catalog volumes as lakeorm storage: an `object_store` over the Files API
//! (`/api/2.0/fs/files`, `/api/2.0/fs/directories`) and the [`VolumeBackend`] on it.
//!
//! Written by hand because no crate speaks the Files API to `object_store`. Store paths are
//! absolute volume paths without the leading slash (`Volumes/<catalog>/<schema>/<volume>/…`);
//! the backend's locations are `dbfs:/Volumes/…`, which the warehouse reads with
//! `read_files('/Volumes/…')`.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use lakeorm_backends::ObjectStoreBackend;
use lakeorm_core::{Backend, Error, Location, Result, StagingPrefix};
use object_store::path::Path;
use object_store::{
    Attributes, CopyMode, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload,
    ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt as _, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::workspace::Workspace;

const STORE: &str = "DatabricksVolume";

/// One Unity Catalog volume: `/Volumes/<catalog>/<schema>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The catalog.
    pub catalog: String,
    /// The schema.
    pub schema: String,
    /// The volume's name.
    pub name: String,
}

impl Volume {
    /// The volume `catalog.schema.name`.
    pub fn new(
        catalog: impl Into<String>,
        schema: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Volume {
            catalog: catalog.into(),
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// Parses `catalog.schema.volume` or `/Volumes/catalog/schema/volume`.
    pub fn parse(text: &str) -> Result<Self> {
        let parts: Vec<&str> = if let Some(path) = text.strip_prefix("/Volumes/") {
            path.trim_end_matches('/').split('/').collect()
        } else {
            text.split('.').collect()
        };
        match parts.as_slice() {
            [c, s, v] if !c.is_empty() && !s.is_empty() && !v.is_empty() => {
                Ok(Volume::new(*c, *s, *v))
            }
            _ => Err(Error::Config(format!(
                "`{text}` is not a volume: expected `catalog.schema.volume` or `/Volumes/catalog/schema/volume`"
            ))),
        }
    }

    /// [`parse`](Self::parse), or a volume's bare name in `catalog`.`schema`.
    pub fn parse_in(text: &str, catalog: &str, schema: &str) -> Result<Self> {
        if text.is_empty() || text.contains('.') || text.contains('/') {
            Self::parse(text)
        } else {
            Ok(Volume::new(catalog, schema, text))
        }
    }

    /// `/Volumes/<catalog>/<schema>/<name>`.
    pub fn path(&self) -> String {
        format!("/Volumes/{}/{}/{}", self.catalog, self.schema, self.name)
    }
}

impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// An `object_store` over the Files API of a workspace.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    workspace: Workspace,
}

impl fmt::Display for VolumeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabricksVolume({})", self.workspace.host())
    }
}

#[derive(Deserialize)]
struct DirectoryListing {
    #[serde(default)]
    contents: Vec<DirectoryEntry>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct DirectoryEntry {
    path: String,
    #[serde(default)]
    is_directory: bool,
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    last_modified: Option<i64>,
}

fn generic(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: error.into(),
    }
}

/// An error of the store from a lakeorm error of the workspace client, by the HTTP status of
/// the answer it came from.
fn from_lakeorm(path: &Path, error: Error) -> object_store::Error {
    let status = crate::errors::api_status(&error);
    let path = path.to_string();
    match (status, &error) {
        (_, Error::Config(_)) => object_store::Error::Unauthenticated {
            path,
            source: Box::new(error),
        },
        (Some(404), _) => object_store::Error::NotFound {
            path,
            source: Box::new(error),
        },
        (Some(409), _) => object_store::Error::AlreadyExists {
            path,
            source: Box::new(error),
        },
        (Some(403), _) => object_store::Error::PermissionDenied {
            path,
            source: Box::new(error),
        },
        _ => generic(error),
    }
}

impl VolumeStore {
    /// A store over the Files API of `workspace`.
    pub fn new(workspace: Workspace) -> Self {
        VolumeStore { workspace }
    }

    /// The API URL of `path` under `endpoint` (`files` or `directories`), every segment
    /// percent-encoded.
    fn url(&self, endpoint: &str, path: &Path) -> object_store::Result<url::Url> {
        let mut url = self
            .workspace
            .url(&format!("api/2.0/fs/{endpoint}"))
            .map_err(generic)?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| generic("the workspace URL cannot take a path"))?;
            // A path part is stored escaped (`%` as `%25`); the URL escapes the raw name.
            for part in path.parts() {
                let raw = percent_encoding::percent_decode_str(part.as_ref()).decode_utf8_lossy();
                segments.push(&raw);
            }
        }
        Ok(url)
    }

    async fn send(
        &self,
        operation: &str,
        method: Method,
        url: url::Url,
        path: &Path,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> object_store::Result<reqwest::Response> {
        self.workspace
            .send(operation, method, url, build)
            .await
            .map_err(|e| from_lakeorm(path, e))
    }

    async fn upload(&self, path: &Path, data: Bytes, overwrite: bool) -> object_store::Result<()> {
        let url = self.url("files", path)?;
        self.send(
            "uploading a file to a volume",
            Method::PUT,
            url,
            path,
            |r| {
                r.query(&[("overwrite", if overwrite { "true" } else { "false" })])
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(data.clone())
            },
        )
        .await?;
        Ok(())
    }

    async fn metadata(&self, path: &Path) -> object_store::Result<ObjectMeta> {
        let url = self.url("files", path)?;
        let response = self
            .send("reading a file's metadata", Method::HEAD, url, path, |r| r)
            .await?;
        Ok(meta_from_headers(path, &response))
    }

    /// One page of a directory's listing; `None` when the directory does not exist.
    async fn list_page(
        &self,
        dir: &Path,
        token: Option<&str>,
    ) -> object_store::Result<Option<DirectoryListing>> {
        let url = self.url("directories", dir)?;
        let response = self
            .send(
                "listing a volume directory",
                Method::GET,
                url,
                dir,
                |r| match token {
                    Some(t) => r.query(&[("page_token", t)]),
                    None => r,
                },
            )
            .await;
        let response = match response {
            Ok(response) => response,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let listing: DirectoryListing = response.json().await.map_err(generic)?;
        Ok(Some(listing))
    }

    /// Every entry of one directory, all pages: (files, subdirectories).
    async fn list_dir(&self, dir: &Path) -> object_store::Result<(Vec<ObjectMeta>, Vec<Path>)> {
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let Some(page) = self.list_page(dir, token.as_deref()).await? else {
                break;
            };
            for entry in page.contents {
                let path: Path = entry
                    .path
                    .split('/')
                    .filter(|segment| !segment.is_empty())
                    .collect();
                if entry.is_directory {
                    dirs.push(path);
                } else {
                    files.push(ObjectMeta {
                        location: path,
                        last_modified: entry
                            .last_modified
                            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                            .unwrap_or_default(),
                        size: entry.file_size.unwrap_or(0),
                        e_tag: None,
                        version: None,
                    });
                }
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok((files, dirs))
    }

    /// Deletes the directory `dir` (empty by now).
    pub(crate) async fn remove_dir(&self, dir: &Path) -> object_store::Result<()> {
        let url = self.url("directories", dir)?;
        match self
            .send(
                "removing a volume directory",
                Method::DELETE,
                url,
                dir,
                |r| r,
            )
            .await
        {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every directory under `dir` (itself included), deepest first.
    pub(crate) async fn directories_under(&self, dir: &Path) -> object_store::Result<Vec<Path>> {
        let mut found = vec![dir.clone()];
        let mut at = 0;
        while at < found.len() {
            let (_, subdirs) = self.list_dir(&found[at].clone()).await?;
            found.extend(subdirs);
            at += 1;
        }
        found.reverse();
        Ok(found)
    }
}

fn meta_from_headers(path: &Path, response: &reqwest::Response) -> ObjectMeta {
    let headers = response.headers();
    let size = headers
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let last_modified = headers
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    ObjectMeta {
        location: path.clone(),
        last_modified,
        size,
        e_tag: headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        version: None,
    }
}

#[async_trait]
impl ObjectStore for VolumeStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let overwrite = match opts.mode {
            PutMode::Overwrite => true,
            PutMode::Create => false,
            PutMode::Update(_) => {
                return Err(object_store::Error::NotImplemented {
                    operation: "conditional update (the Files API has no version preconditions)"
                        .into(),
                    implementer: STORE.into(),
                });
            }
        };
        self.upload(location, Bytes::from(payload), overwrite)
            .await?;
        Ok(PutResult {
            e_tag: None,
            version: None,
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let _ = opts;
        Ok(Box::new(BufferedUpload {
            store: self.clone(),
            location: location.clone(),
            parts: Vec::new(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let meta = self.metadata(location).await?;
        if options.head {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                range: 0..meta.size,
                meta,
                attributes: Attributes::new(),
            });
        }
        let range = match &options.range {
            None => 0..meta.size,
            Some(GetRange::Bounded(r)) => r.start..r.end.min(meta.size),
            Some(GetRange::Offset(o)) => *o..meta.size,
            Some(GetRange::Suffix(n)) => meta.size.saturating_sub(*n)..meta.size,
        };
        let url = self.url("files", location)?;
        let header = (options.range.is_some() && range.end > range.start)
            .then(|| format!("bytes={}-{}", range.start, range.end - 1));
        let response = self
            .send(
                "downloading a file from a volume",
                Method::GET,
                url,
                location,
                |r| match &header {
                    Some(h) => r.header(reqwest::header::RANGE, h),
                    None => r,
                },
            )
            .await?;
        let partial = response.status() == StatusCode::PARTIAL_CONTENT;
        let mut body = response.bytes_stream().map_err(generic).boxed();
        if header.is_some() && !partial {
            // The server sent the whole file: cut the range out of it.
            let all: Vec<Bytes> = body.try_collect().await?;
            let all: Bytes = all.concat().into();
            let (start, end) = (range.start as usize, (range.end as usize).min(all.len()));
            let slice = all.slice(start.min(end)..end);
            body = stream::once(async move { Ok(slice) }).boxed();
        }
        Ok(GetResult {
            payload: GetResultPayload::Stream(body),
            meta,
            range,
            attributes: Attributes::new(),
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            out.push(self.get_range(location, range.clone()).await?);
        }
        Ok(out)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let store = self.clone();
        locations
            .map(move |location| {
                let store = store.clone();
                async move {
                    let location = location?;
                    let url = store.url("files", &location)?;
                    store
                        .send(
                            "deleting a file from a volume",
                            Method::DELETE,
                            url,
                            &location,
                            |r| r,
                        )
                        .await?;
                    Ok(location)
                }
            })
            .buffered(8)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let store = self.clone();
        let root = prefix.cloned().unwrap_or_default();
        // Breadth first, one directory's listing at a time.
        stream::try_unfold(vec![root], move |mut pending| {
            let store = store.clone();
            async move {
                let Some(dir) = pending.pop() else {
                    return Ok::<_, object_store::Error>(None);
                };
                let (files, dirs) = store.list_dir(&dir).await?;
                pending.extend(dirs);
                Ok(Some((stream::iter(files.into_iter().map(Ok)), pending)))
            }
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let dir = prefix.cloned().unwrap_or_default();
        let (objects, common_prefixes) = self.list_dir(&dir).await?;
        Ok(ListResult {
            common_prefixes,
            objects,
        })
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let data = self.get(from).await?.bytes().await?;
        self.upload(to, data, matches!(options.mode, CopyMode::Overwrite))
            .await
    }
}

/// A multipart upload to a volume: the Files API takes a file in one request (up to 5 GiB),
/// so parts are kept until `complete` sends them together.
#[derive(Debug)]
struct BufferedUpload {
    store: VolumeStore,
    location: Path,
    parts: Vec<PutPayload>,
}

#[async_trait]
impl MultipartUpload for BufferedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.parts.push(data);
        Box::pin(async { Ok(()) })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let parts = std::mem::take(&mut self.parts);
        let mut body = Vec::with_capacity(parts.iter().map(PutPayload::content_length).sum());
        for part in &parts {
            for chunk in part.iter() {
                body.extend_from_slice(chunk);
            }
        }
        self.store
            .upload(&self.location, Bytes::from(body), true)
            .await?;
        Ok(PutResult {
            e_tag: None,
            version: None,
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.parts.clear();
        Ok(())
    }
}

/// A lakeorm [`Backend`] in a Unity Catalog volume: staged writes and `verify` probes go to
/// `/Volumes/<catalog>/<schema>/<volume>/<prefix>/_staging/…` through the Files API, and the
/// warehouse reads them from there. Tables themselves are Unity Catalog managed tables (the
/// warehouse places them), so the backend holds no table data.
#[derive(Debug, Clone)]
pub struct VolumeBackend {
    volume: Volume,
    /// Listing and deleting staged files as on any object store.
    files: ObjectStoreBackend,
    store: Arc<VolumeStore>,
}

impl VolumeBackend {
    /// The backend at `prefix` (may be empty) in `volume` of `workspace`.
    pub fn new(workspace: Workspace, volume: Volume, prefix: &str) -> Result<Self> {
        let mut root = format!("dbfs:{}", volume.path());
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            root.push('/');
            root.push_str(prefix);
        }
        let store = Arc::new(VolumeStore::new(workspace));
        let files = ObjectStoreBackend::from_store(
            "databricks-volume",
            Location::parse(&root)?,
            Arc::clone(&store) as Arc<dyn ObjectStore>,
        );
        Ok(VolumeBackend {
            volume,
            files,
            store,
        })
    }

    /// The volume.
    pub fn volume(&self) -> &Volume {
        &self.volume
    }
}

/// The path the warehouse reads a location of this backend by (`/Volumes/…`).
pub(crate) fn volume_path(location: &Location) -> Option<String> {
    (location.scheme() == "dbfs" && location.host().is_none())
        .then(|| format!("/{}", location.path()))
        .filter(|p| p.starts_with("/Volumes/"))
}

#[async_trait]
impl Backend for VolumeBackend {
    fn name(&self) -> &str {
        self.files.name()
    }

    fn root(&self) -> &Location {
        self.files.root()
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.files.object_store()
    }

    async fn list_staging(&self) -> Result<Vec<StagingPrefix>> {
        self.files.list_staging().await
    }

    async fn delete_prefix(&self, prefix: &Location) -> Result<u64> {
        let deleted = self.files.delete_prefix(prefix).await?;
        // Volumes keep directories: remove them too, so the prefix is gone.
        let path = self.store_path(prefix);
        let dirs = self
            .store
            .directories_under(&path)
            .await
            .map_err(|e| Error::storage(prefix, e))?;
        for dir in dirs {
            self.store
                .remove_dir(&dir)
                .await
                .map_err(|e| Error::storage(prefix, e))?;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_parse_both_ways() {
        let v = Volume::parse("main.default.lakeorm").unwrap();
        assert_eq!(v.path(), "/Volumes/main/default/lakeorm");
        assert_eq!(Volume::parse("/Volumes/main/default/lakeorm/").unwrap(), v);
        assert!(Volume::parse("main.default").is_err());
        assert_eq!(Volume::parse_in("lakeorm", "main", "default").unwrap(), v);
        assert_eq!(
            Volume::parse_in("main.default.lakeorm", "x", "y").unwrap(),
            v
        );
    }

    #[test]
    fn documented_listings_parse() {
        let listing: DirectoryListing =
            serde_json::from_str(lakeorm_databricks_server::fixture("directory_listing")).unwrap();
        assert!(listing.contents.iter().any(|e| e.is_directory));
        assert!(
            listing
                .contents
                .iter()
                .any(|e| !e.is_directory && e.file_size.is_some())
        );
        assert!(
            listing
                .contents
                .iter()
                .all(|e| e.path.starts_with("/Volumes/"))
        );
    }

    #[test]
    fn locations_map_to_volume_paths() {
        let loc = Location::parse("dbfs:/Volumes/main/default/v/_staging/x").unwrap();
        assert_eq!(
            volume_path(&loc).as_deref(),
            Some("/Volumes/main/default/v/_staging/x")
        );
        assert_eq!(volume_path(&Location::parse("s3://b/k").unwrap()), None);
    }

    /// The store and the backend over the Files API of the local server.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_speaks_the_files_api() {
        use crate::Credentials;
        use lakeorm_databricks_server::{DatabricksServer, ServerConfig};

        let dir = tempfile::tempdir().unwrap();
        let server = DatabricksServer::start(ServerConfig::new(dir.path()))
            .await
            .unwrap();
        let c = server.config().clone();
        let workspace = Workspace::new(
            &server.host(),
            Credentials::oauth_m2m(c.client_id, c.client_secret),
        )
        .unwrap();
        let backend =
            VolumeBackend::new(workspace, Volume::new("main", "default", "lakeorm"), "lake")
                .unwrap();
        let store = backend.object_store();
        let id = lakeorm_core::IngestId::new();
        let prefix = backend.staging_location(&id);
        let file = backend
            .store_path(&prefix)
            .clone()
            .join("a b%")
            .join("part-0.parquet");
        store
            .put(&file, PutPayload::from_static(b"0123456789"))
            .await
            .unwrap();
        assert_eq!(store.head(&file).await.unwrap().size, 10);
        assert_eq!(
            store
                .get(&file)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .as_ref(),
            b"0123456789"
        );
        assert_eq!(store.get_range(&file, 2..5).await.unwrap().as_ref(), b"234");
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let exists = store
            .put_opts(&file, PutPayload::from_static(b"x"), create)
            .await
            .unwrap_err();
        assert!(
            matches!(exists, object_store::Error::AlreadyExists { .. }),
            "{exists:?}"
        );
        let other = backend.store_path(&prefix.join("b.parquet"));
        let mut upload = store.put_multipart(&other).await.unwrap();
        upload
            .put_part(PutPayload::from_static(b"ab"))
            .await
            .unwrap();
        upload
            .put_part(PutPayload::from_static(b"cd"))
            .await
            .unwrap();
        upload.complete().await.unwrap();
        let mut listed: Vec<String> = store
            .list(Some(&backend.store_path(&prefix)))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        listed.sort();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.contains(&file.to_string()), "{listed:?}");
        let staging = backend.list_staging().await.unwrap();
        assert_eq!(staging.len(), 1);
        assert_eq!(staging[0].ingest_id, Some(id));
        assert_eq!(backend.delete_prefix(&prefix).await.unwrap(), 2);
        assert!(backend.list_staging().await.unwrap().is_empty());
        let missing = store.get(&file).await.unwrap_err();
        assert!(
            matches!(missing, object_store::Error::NotFound { .. }),
            "{missing:?}"
        );
        // Another volume is not this workspace's.
        let elsewhere = Path::from("Volumes/main/default/other/x");
        let refused = store
            .put(&elsewhere, PutPayload::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, object_store::Error::NotFound { .. }),
            "{refused:?}"
        );
    }
}
