//! Throwaway S3-compatible servers for the tests: [moto](https://docs.getmoto.org)'s
//! `moto_server`, bound to a free port on the loopback interface, with the test bucket created.
//!
//! Each server is a child process owned by an [`S3Server`]; dropping the value kills it, so no
//! server outlives `cargo xtask`, whether the tests pass, fail or the task errors out.
//!
//! Only `std` is used: moto accepts unsigned requests, so creating the bucket and probing for
//! readiness are a raw HTTP/1.1 exchange over a [`TcpStream`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The executable `pip install 'moto[server]'` puts on `PATH`.
const MOTO_SERVER: &str = "moto_server";
/// How to get [`MOTO_SERVER`]; `.ci/run` does exactly this.
const INSTALL_HINT: &str =
    "install it with `python3 -m pip install 'moto[server]'` (as .ci/run does)";
/// The bucket every test server holds.
const BUCKET: &str = "lakeorm";
/// How long a server may take to answer after it is spawned (a cold Python start on a busy
/// 2-core machine takes several seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout for connecting to, writing to and reading from a server.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports to try when another process grabs the chosen one before moto binds it.
const PORT_ATTEMPTS: usize = 3;

/// A running `moto_server` on `127.0.0.1`, holding the bucket [`S3Server::bucket`].
///
/// Dropping it kills the server and waits for it to exit.
pub(crate) struct S3Server {
    label: String,
    port: u16,
    child: Child,
    log: PathBuf,
    /// Set once the server answered and holds the bucket: from then on an exit is unexpected.
    ready: bool,
}

impl S3Server {
    /// Starts a server on a free loopback port, waits until it answers and creates the bucket.
    ///
    /// `label` names the server in messages and in its log file's name.
    pub(crate) fn start(label: &str) -> Result<Self> {
        let mut attempt = 1;
        loop {
            let mut server = Self::spawn(label)?;
            match server.wait_ready() {
                Ok(()) => {
                    server.create_bucket()?;
                    server.ready = true;
                    return Ok(server);
                }
                // The port was free when chosen but taken before moto bound it: try another.
                Err(_) if attempt < PORT_ATTEMPTS && server.lost_port_race() => {
                    let _ = std::fs::remove_file(&server.log);
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The base URL of the server's S3 API, e.g. `http://127.0.0.1:40123`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bucket created on the server.
    pub(crate) fn bucket(&self) -> &'static str {
        BUCKET
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Spawns `moto_server` on a free port, its output going to a log file in the temp dir.
    fn spawn(label: &str) -> Result<Self> {
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!(
            "lakeorm-xtask-moto-{label}-{}-{port}.log",
            std::process::id()
        ));
        let stdout = File::create(&log)
            .with_context(|| format!("cannot create the moto log file {}", log.display()))?;
        let stderr = stdout
            .try_clone()
            .with_context(|| format!("cannot share the moto log file {}", log.display()))?;
        let spawned = Command::new(MOTO_SERVER)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn();
        let child = spawned.map_err(|error| {
            // Nothing was written to the log: don't leave it behind.
            let _ = std::fs::remove_file(&log);
            match error.kind() {
                io::ErrorKind::NotFound => anyhow::anyhow!(
                    "`{MOTO_SERVER}` is not on PATH; the tests need it as their S3 server: \
                     {INSTALL_HINT}"
                ),
                _ => anyhow::Error::new(error).context(format!(
                    "cannot start `{MOTO_SERVER}` for the {label} S3 server (log: {})",
                    log.display()
                )),
            }
        })?;
        Ok(Self {
            label: label.to_owned(),
            port,
            child,
            log,
            ready: false,
        })
    }

    /// Polls the server with `GET /` until it answers with any HTTP response.
    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.exited()? {
                bail!(
                    "the {} S3 server (`{MOTO_SERVER}` on port {}) exited before answering \
                     ({status}); log {}:\n{}",
                    self.label,
                    self.port,
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            if http(self.addr(), "GET", "/").is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the {} S3 server (`{MOTO_SERVER}` on port {}) did not answer within {}s; \
                     log {}:\n{}",
                    self.label,
                    self.port,
                    READY_TIMEOUT.as_secs(),
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates [`BUCKET`] with an unsigned `PUT /<bucket>`.
    fn create_bucket(&self) -> Result<()> {
        let (status, response) =
            http(self.addr(), "PUT", &format!("/{BUCKET}")).with_context(|| {
                format!(
                    "cannot create bucket `{BUCKET}` on the {} S3 server at {} (log: {})",
                    self.label,
                    self.endpoint(),
                    self.log.display()
                )
            })?;
        if status != 200 {
            bail!(
                "creating bucket `{BUCKET}` on the {} S3 server at {} answered {status}:\n{}\n\
                 (log: {})",
                self.label,
                self.endpoint(),
                response.trim(),
                self.log.display()
            );
        }
        Ok(())
    }

    /// The server's exit status, if it has exited.
    fn exited(&mut self) -> Result<Option<std::process::ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("cannot query the {} S3 server's process", self.label))
    }

    /// Whether the server died because its port was taken in the meantime.
    fn lost_port_race(&self) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains("Address already in use"))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // A server that died on its own while in use is worth a look: keep its log and say where.
        if let Ok(Some(status)) = self.child.try_wait() {
            if self.ready {
                eprintln!(
                    "warning: the {} S3 server at {} had exited ({status}); log kept at {}",
                    self.label,
                    self.endpoint(),
                    self.log.display()
                );
            }
            return;
        }
        // An error from `kill` means the process is already gone; `wait` then reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A server that never became ready is named, with its log, in the start error: keep it.
        if self.ready {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago (the OS picks it; the listener is dropped so
/// moto can bind it).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot bind a loopback port to find a free one")?;
    Ok(listener
        .local_addr()
        .context("cannot read the free port's address")?
        .port())
}

/// Sends a body-less HTTP/1.1 request and returns the status code and the whole response.
fn http(addr: SocketAddr, method: &str, path: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    let response = String::from_utf8_lossy(&bytes).into_owned();
    let status = response
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP response: {:?}", response.lines().next()),
            )
        })?;
    Ok((status, response))
}

/// The last lines of a log file, for error messages.
fn log_tail(log: &Path) -> String {
    const LINES: usize = 30;
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LINES)..].join("\n")
        }
        Err(error) => format!("(cannot read the log: {error})"),
    }
}

/// The servers the tests use: `primary` holds their data, `alternate` is a second endpoint
/// for provoking a client/engine endpoint mismatch, and `faults` is one a test may stop
/// (`SIGSTOP`) and resume in the middle of a write, so that no other test sees it pause.
pub(crate) struct TestS3 {
    primary: S3Server,
    alternate: S3Server,
    faults: S3Server,
}

impl TestS3 {
    /// Starts the servers.
    pub(crate) fn start() -> Result<Self> {
        let primary = S3Server::start("primary")?;
        let alternate = S3Server::start("alternate")?;
        let faults = S3Server::start("faults")?;
        eprintln!(
            "==> S3 (moto) test servers: primary {}, alternate {}, faults {} (bucket `{}`)",
            primary.endpoint(),
            alternate.endpoint(),
            faults.endpoint(),
            primary.bucket()
        );
        Ok(Self {
            primary,
            alternate,
            faults,
        })
    }

    /// The primary server's endpoint.
    pub(crate) fn primary_endpoint(&self) -> String {
        self.primary.endpoint()
    }

    /// The environment variables telling the tests where the servers are and that they must
    /// use them (fail rather than skip).
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LAKEORM_TEST_S3_ENDPOINT", self.primary.endpoint()),
            ("LAKEORM_TEST_S3_ALT_ENDPOINT", self.alternate.endpoint()),
            ("LAKEORM_TEST_S3_FAULT_ENDPOINT", self.faults.endpoint()),
            ("LAKEORM_TEST_S3_FAULT_PID", self.faults.pid().to_string()),
            ("LAKEORM_TEST_S3_BUCKET", self.primary.bucket().to_owned()),
            ("LAKEORM_TEST_S3_REQUIRED", "1".to_owned()),
        ]
    }
}
