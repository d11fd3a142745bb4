//! `lakeorm-databricks-server [DIR] [--api-port N] [--storage-port N]`: a local Databricks
//! workspace over DIR (a temporary directory if none), printing the `DATABRICKS_*` variables
//! a client (or an example) needs, until interrupted.

use lakeorm_databricks_server::{DatabricksServer, ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ServerConfig::default().with_ports(8990, 8991);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--api-port" => {
                config.api_port = args.next().ok_or("--api-port needs a port")?.parse()?
            }
            "--storage-port" => {
                config.storage_port = args.next().ok_or("--storage-port needs a port")?.parse()?;
            }
            "--token" => config.personal_token = Some(args.next().ok_or("--token needs a value")?),
            "-h" | "--help" => {
                println!(
                    "usage: lakeorm-databricks-server [DIR] [--api-port N (8990, 0 = any)] [--storage-port N (8991)] [--token PAT]"
                );
                return Ok(());
            }
            dir => config.dir = dir.into(),
        }
    }
    let server = DatabricksServer::start(config).await?;
    for (name, value) in server.env() {
        println!("export {name}={value}");
    }
    eprintln!(
        "# serving {} (lake and volume under {}); Ctrl-C stops",
        server.host(),
        server.config().dir.display()
    );
    tokio::signal::ctrl_c().await?;
    server.stop().await;
    Ok(())
}
