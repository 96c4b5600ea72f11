//! `login`, `token`, `status` and `logout`.

use std::time::Duration;

use key_value::AsyncKeyValue;
use oauth_core::{
    BrowserMode, CLIENT_COLLECTION, EXPIRY_COLLECTION, ExposeSecret, METADATA_COLLECTION, OAuth,
    OAuthBuilder, Revocation, TOKEN_COLLECTION,
};
use url::Url;

use super::progress::browser_handoff;
use super::store::{
    self, CLIENT_SECRET_ENV, Opened, Options, describe_expiry, server_key, server_url, token_info,
};
use super::{Failure, LoginArgs, Outcome};

/// The OAuth client settings every command shares: the store, and a client ID given
/// on the command line (with its secret from the environment).
fn builder(opened: &Opened, options: &Options, url: &Url, browser: BrowserMode) -> OAuthBuilder {
    let mut builder = OAuth::builder(url.as_str())
        .client_name("mcp-auth")
        .token_storage(opened.store.clone())
        .browser(browser);
    if let Some(id) = &options.client_id {
        builder = builder.client_id(id);
        if let Some(secret) = std::env::var_os(CLIENT_SECRET_ENV).filter(|s| !s.is_empty()) {
            builder = builder.client_secret(secret.to_string_lossy());
        }
    }
    builder
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
             (add --timeout SECONDS for a slower login; if the browser showed an error \
             from the server, start over with `mcp-auth logout --forget-client {url}`)",
            store::human(after.as_secs())
        )),
        E::UnknownClient { .. } => Failure::failed(format!(
            "{e}; if you gave --client-id, check it; otherwise start over with \
             `mcp-auth logout --forget-client {url}`, then log in again"
        )),
        E::Denied { ref error, .. } if error == "invalid_client" => Failure::failed(format!(
            "the server does not know this client ({e}); start over with \
             `mcp-auth logout --forget-client {url}`, then log in again"
        )),
        E::Denied { .. } => Failure::failed(format!(
            "the server refused the login ({e}); check your account's access and try again"
        )),
        E::TokenEndpoint { .. } if e.is_retryable() => Failure::failed(format!(
            "the server's token endpoint is busy or failing ({e}); the stored tokens are kept, \
             try again later"
        )),
        E::TokenEndpoint { ref error, .. }
            if error == "invalid_client" || error == "unauthorized_client" =>
        {
            Failure::failed(format!(
                "the server does not accept this client ({e}); check --client-id and \
                 ${CLIENT_SECRET_ENV}, or start over with `mcp-auth logout --forget-client {url}`"
            ))
        }
        E::TokenEndpoint { .. } => Failure::failed(format!(
            "the server's token endpoint refused the request ({e}); log in again with \
             `mcp-auth login --force {url}`"
        )),
        E::PortInUse { port, .. } => Failure::failed(format!(
            "the callback port {port} is in use by another program; pass --callback-port with a free port"
        )),
        E::Discovery(_) | E::Metadata { .. } | E::TooLarge { .. } => Failure::failed(format!(
            "{url} does not look like an OAuth-protected MCP server ({e}); check the URL"
        )),
        E::Insecure { .. } => Failure::failed(format!(
            "{e}; check the server URL, or ask its operator to serve the authorization server over HTTPS"
        )),
        E::Registration(_) => Failure::failed(format!(
            "{e}; if the server does not register clients itself, ask its operator for a \
             client ID and pass it with --client-id (a secret goes in ${CLIENT_SECRET_ENV})"
        )),
        E::InvalidResponse(_) => Failure::failed(format!(
            "{e}; run `mcp-auth login {url}` again, and if it keeps happening, check that no \
             other program answers on the callback port"
        )),
        E::Callback(_) | E::Browser(_) => Failure::failed(format!(
            "{e}; try `mcp-auth login --no-browser {url}` and open the printed URL yourself"
        )),
        E::Storage(inner) => store::store_failure(inner),
        E::Config(_) => Failure::usage(e.to_string()),
        other => Failure::failed(format!("{other}; run `mcp-auth login {url}` again")),
    }
}

/// Stops a command without encryption from reading an encrypted store as empty, and
/// then writing plain tokens over the encrypted ones.
async fn refuse_plain_over_encrypted(opened: &Opened, options: &Options, url: &Url) -> Outcome {
    if options.encrypt {
        return Ok(());
    }
    let key = server_key(url);
    for (suffix, collection) in [
        ("tokens", TOKEN_COLLECTION),
        ("client_info", CLIENT_COLLECTION),
    ] {
        if store::is_encrypted(&*opened.raw, &format!("{key}/{suffix}"), collection).await? {
            return Err(Failure::failed(format!(
                "what {} holds for {url} is encrypted, and --no-encryption was given; drop \
                 --no-encryption (with the key), or start over with `mcp-auth logout \
                 --forget-client {url}`",
                opened.spec
            )));
        }
    }
    Ok(())
}

/// `mcp-auth login URL`.
pub(crate) async fn login(options: &Options, args: LoginArgs) -> Outcome {
    let url = server_url(&args.url)?;
    let opened = store::open(options).await?;
    refuse_plain_over_encrypted(&opened, options, &url).await?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let (browser, countdown) = browser_handoff(args.no_browser, timeout);
    let mut builder = builder(&opened, options, &url, browser).callback_timeout(timeout);
    if let Some(port) = args.callback_port {
        builder = builder.callback_port(port);
    }
    if !args.scopes.is_empty() {
        builder = builder.scopes(&args.scopes);
    }
    let oauth = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
    let key = server_key(&url);
    if !args.force
        && oauth
            .cached_token()
            .await
            .map_err(|e| oauth_failure(e, &url))?
            .is_some()
    {
        countdown.stop();
        let info = token_info(&*opened.store, &key).await?;
        let expiry = info.as_ref().map(describe_expiry).unwrap_or_default();
        eprintln!(
            "Already logged in to {url} (token {expiry}); use --force to log in again \
             (for instance when the server no longer accepts the token)."
        );
        return Ok(());
    }
    eprintln!("Logging in to {url}: finding its authorization server…");
    // A new login replaces the stored tokens only once it has succeeded.
    let result = oauth.login().await;
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
    refuse_plain_over_encrypted(&opened, options, &url).await?;
    // Never a login here: only the stored token, renewed with the refresh token if needed.
    let oauth = builder(&opened, options, &url, BrowserMode::Print)
        .build()
        .map_err(|e| Failure::usage(e.to_string()))?;
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

/// Asks the server to revoke the stored tokens, and returns what to tell the person
/// about it. Revoking needs the tokens, so the key: when they cannot be read or the
/// server cannot be reached, the person is told, and the tokens are still deleted here.
async fn revoke_at_server(opened: &Opened, options: &Options, url: &Url) -> Outcome<&'static str> {
    let revoked = match builder(opened, options, url, BrowserMode::Print).build() {
        Ok(oauth) => oauth.revoke().await,
        Err(e) => Err(e),
    };
    Ok(match revoked {
        Ok(Revocation::Revoked) => "the server revoked its tokens; ",
        Ok(Revocation::RefreshTokenOnly) => {
            "the server revoked its refresh token (its access token stays valid until it \
             expires); "
        }
        Ok(Revocation::NotOffered) => {
            "the server offers no revocation, so its tokens stay valid there until they expire; "
        }
        Ok(_) => "",
        // A store that fails here fails the deletion too: that is the error to report.
        Err(oauth_core::Error::Storage(e)) if e.kind() != key_value::ErrorKind::Decryption => {
            return Err(store::store_failure(e));
        }
        Err(e) => {
            eprintln!(
                "mcp-auth: could not revoke the tokens at the server ({e}); deleting them here only"
            );
            ""
        }
    })
}

/// `mcp-auth logout URL`.
pub(crate) async fn logout(
    options: &Options,
    url: &str,
    forget_client: bool,
    local: bool,
) -> Outcome {
    let url = server_url(url)?;
    // Logging out must work with a lost key: then the store is opened as it is, and
    // its entries deleted without being read.
    let opened = store::open_with(options, store::LostKey::OpenPlain).await?;
    let key = server_key(&url);
    // Deleting needs no key, so logging out works even with a lost key.
    let mut entries = vec![
        ("tokens", TOKEN_COLLECTION, "tokens"),
        ("token_expiry", EXPIRY_COLLECTION, "token expiry"),
    ];
    if forget_client {
        entries.push(("client_info", CLIENT_COLLECTION, "client registration"));
        entries.push((
            "authorization_server",
            METADATA_COLLECTION,
            "server metadata",
        ));
    }
    // What is there now is what the person is told was deleted (revoking deletes the
    // tokens itself).
    let mut deleted = Vec::new();
    for (suffix, collection, what) in &entries {
        // An entry that cannot even be read is there too, and deleting it is the cure.
        let present = opened
            .raw
            .get(&format!("{key}/{suffix}"), Some(collection))
            .await
            .map_or(true, |entry| entry.is_some());
        if present {
            deleted.push(*what);
        }
    }
    let at_server = if local || !deleted.contains(&"tokens") {
        ""
    } else {
        revoke_at_server(&opened, options, &url).await?
    };
    for (suffix, collection, _) in entries {
        opened
            .raw
            .delete(&format!("{key}/{suffix}"), Some(collection))
            .await
            .map_err(store::store_failure)?;
    }
    if deleted.is_empty() {
        eprintln!(
            "Nothing was stored for {url} in {}; nothing to log out of.",
            opened.spec
        );
    } else {
        eprintln!(
            "Logged out of {url}: {at_server}deleted its {} from {}.",
            deleted.join(", "),
            opened.spec
        );
    }
    Ok(())
}
