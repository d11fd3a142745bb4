//! The session pool: a fixed number of server-side sessions shared by concurrent calls.
//!
//! One gRPC channel carries every session (HTTP/2 multiplexes them). A session is lent to one
//! operation at a time, so the temporary views an operation registers (its in-memory source
//! rows) cannot collide with another's. Session ids are fixed for the life of the pool.
//!
//! Some servers (Sail) keep their table catalog per session. The pool therefore remembers the
//! `CREATE TABLE IF NOT EXISTS … LOCATION …` statement of every table the driver created and
//! replays, once per session, those a session has not seen before lending it. On servers with
//! a shared catalog the replay is a no-op.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use lakeorm_core::{Error, Result, Statement};
use lakeorm_databricks::TokenSource;
use spark_connect_core::channel::ChannelBuilder;
use spark_connect_core::client::{ReattachableResponseStream, SparkConnectClient};
use spark_connect_core::retries::RetryPolicy;
use spark_connect_proto as proto;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connection::ConnectionString;
use crate::errors::{ENGINE, classify};
use crate::params;

/// Settings every new session gets before its first use.
const SESSION_CONF: &[(&str, &str)] = &[
    // lakeorm's timestamps are UTC instants; Sail also rejects Iceberg timestamp tables under
    // zone names such as `Etc/UTC`.
    ("spark.sql.session.timeZone", "UTC"),
];

/// The client type reported to the server.
const CLIENT_TYPE: &str = concat!("lakeorm/", env!("CARGO_PKG_VERSION"));

/// A pool of Spark Connect sessions over one channel.
pub(crate) struct Pool {
    url: ConnectionString,
    retry: RetryPolicy,
    size: usize,
    acquire_timeout: std::time::Duration,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Session>>,
    /// The channel sessions are opened on, and the token it was connected with.
    root: tokio::sync::Mutex<Option<Root>>,
    /// Where expiring bearer tokens come from (OAuth), if not from the connection string.
    tokens: Option<Arc<TokenSource>>,
    /// The builder's session configuration, applied after [`SESSION_CONF`].
    confs: Vec<(String, String)>,
    closed: AtomicBool,
    tables: Mutex<BTreeMap<String, Attachment>>,
    versions: AtomicU64,
    in_use: AtomicUsize,
    peak_in_use: AtomicUsize,
    opened: AtomicU64,
}

/// A snapshot of a [`SparkDriver`](crate::SparkDriver)'s session pool, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The most sessions lent at once: the configured pool size.
    pub size: usize,
    /// Sessions on loan now.
    pub in_use: usize,
    /// Sessions open on the server and waiting to be lent.
    pub idle: usize,
    /// The most sessions on loan at once since the driver was built (never above `size`).
    pub peak_in_use: usize,
    /// Server-side sessions opened so far: `size` at most, plus one for each session
    /// discarded because the server or the connection failed under it.
    pub opened: u64,
}

/// The connected client new sessions are made from.
struct Root {
    token: Option<String>,
    client: SparkConnectClient,
}

/// A table the driver created, and how to make a session see it.
#[derive(Clone)]
struct Attachment {
    version: u64,
    sql: String,
    /// The columnless form, for sessions whose server refuses `sql` once the table exists.
    attach: Option<String>,
}

/// One server-side session.
pub(crate) struct Session {
    pub(crate) client: Arc<SparkConnectClient>,
    user_id: String,
    /// The tag of the operation the session runs, sent with each request, by which a
    /// cancelled operation is interrupted.
    tag: Option<String>,
    attached: HashMap<String, u64>,
    pub(crate) spark: Option<spark_connect::SparkSession>,
    /// The bearer token the session's channel carries, when tokens expire.
    token: Option<String>,
}

impl Pool {
    pub(crate) fn new(
        url: ConnectionString,
        size: usize,
        retry: RetryPolicy,
        acquire_timeout: std::time::Duration,
        tokens: Option<Arc<TokenSource>>,
        confs: Vec<(String, String)>,
    ) -> Self {
        Pool {
            url,
            tokens,
            confs,
            retry,
            size: size.max(1),
            acquire_timeout,
            slots: Arc::new(Semaphore::new(size.max(1))),
            idle: Mutex::new(Vec::new()),
            root: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
            tables: Mutex::new(BTreeMap::new()),
            versions: AtomicU64::new(0),
            in_use: AtomicUsize::new(0),
            peak_in_use: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.size,
            in_use: self.in_use.load(Ordering::Acquire),
            idle: self.idle.lock().expect("pool lock").len(),
            peak_in_use: self.peak_in_use.load(Ordering::Acquire),
            opened: self.opened.load(Ordering::Acquire),
        }
    }

    pub(crate) fn url(&self) -> &ConnectionString {
        &self.url
    }

    /// Lends a session, waiting while all are in use.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Lease> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let permit = tokio::time::timeout(
            self.acquire_timeout,
            Arc::clone(&self.slots).acquire_owned(),
        )
        .await
        .map_err(|_| Error::SessionTimeout {
            engine: ENGINE.to_owned(),
            waited: self.acquire_timeout,
            size: self.size,
        })?
        .map_err(|_| closed())?;
        let token = self.token().await?;
        let idle = self.idle.lock().expect("pool lock").pop();
        let session = match idle {
            // A session opened with a token since replaced would be refused once it expires:
            // it is released and a new one opened with the current token.
            Some(stale) if stale.token != token => {
                tracing::debug!(
                    session = stale.id(),
                    "retiring a session whose token was replaced"
                );
                release_later(stale);
                self.open(token).await?
            }
            Some(session) => session,
            None => self.open(token).await?,
        };
        let lent = self.in_use.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak_in_use.fetch_max(lent, Ordering::AcqRel);
        let mut lease = Lease {
            session: Some(session),
            pool: Arc::clone(self),
            _permit: permit,
            broken: false,
        };
        self.attach(&mut lease).await;
        Ok(lease)
    }

    /// The bearer token new sessions carry: from the token source (cached, refreshed before
    /// it expires), else the connection string's own.
    async fn token(&self) -> Result<Option<String>> {
        match &self.tokens {
            Some(tokens) => Ok(Some(tokens.token().await?.expose().to_owned())),
            None => Ok(None),
        }
    }

    async fn open(&self, token: Option<String>) -> Result<Session> {
        let mut root = self.root.lock().await;
        if root.as_ref().is_none_or(|r| r.token != token) {
            let mut url = self.url.clone();
            if token.is_some() {
                url.token.clone_from(&token);
            }
            // The client's own messages may quote the string, token included.
            let builder = ChannelBuilder::parse(&url.to_url()).map_err(|e| {
                Error::Config(format!(
                    "the Spark Connect client refused the connection string {}: {}",
                    url,
                    url.redact(&e.message())
                ))
            })?;
            let mut client = SparkConnectClient::connect(&builder).await.map_err(|e| {
                Error::engine(
                    ENGINE,
                    format!("connecting to {}", url.endpoint()),
                    true,
                    std::io::Error::other(url.redact(&e.message())),
                )
            })?;
            client.set_retry_policy(self.retry.clone());
            *root = Some(Root {
                token: token.clone(),
                client,
            });
        }
        let client = root
            .as_ref()
            .expect("connected above")
            .client
            .with_new_session_id();
        drop(root);
        self.opened.fetch_add(1, Ordering::AcqRel);
        let confs = SESSION_CONF
            .iter()
            .map(|(k, v)| (*k, *v))
            .chain(self.confs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (key, value) in confs {
            client
                .set_config(key, value)
                .await
                .map_err(|e| classify(e, &format!("setting `{key}` on a new session")))?;
        }
        tracing::debug!(
            session = client.session_id(),
            "opened a Spark Connect session"
        );
        Ok(Session {
            client: Arc::new(client),
            user_id: self.url.user_id.clone().unwrap_or_default(),
            tag: None,
            attached: HashMap::new(),
            spark: None,
            token,
        })
    }

    /// Remembers how to attach `table` to a session: its `CREATE TABLE IF NOT EXISTS`, and the
    /// columnless `attach` form to fall back on.
    pub(crate) fn remember(
        &self,
        table: &str,
        sql: &str,
        attach: Option<String>,
        session: &mut Session,
    ) {
        let version = self.versions.fetch_add(1, Ordering::Relaxed) + 1;
        self.tables.lock().expect("pool lock").insert(
            table.to_owned(),
            Attachment {
                version,
                sql: sql.to_owned(),
                attach,
            },
        );
        session.attached.insert(table.to_owned(), version);
    }

    /// Forgets a dropped table.
    pub(crate) fn forget(&self, table: &str) {
        self.tables.lock().expect("pool lock").remove(table);
    }

    /// Replays the table attachments the lent session has not seen.
    async fn attach(&self, lease: &mut Lease) {
        let missing: Vec<(String, Attachment)> = {
            let tables = self.tables.lock().expect("pool lock");
            let session = lease.session();
            tables
                .iter()
                .filter(|(name, a)| session.attached.get(*name) != Some(&a.version))
                .map(|(name, a)| (name.clone(), a.clone()))
                .collect()
        };
        for (name, attachment) in missing {
            let session = lease.session_mut();
            // The first session created the table, so on a per-session catalog (Sail) the
            // location now holds it and the declared schema is refused: attach it as stored.
            let mut result = session.command_sql(&Statement::new(&attachment.sql)).await;
            if let (Err(error), Some(attach)) = (&result, &attachment.attach)
                && crate::errors::refused_existing_table(error)
            {
                result = session.command_sql(&Statement::new(attach)).await;
            }
            match result {
                Ok(_) => {
                    session.attached.insert(name, attachment.version);
                }
                // The table may be gone from storage; the statement that needs it will say so.
                Err(error) => {
                    tracing::warn!(table = %name, %error, "could not attach a table to a session")
                }
            }
        }
    }

    /// Closes the pool: new loans fail, idle sessions are released on the server.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.slots.close();
        let idle = std::mem::take(&mut *self.idle.lock().expect("pool lock"));
        for session in idle {
            if let Err(error) = session.client.release_session().await {
                tracing::debug!(%error, "could not release a Spark Connect session");
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Releases a session on the server in the background.
fn release_later(session: Session) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            if let Err(error) = session.client.release_session().await {
                tracing::debug!(%error, "could not release a Spark Connect session");
            }
        });
    }
}

fn closed() -> Error {
    Error::closed("the Spark Connect driver")
}

/// Interrupts the operation tagged `tag` on the server and releases the session, in the
/// background; `hold` (the lease, a commit-queue place) is kept until the server has answered.
/// What a cancelled call leaves behind: the server would otherwise run it on, and the next
/// borrower of the session would find its temporary views.
pub(crate) fn cancel(client: Arc<SparkConnectClient>, tag: String, hold: impl Send + 'static) {
    let work = async move {
        interrupt(&client, &tag).await;
        drop(hold);
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(work);
        }
        Err(_) => tracing::warn!(
            "a Spark operation was cancelled outside a runtime; the server may still run it"
        ),
    }
}

/// Interrupts the operation tagged `tag` and releases its session on the server.
pub(crate) async fn interrupt(client: &SparkConnectClient, tag: &str) {
    match client.interrupt_tag(tag).await {
        Ok(ids) => tracing::info!(tag, interrupted = ids.len(), "interrupted an operation"),
        Err(error) => tracing::warn!(tag, %error, "could not interrupt an operation"),
    }
    if let Err(error) = client.release_session().await {
        tracing::debug!(%error, "could not release the session of an interrupted operation");
    }
}

/// A session on loan; back to the pool on drop (unless it broke).
pub(crate) struct Lease {
    session: Option<Session>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
    broken: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("session_id", &self.session().client.session_id())
            .finish_non_exhaustive()
    }
}

impl Lease {
    pub(crate) fn session(&self) -> &Session {
        self.session
            .as_ref()
            .expect("a lease holds its session until dropped")
    }

    pub(crate) fn session_mut(&mut self) -> &mut Session {
        self.session
            .as_mut()
            .expect("a lease holds its session until dropped")
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Marks the session unusable (the server or the connection failed under it): it is not
    /// returned to the pool, and the next loan opens a fresh one.
    pub(crate) fn discard(&mut self) {
        self.broken = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.in_use.fetch_sub(1, Ordering::AcqRel);
        if let Some(session) = self.session.take()
            && !self.broken
            && !self.pool.is_closed()
        {
            self.pool.idle.lock().expect("pool lock").push(session);
        }
    }
}

impl Session {
    pub(crate) fn id(&self) -> &str {
        self.client.session_id()
    }

    fn request(&self, plan: proto::plan::OpType) -> proto::ExecutePlanRequest {
        proto::ExecutePlanRequest {
            session_id: self.client.session_id().to_owned(),
            user_context: Some(proto::UserContext {
                user_id: self.user_id.clone(),
                ..Default::default()
            }),
            plan: Some(proto::Plan {
                op_type: Some(plan),
            }),
            client_type: Some(CLIENT_TYPE.to_owned()),
            tags: self.tag.iter().cloned().collect(),
            ..Default::default()
        }
    }

    /// Tags the requests the session sends from now on (a new tag per operation).
    pub(crate) fn tag(&mut self) -> String {
        let tag = format!("lakeorm-{}", uuid::Uuid::new_v4().simple());
        self.tag = Some(tag.clone());
        tag
    }

    /// Starts executing a plan; the responses stream back.
    pub(crate) async fn execute(
        &self,
        plan: proto::plan::OpType,
        operation: &str,
    ) -> Result<ReattachableResponseStream> {
        self.client
            .execute_plan_reattachable(self.request(plan))
            .await
            .map_err(|e| classify(e, operation))
    }

    /// Runs a command to completion and returns its responses.
    pub(crate) async fn command(
        &self,
        command: proto::command::CommandType,
        operation: &str,
    ) -> Result<Vec<proto::ExecutePlanResponse>> {
        let plan = proto::plan::OpType::Command(proto::Command {
            command_type: Some(command),
        });
        let mut stream = self.execute(plan, operation).await?;
        let mut responses = Vec::new();
        while let Some(response) = stream.message().await.map_err(|e| classify(e, operation))? {
            responses.push(response);
        }
        Ok(responses)
    }

    /// Runs one SQL statement, with its parameters bound, to completion.
    pub(crate) async fn command_sql(
        &self,
        statement: &Statement,
    ) -> Result<Vec<proto::ExecutePlanResponse>> {
        let command = proto::command::CommandType::SqlCommand(proto::SqlCommand {
            input: Some(sql_relation(statement)?),
            ..Default::default()
        });
        self.command(command, &operation_name(&statement.sql)).await
    }

    /// Registers `data` (an Arrow IPC stream) as the temporary view `name`.
    pub(crate) async fn register_view(&self, name: &str, data: Vec<u8>) -> Result<()> {
        let relation = proto::Relation {
            rel_type: Some(proto::relation::RelType::LocalRelation(
                proto::LocalRelation {
                    data: Some(data.into()),
                    schema: None,
                },
            )),
            ..Default::default()
        };
        let command =
            proto::command::CommandType::CreateDataframeView(proto::CreateDataFrameViewCommand {
                input: Some(relation),
                name: name.to_owned(),
                is_global: false,
                replace: true,
            });
        self.command(command, &format!("sending rows as view `{name}`"))
            .await
            .map(drop)
    }
}

/// The `SQL` relation of a statement, its `?` parameters as positional arguments.
pub(crate) fn sql_relation(statement: &Statement) -> Result<proto::Relation> {
    Ok(proto::Relation {
        rel_type: Some(proto::relation::RelType::Sql(proto::Sql {
            query: statement.sql.clone(),
            pos_arguments: params::positional(&statement.params)?,
            ..Default::default()
        })),
        ..Default::default()
    })
}

/// A short description of a statement for errors: its first words.
pub(crate) fn operation_name(sql: &str) -> String {
    const MAX: usize = 80;
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() <= MAX {
        one_line
    } else {
        let mut end = MAX;
        while !one_line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &one_line[..end])
    }
}

/// Decodes the Arrow batches of one response message.
pub(crate) fn decode_arrow(data: &[u8]) -> Result<Vec<RecordBatch>> {
    let reader = StreamReader::try_new(data, None)
        .map_err(|e| Error::engine(ENGINE, "decoding an Arrow batch from the server", false, e))?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::engine(ENGINE, "decoding an Arrow batch from the server", false, e))
}
