//! `login`, `token`, `status` and `logout`.

use std::time::Duration;

use keyvalue::AsyncKeyValue;
use oauth_core::{
    BrowserMode, CLIENT_COLLECTION, EXPIRY_COLLECTION, ExposeSecret, METADATA_COLLECTION, OAuth,
    TOKEN_COLLECTION,
};
use url::Url;

use super::progress::browser_handoff;
use super::store::{self, Opened, Options, describe_expiry, server_key, server_url, token_info};
use super::{Failure, LoginArgs, Outcome};

/// An OAuth client for `url` keeping its tokens in the opened store.
pub(crate) fn client(opened: &Opened, url: &Url, browser: BrowserMode) -> Outcome<OAuth> {
    OAuth::builder(url.as_str())
        .client_name("mcp-auth")
        .token_storage(opened.store.clone())
        .browser(browser)
        .build()
        .map_err(|e| Failure::usage(e.to_string()))
}

/// An oauth-core error as one sentence with what to do.
pub(crate) fn oauth_failure(e: oauth_core::Error, url: &Url) -> Failure {
    use oauth_core::Error as E;
    match e {
        E::Http { .. } => Failure::failed(format!(
            "cannot reach {url} ({e}); check the URL and that the server is running"
        )),
        E::Timeout(after) => Failure::failed(format!(
            "the login did not finish within {}; run `mcp-auth login {url}` again \
             (add --timeout SECONDS for a slower login)",
            store::human(after.as_secs())
        )),
        E::Denied { .. } => Failure::failed(format!(
            "the server refused the login ({e}); check your account's access and try again"
        )),
        E::PortInUse { port, .. } => Failure::failed(format!(
            "the callback port {port} is in use by another program; pass --callback-port with a free port"
        )),
        E::Discovery(_) | E::Metadata { .. } => Failure::failed(format!(
            "{url} does not look like an OAuth-protected MCP server ({e}); check the URL"
        )),
        E::Storage(inner) => store::store_failure(inner),
        E::Config(_) => Failure::usage(e.to_string()),
        other => Failure::failed(format!("{other}")),
    }
}

/// `mcp-auth login URL`.
pub(crate) async fn login(options: &Options, args: LoginArgs) -> Outcome {
    let url = server_url(&args.url)?;
    let opened = store::open(options).await?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let (browser, countdown) = browser_handoff(args.no_browser, timeout);
    let mut builder = OAuth::builder(url.as_str())
        .client_name("mcp-auth")
        .token_storage(opened.store.clone())
        .browser(browser)
        .callback_timeout(timeout);
    if let Some(port) = args.callback_port {
        builder = builder.callback_port(port);
    }
    if !args.scopes.is_empty() {
        builder = builder.scopes(&args.scopes);
    }
    let oauth = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
    let key = server_key(&url);
    if args.force {
        oauth
            .clear_tokens()
            .await
            .map_err(|e| oauth_failure(e, &url))?;
    } else if oauth
        .cached_token()
        .await
        .map_err(|e| oauth_failure(e, &url))?
        .is_some()
    {
        let info = token_info(&*opened.store, &key).await?;
        let expiry = info.as_ref().map(describe_expiry).unwrap_or_default();
        eprintln!("Already logged in to {url} (token {expiry}); use --force to log in again.");
        return Ok(());
    }
    eprintln!("Logging in to {url}: finding its authorization server…");
    let result = oauth.access_token().await;
    countdown.stop();
    result.map_err(|e| oauth_failure(e, &url))?;
    let info = token_info(&*opened.store, &key).await?;
    let (expiry, refresh) = match &info {
        Some(i) => (
            describe_expiry(i),
            if i.refreshable {
                "; a refresh token is stored, so `mcp-auth token` renews it without a browser"
            } else {
                "; no refresh token, so log in again when it expires"
            },
        ),
        None => ("stored".into(), ""),
    };
    eprintln!("Logged in to {url}: token {expiry}{refresh}.");
    eprintln!("Tokens are in {}.", opened.describe());
    Ok(())
}

/// `mcp-auth token URL`: the token alone on stdout.
pub(crate) async fn token(options: &Options, url: &str) -> Outcome {
    let url = server_url(url)?;
    let opened = store::open(options).await?;
    // Never a login here: only the stored token, renewed with the refresh token if needed.
    let oauth = client(&opened, &url, BrowserMode::Print)?;
    match oauth
        .cached_token()
        .await
        .map_err(|e| oauth_failure(e, &url))?
    {
        Some(token) => {
            println!("{}", token.expose_secret());
            Ok(())
        }
        None => Err(Failure::needs_login(format!(
            "no valid token for {url} in {}; run `mcp-auth login {url}`",
            opened.spec
        ))),
    }
}

/// One line of `status`.
async fn status_line(store: &dyn AsyncKeyValue, key: &str) -> String {
    match token_info(store, key).await {
        Ok(Some(info)) => {
            let refresh = match (info.refreshable, info.seconds_left) {
                (true, Some(left)) if left <= 0 => {
                    ", refresh token stored (`mcp-auth token URL` renews it)"
                }
                (true, _) => ", refresh token stored",
                (false, _) => ", no refresh token",
            };
            format!("{key}  {}{refresh}", describe_expiry(&info))
        }
        Ok(None) => format!("{key}  no token"),
        Err(failure) => format!("{key}  unreadable: {}", failure.message),
    }
}

/// `mcp-auth status [URL]`.
pub(crate) async fn status(options: &Options, url: Option<&str>) -> Outcome {
    let url = url.map(server_url).transpose()?;
    let opened = store::open(options).await?;
    println!("Token store: {}", opened.describe());
    if let Some(url) = url {
        println!("  {}", status_line(&*opened.store, &server_key(&url)).await);
        return Ok(());
    }
    if !opened.store.capabilities().list_keys {
        println!(
            "  This store cannot list its keys; ask about one server with `mcp-auth status URL`."
        );
        return Ok(());
    }
    let mut keys = opened
        .store
        .keys(Some(TOKEN_COLLECTION), None)
        .await
        .map_err(store::store_failure)?;
    keys.sort();
    let servers: Vec<&str> = keys
        .iter()
        .filter_map(|k| k.strip_suffix("/tokens"))
        .collect();
    if servers.is_empty() {
        println!("  No tokens stored. Log in with `mcp-auth login URL`, or try `mcp-auth demo`.");
    }
    for server in servers {
        println!("  {}", status_line(&*opened.store, server).await);
    }
    Ok(())
}

/// `mcp-auth logout URL`.
pub(crate) async fn logout(options: &Options, url: &str, forget_client: bool) -> Outcome {
    let url = server_url(url)?;
    let opened = store::open(options).await?;
    let key = server_key(&url);
    // Deleting needs no key, so logging out works even with a lost key.
    let had_tokens = opened
        .raw
        .get(&format!("{key}/tokens"), Some(TOKEN_COLLECTION))
        .await
        .map_err(store::store_failure)?
        .is_some();
    let mut entries = vec![
        ("tokens", TOKEN_COLLECTION),
        ("token_expiry", EXPIRY_COLLECTION),
    ];
    if forget_client {
        entries.push(("client_info", CLIENT_COLLECTION));
        entries.push(("authorization_server", METADATA_COLLECTION));
    }
    for (suffix, collection) in entries {
        opened
            .raw
            .delete(&format!("{key}/{suffix}"), Some(collection))
            .await
            .map_err(store::store_failure)?;
    }
    match (had_tokens, forget_client) {
        (true, false) => eprintln!(
            "Logged out of {url}: its tokens are deleted from {}.",
            opened.spec
        ),
        (true, true) => eprintln!(
            "Logged out of {url}: its tokens, client registration and server metadata are deleted from {}.",
            opened.spec
        ),
        (false, _) => eprintln!("No tokens were stored for {url}; nothing to log out of."),
    }
    Ok(())
}
