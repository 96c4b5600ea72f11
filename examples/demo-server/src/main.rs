//! `demo-server`: the demo OAuth authorization server and protected MCP endpoint
//! (`mcp_demo_server`) on loopback, until Ctrl-C.
//!
//! ```text
//! cargo run -p mcp-demo-server -- --port 8390 --token-lifetime 60
//! mcp-auth login http://127.0.0.1:8390/mcp
//! ```

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use key_value::{AsyncKeyValue, ErrorKind, StoreUri};
use mcp_demo_server::DemoServer;

/// A demo OAuth 2.1 authorization server with a protected MCP endpoint, for trying MCP
/// clients on one machine. Its authorization endpoint approves every valid request at
/// once. Not for production.
#[derive(Debug, Parser)]
#[command(name = "demo-server", version)]
struct Cli {
    /// The port to listen on (0: any free port)
    #[arg(long, default_value_t = 8390)]
    port: u16,
    /// The address to listen on (loopback only unless --allow-non-loopback)
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Allow a non-loopback --host (plain HTTP: tokens cross the network unencrypted)
    #[arg(long)]
    allow_non_loopback: bool,
    /// Lifetime of access tokens in seconds (short ones let clients show a refresh)
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    token_lifetime: u64,
    /// Where to keep clients and tokens (a store spec such as sqlite:PATH, so that they
    /// survive a restart) [default: memory:]
    #[arg(long, value_name = "SPEC")]
    store: Option<String>,
    /// Do not log requests
    #[arg(long, short)]
    quiet: bool,
}

fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Why the server did not run, and the exit code that says so.
enum Failure {
    /// A bad `--store`: exit 2, like any other usage error.
    Usage(String),
    /// Anything else: exit 1.
    Failed(String),
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let store: Arc<dyn AsyncKeyValue> = match &cli.store {
        Some(text) => {
            let uri = text
                .parse::<StoreUri>()
                .map_err(|e| Failure::Usage(format!("bad --store: {}", e.message())))?;
            match uri.open().await {
                Ok(store) => Arc::from(store),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    return Err(Failure::Usage(format!("--store {uri}: {}", e.message())));
                }
                Err(e) => return Err(Failure::Failed(format!("cannot open {uri}: {e}"))),
            }
        }
        None => Arc::new(key_value::memory::MemoryStore::new()),
    };
    serve(cli, store).await.map_err(Failure::Failed)
}

async fn serve(cli: Cli, store: Arc<dyn AsyncKeyValue>) -> Result<(), String> {
    let mut builder = DemoServer::builder()
        .ip(cli.host)
        .port(cli.port)
        .allow_non_loopback(cli.allow_non_loopback)
        .access_token_lifetime(Duration::from_secs(cli.token_lifetime.max(1)))
        .state_store(store);
    if !cli.quiet {
        builder = builder.on_event(|event| eprintln!("{} UTC  {event}", timestamp()));
    }
    let server = builder.start().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!("port {} is in use; choose another with --port", cli.port)
        } else {
            format!("cannot start: {e}")
        }
    })?;
    println!("demo server: issuer {}", server.issuer());
    println!("demo server: MCP endpoint {}", server.mcp_url());
    println!("demo server: press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("demo-server: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(e)) => {
            eprintln!("demo-server: {e}");
            ExitCode::FAILURE
        }
    }
}
