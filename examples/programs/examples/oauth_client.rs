//! The OAuth client (oauth-core) with a store of your choice, against the demo
//! authorization server started in this process: the first client logs in, a second
//! one (think: the next run of your program) finds the token in the store and logs in
//! no more.
//!
//! Run with `cargo run -p examples --example oauth_client`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use key_value::AsyncKeyValue;
use key_value::fernet::{FernetKey, FernetWrapper};
use key_value::sqlite::SqliteStore;
use mcp_auth::mcp_client::McpClient;
use mcp_demo_server::DemoServer;
use oauth_core::{BrowserMode, OAuth};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Count the logins the server sees.
    let logins = Arc::new(AtomicUsize::new(0));
    let seen = logins.clone();
    let server = DemoServer::builder()
        .on_event(move |event| {
            if event.starts_with("authorization request") {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })
        .start()
        .await?;
    println!("1. demo server at {}", server.mcp_url());

    // The token store: an encrypted SQLite file. Any store of the family works.
    let dir = tempfile::tempdir()?;
    let key = FernetKey::generate()?;
    let sqlite = SqliteStore::open(dir.path().join("tokens.sqlite")).await?;
    let store: Arc<dyn AsyncKeyValue> = Arc::new(FernetWrapper::new(sqlite, key));

    let client = || {
        OAuth::builder(server.mcp_url())
            .client_name("oauth_client example")
            .token_storage(store.clone())
            // The demo server approves by itself; a real program leaves the default
            // (open the browser) or uses BrowserMode::Print on a headless machine.
            .browser(BrowserMode::FetchRedirect)
            .build()
    };

    let mut mcp = McpClient::new(client()?)?;
    mcp.initialize().await?;
    let who = mcp.call_tool("whoami", serde_json::json!({})).await?;
    println!("2. first client: logged in and called whoami -> {who}");

    // A fresh client over the same store: the token is already there.
    let mut again = McpClient::new(client()?)?;
    again.initialize().await?;
    let sum = again
        .call_tool("add", serde_json::json!({"a": 40, "b": 2}))
        .await?;
    println!("3. second client, same store: add -> {sum}");
    println!(
        "4. logins the server saw: {} (the second client reused the stored token)",
        logins.load(Ordering::SeqCst)
    );
    server.shutdown().await;
    Ok(())
}
