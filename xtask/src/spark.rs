//! The Spark Connect servers of the e2e suite, from PyPI, in a virtualenv under the target dir:
//!
//! - [Sail](https://github.com/lakehq/sail) (`pysail`): reads and writes real Delta and Iceberg
//!   tables, on local files and on the S3 test server;
//! - Apache Spark 4.0 (`pyspark`, whose package ships the Spark Connect server jar), started
//!   from its jars with `spark-submit` on `local[2]`: plain Parquet tables (the Delta and
//!   Iceberg runtimes are not reachable offline).
//!
//! Both bind 127.0.0.1 on free ports. Each server is a child process owned by a
//! [`SparkServer`]; dropping the value kills it, pass or fail.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The pinned server packages. Changing a pin reinstalls the virtualenv.
const PACKAGES: &[&str] = &["pysail==0.7.2", "pyspark==4.0.1"];
/// pyspark with its Spark Connect client dependencies, for the benchmark's peer.
const CONNECT_CLIENT: &str = "pyspark[connect]==4.0.1";
/// How long a server may take to accept connections (a JVM on a busy 2-core machine).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// The virtualenv holding the pinned servers.
pub(crate) struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// Creates the virtualenv under `target/e2e/venv` and installs [`PACKAGES`] unless a
    /// previous run already did with the same pins.
    pub(crate) fn ensure(target: &Path) -> Result<Self> {
        let dir = target.join("e2e").join("venv");
        let marker = dir.join(".lakeorm-pins");
        let pins = PACKAGES.join("\n");
        if std::fs::read_to_string(&marker).is_ok_and(|m| m == pins) {
            return Ok(Venv { dir });
        }
        eprintln!(
            "==> installing {} into {}",
            PACKAGES.join(" "),
            dir.display()
        );
        if !dir.join("bin").join("python").exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(&dir)).context(
                "cannot create the e2e virtualenv (a bare Debian needs `apt-get install \
                 python3-venv`, as .ci/run does)",
            )?;
        }
        let venv = Venv { dir };
        venv.pip_install(PACKAGES)
            .context("cannot install the e2e servers from PyPI")?;
        std::fs::write(&marker, pins)?;
        Ok(venv)
    }

    fn pip_install(&self, packages: &[&str]) -> Result<()> {
        run(Command::new(self.bin("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages))
    }

    /// Adds pyspark's Spark Connect client dependencies (pandas, pyarrow, grpcio), which only
    /// the benchmark's pyspark peer needs.
    pub(crate) fn ensure_connect_client(&self) -> Result<()> {
        let marker = self.dir.join(".lakeorm-connect-client");
        if marker.exists() {
            return Ok(());
        }
        self.pip_install(&[CONNECT_CLIENT])
            .context("cannot install pyspark's Spark Connect client from PyPI")?;
        std::fs::write(marker, CONNECT_CLIENT)?;
        Ok(())
    }

    /// Runs the virtualenv's python with `args` and returns its standard output.
    pub(crate) fn python_output(&self, args: &[String]) -> Result<String> {
        let output = Command::new(self.bin("python"))
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run the virtualenv's python")?;
        if !output.status.success() {
            bail!("python {} failed ({})", args.join(" "), output.status);
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The `sail` executable (the e2e suite starts a private Sail to kill it mid-write).
    pub(crate) fn sail_bin(&self) -> PathBuf {
        self.bin("sail")
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// The pyspark package directory, which is a complete `SPARK_HOME`.
    fn spark_home(&self) -> Result<PathBuf> {
        let out = Command::new(self.bin("python"))
            .args([
                "-c",
                "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
            ])
            .output()
            .context("cannot run the virtualenv's python")?;
        if !out.status.success() {
            bail!("pyspark is not importable in {}", self.dir.display());
        }
        Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
    }
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// A running Spark Connect server.
pub(crate) struct SparkServer {
    label: &'static str,
    port: u16,
    child: Child,
    log: PathBuf,
}

impl SparkServer {
    /// Starts Sail; `env` reaches its object store (the S3 test server).
    pub(crate) fn sail(venv: &Venv, work: &Path, env: &[(String, String)]) -> Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(venv.bin("sail"));
        command
            .args([
                "spark",
                "server",
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(work)
            .envs(env.iter().map(|(k, v)| (k, v)));
        Self::spawn("sail", port, command)
    }

    /// Starts Apache Spark's Spark Connect server (the JVM) on `local[2]`.
    pub(crate) fn spark(venv: &Venv, work: &Path) -> Result<Self> {
        let port = free_port()?;
        let home = venv.spark_home()?;
        let warehouse = work.join("spark-warehouse");
        let mut command = Command::new(home.join("bin").join("spark-submit"));
        command
            .args([
                "--class",
                "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--master",
                "local[2]",
                "--conf",
                "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf",
                &format!("spark.connect.grpc.binding.port={port}"),
                "--conf",
                "spark.driver.bindAddress=127.0.0.1",
                "--conf",
                "spark.driver.host=127.0.0.1",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.sql.session.timeZone=UTC",
                "--conf",
                "spark.driver.memory=1g",
                "--conf",
                &format!("spark.sql.warehouse.dir={}", warehouse.display()),
                "--conf",
                // The server's own Ivy cache, so that nothing outside the target dir is used.
                &format!("spark.jars.ivy={}", work.join("ivy").display()),
            ])
            .current_dir(work)
            .env("SPARK_HOME", &home)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            // spark-submit `exec`s the JVM, so the child's pid is the server's.
            .env("SPARK_NO_DAEMONIZE", "1");
        Self::spawn("spark", port, command)
    }

    fn spawn(label: &'static str, port: u16, mut command: Command) -> Result<Self> {
        let log = std::env::temp_dir().join(format!(
            "lakeorm-xtask-{label}-{}-{port}.log",
            std::process::id()
        ));
        let out = File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start the {label} server"))?;
        let mut server = SparkServer {
            label,
            port,
            child,
            log,
        };
        server.wait_ready()?;
        eprintln!("==> {label} Spark Connect server: {}", server.url());
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the {} server exited before accepting connections ({status}); log {}:\n{}",
                    self.label,
                    self.log.display(),
                    tail(&self.log)
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the {} server did not accept connections within {}s; log {}:\n{}",
                    self.label,
                    READY_TIMEOUT.as_secs(),
                    self.log.display(),
                    tail(&self.log)
                );
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// The server's Spark Connect URL.
    pub(crate) fn url(&self) -> String {
        format!("sc://127.0.0.1:{}/", self.port)
    }

    /// The server's process id (the e2e suite kills Sail mid-write to test aborts).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SparkServer {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            eprintln!(
                "note: the {} server had already exited; log kept at {}",
                self.label,
                self.log.display()
            );
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
