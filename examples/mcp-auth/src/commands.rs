//! `login`, `token`, `status` and `logout`.

use std::sync::Arc;
use std::time::Duration;

use key_value::AsyncKeyValue;
use oauth_core::layout::{StoredEntry, TokenCache};
use oauth_core::{BrowserMode, ExposeSecret, OAuth, OAuthBuilder, Revocation};
use url::Url;

use super::probe;
use super::progress::browser_handoff;
use super::store::{
    self, Access, CLIENT_SECRET_ENV, Opened, Options, TokenInfo, describe_expiry, server_key,
    server_url, token_info,
};
use super::{Failure, LoginArgs, Outcome, ProxyArgs};
use crate::output::{errln, outln};

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
    use oauth_core::{Error as E, ErrorCode};
    match e {
        E::Http { .. } => Failure::failed(format!(
            "cannot reach {url} ({e}); check the URL and that the server is running"
        )),
        E::Timeout(after) => Failure::failed(format!(
            "the login did not finish within {}; run `mcp-auth login {url}` again \
             (add --timeout SECONDS for a slower login; if the browser showed an error \
             from the server, the next login registers this program anew)",
            store::human(after.as_secs())
        )),
        E::UnknownClient { .. } => Failure::failed(format!(
            "{e}; if you gave --client-id, check it; otherwise start over with \
             `mcp-auth logout --forget-client {url}`, then log in again"
        )),
        E::Denied {
            error: ErrorCode::InvalidClient,
            ..
        } => Failure::failed(format!(
            "the server does not know this client ({e}); start over with \
             `mcp-auth logout --forget-client {url}`, then log in again"
        )),
        E::Denied {
            error: ErrorCode::InvalidScope,
            ..
        } => Failure::failed(format!(
            "the server refused the scope asked for ({e}); name the scopes it grants with \
             --scope, or ask its operator which ones your account may have"
        )),
        E::Denied { .. } => Failure::failed(format!(
            "the server refused the login ({e}); check your account's access and try again"
        )),
        E::TokenEndpoint { .. } if e.is_retryable() => Failure::failed(format!(
            "the server's token endpoint is busy or failing ({e}); the stored tokens are kept, \
             try again later"
        )),
        E::TokenEndpoint { ref error, .. }
            if error.as_ref().is_some_and(ErrorCode::refuses_client) =>
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
        E::Discovery(_) | E::MetadataNotFound { .. } | E::Metadata { .. } | E::TooLarge { .. } => {
            Failure::failed(format!(
                "{url} does not look like an OAuth-protected MCP server ({e}); check the URL"
            ))
        }
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
        E::Storage(inner) => store::server_store_failure(inner, url),
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
    for entry in [StoredEntry::Tokens, StoredEntry::ClientInfo] {
        if store::is_encrypted(&*opened.raw, &entry.key(&key), entry.collection()).await? {
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
    let stored = if args.force {
        None
    } else {
        match oauth.cached_token().await {
            Ok(token) => token,
            // A dead refresh token is what a login is for.
            Err(e) if e.is_refusal() => {
                errln!("The server refused to renew the stored tokens ({e}); logging in again.");
                None
            }
            Err(e) => return Err(oauth_failure(e, &url)),
        }
    };
    if stored.is_some() {
        countdown.stop();
        let info = token_info(&opened.store, &key).await?;
        let expiry = info.as_ref().map(describe_expiry).unwrap_or_default();
        errln!(
            "Already logged in to {url} (token {expiry}); use --force to log in again \
             (for instance when the server no longer accepts the token)."
        );
        return Ok(());
    }
    errln!("Logging in to {url}: finding its authorization server…");
    // A new login replaces the stored tokens only once it has succeeded.
    let result = oauth.login().await;
    countdown.stop();
    if let Err(e) = result {
        // Discovery or registration failing can mean the URL is no OAuth-protected MCP
        // server at all: ask the server itself, and say so.
        if matches!(
            e,
            oauth_core::Error::Discovery(_)
                | oauth_core::Error::MetadataNotFound { .. }
                | oauth_core::Error::Metadata { .. }
                | oauth_core::Error::TooLarge { .. }
                | oauth_core::Error::Registration(_)
        ) && let Some(failure) = probe::diagnose(&url).await
        {
            return Err(failure);
        }
        return Err(oauth_failure(e, &url));
    }
    let info = token_info(&opened.store, &key).await?;
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
    errln!("Logged in to {url}: token {expiry}{refresh}.");
    errln!("Tokens are in {}.", opened.describe());
    Ok(())
}

/// `mcp-auth token URL`: the token alone on stdout (or, with `--json`, with its expiry).
/// Never creates a store or a key file.
pub(crate) async fn token(options: &Options, url: &str, json: bool) -> Outcome {
    let url = server_url(url)?;
    let opened = store::open_with(options, Access::Existing, store::LostKey::Refuse)
        .await
        .map_err(|f| f.with_advice(&format!("run `mcp-auth login {url}`")))?;
    refuse_plain_over_encrypted(&opened, options, &url).await?;
    // Never a login here: only the stored token, renewed with the refresh token if needed
    // (oauth-core hands out a still-valid token when it cannot renew it).
    let oauth = builder(&opened, options, &url, BrowserMode::Print)
        .build()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let token = match oauth.cached_token().await {
        Ok(token) => token,
        // The refresh token is dead: only a login helps, as when nothing is stored.
        Err(e) if e.is_refusal() => {
            return Err(Failure::needs_login(format!(
                "the server refused to renew the tokens for {url} ({e}); run `mcp-auth login {url}`"
            )));
        }
        Err(e) => return Err(oauth_failure(e, &url)),
    };
    let Some(token) = token else {
        return Err(Failure::needs_login(format!(
            "no valid token for {url} in {}; run `mcp-auth login {url}`",
            opened.spec
        )));
    };
    if json {
        let info = token_info(&opened.store, &server_key(&url)).await?;
        let expires_at = info.as_ref().and_then(|i| i.expires_at);
        let body = serde_json::json!({
            "access_token": token.expose_secret(),
            "token_type": "Bearer",
            "expires_at": expires_at,
            "expires_in": info.and_then(|i| i.seconds_left),
        });
        outln!("{body}");
    } else {
        outln!("{}", token.expose_secret());
    }
    Ok(())
}

/// What `status` found for one server.
struct ServerStatus {
    url: String,
    state: TokenState,
}

/// The state of one server's stored token.
enum TokenState {
    /// No token stored.
    Missing,
    /// The entry could not be read (wrong key, broken entry): why.
    Unreadable(String),
    /// A token, valid or expired.
    Stored(TokenInfo),
}

impl ServerStatus {
    async fn read(store: &Arc<dyn AsyncKeyValue>, key: &str) -> ServerStatus {
        let state = match token_info(store, key).await {
            Ok(Some(info)) => TokenState::Stored(info),
            Ok(None) => TokenState::Missing,
            Err(failure) => TokenState::Unreadable(failure.message),
        };
        ServerStatus {
            url: key.to_string(),
            state,
        }
    }

    fn info(&self) -> Option<&TokenInfo> {
        match &self.state {
            TokenState::Stored(info) => Some(info),
            _ => None,
        }
    }

    fn expired(&self) -> bool {
        self.info()
            .and_then(|i| i.seconds_left)
            .is_some_and(|left| left <= 0)
    }

    /// `valid`, `expired`, `missing` or `unreadable` (the `state` of `--json`).
    fn name(&self) -> &'static str {
        match &self.state {
            TokenState::Missing => "missing",
            TokenState::Unreadable(_) => "unreadable",
            TokenState::Stored(_) if self.expired() => "expired",
            TokenState::Stored(_) => "valid",
        }
    }

    /// Valid, or renewable with a stored refresh token.
    fn usable(&self) -> bool {
        self.info()
            .is_some_and(|info| !self.expired() || info.refreshable)
    }

    fn line(&self) -> String {
        let url = &self.url;
        match &self.state {
            TokenState::Unreadable(error) => format!("{url}  unreadable: {error}"),
            TokenState::Missing => format!("{url}  no token"),
            TokenState::Stored(info) => {
                let refresh = match (info.refreshable, self.expired()) {
                    (true, true) => ", refresh token stored (`mcp-auth token URL` renews it)",
                    (true, false) => ", refresh token stored",
                    (false, true) => ", no refresh token: log in again",
                    (false, false) => ", no refresh token",
                };
                format!("{url}  {}{refresh}", describe_expiry(info))
            }
        }
    }

    fn json(&self) -> serde_json::Value {
        let error = match &self.state {
            TokenState::Unreadable(error) => Some(error),
            _ => None,
        };
        serde_json::json!({
            "url": self.url,
            "state": self.name(),
            "usable": self.usable(),
            "expires_in": self.info().and_then(|i| i.seconds_left),
            "refreshable": self.info().is_some_and(|i| i.refreshable),
            "error": error,
        })
    }
}

/// `mcp-auth status [URL]`: never creates anything; exits 0 only when every server it
/// lists has a usable token (see `STATUS_HELP`).
pub(crate) async fn status(options: &Options, url: Option<&str>, json: bool) -> Outcome {
    let url = url.map(server_url).transpose()?;
    let opened = store::open_with(options, Access::Existing, store::LostKey::Refuse)
        .await
        .map_err(|f| f.with_advice("log in with `mcp-auth login URL` (or check --store)"))?;
    let servers = match &url {
        Some(url) => vec![server_key(url)],
        None if !opened.store.capabilities().list_keys => {
            return Err(Failure::usage(format!(
                "{} cannot list its keys; ask about one server with `mcp-auth status URL`",
                opened.spec
            )));
        }
        None => TokenCache::new(Arc::clone(&opened.store))
            .servers()
            .await
            .map_err(store::cache_failure)?,
    };
    let mut found = Vec::new();
    for server in &servers {
        found.push(ServerStatus::read(&opened.store, server).await);
    }
    if json {
        let body = serde_json::json!({
            "store": opened.spec.to_string(),
            "encrypted": opened.key.is_some(),
            "servers": found.iter().map(ServerStatus::json).collect::<Vec<_>>(),
        });
        outln!("{body}");
    } else {
        outln!("Token store: {}", opened.describe());
        if found.is_empty() {
            outln!("  No tokens stored. Log in with `mcp-auth login URL`, or try `mcp-auth demo`.");
        }
        for server in &found {
            outln!("  {}", server.line());
        }
    }
    if found
        .iter()
        .any(|s| matches!(s.state, TokenState::Unreadable(_)))
    {
        return Err(Failure::failed(
            "a stored token could not be read (see above)",
        ));
    }
    if found.is_empty() {
        return Err(Failure::needs_login(format!(
            "no token is stored in {}",
            opened.spec
        )));
    }
    let unusable: Vec<&str> = found
        .iter()
        .filter(|s| !s.usable())
        .map(|s| s.url.as_str())
        .collect();
    if !unusable.is_empty() {
        return Err(Failure::needs_login(format!(
            "no usable token for {}; log in with `mcp-auth login URL`",
            unusable.join(", ")
        )));
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
            errln!(
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
    let opened = match store::open_with(options, Access::Existing, store::LostKey::OpenPlain).await
    {
        Ok(opened) => opened,
        Err(f) if f.code == crate::exit::NEEDS_LOGIN => {
            errln!("Nothing is stored for {url}: {}.", f.message);
            return Ok(());
        }
        Err(f) => return Err(f),
    };
    let key = server_key(&url);
    let entries = if forget_client {
        StoredEntry::ALL
    } else {
        StoredEntry::TOKENS
    };
    // What is there now is what the person is told was deleted (revoking deletes the
    // tokens itself). Deleting needs no key, so logging out works even with a lost key.
    let cache = TokenCache::new(Arc::clone(&opened.raw));
    let present = cache.present(&key, entries).await;
    let at_server = if local || !present.contains(&StoredEntry::Tokens) {
        ""
    } else {
        revoke_at_server(&opened, options, &url).await?
    };
    cache
        .remove(&key, entries)
        .await
        .map_err(store::cache_failure)?;
    // The lease expires on its own; it is not worth a line.
    let deleted: Vec<&str> = present
        .iter()
        .filter(|entry| **entry != StoredEntry::RefreshLease)
        .map(|entry| entry.describe())
        .collect();
    if deleted.is_empty() {
        errln!(
            "Nothing was stored for {url} in {}; nothing to log out of.",
            opened.spec
        );
    } else {
        errln!(
            "Logged out of {url}: {at_server}deleted its {} from {}.",
            deleted.join(", "),
            opened.spec
        );
    }
    Ok(())
}

/// `mcp-auth proxy URL`: the store and the OAuth client as `login` has them, then the
/// message pump (see `proxy.rs`).
pub(crate) async fn proxy(options: &Options, args: ProxyArgs) -> Outcome {
    let url = server_url(&args.url)?;
    let opened = store::open(options).await?;
    refuse_plain_over_encrypted(&opened, options, &url).await?;
    let settings = crate::proxy::Settings {
        url: url.clone(),
        headers: crate::proxy::parse_headers(&args.headers)?,
        transport: args.transport,
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    let (browser, countdown) = browser_handoff(args.no_browser, timeout);
    let mut builder = builder(&opened, options, &url, browser).callback_timeout(timeout);
    if let Some(port) = args.callback_port {
        builder = builder.callback_port(port);
    }
    let oauth = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
    // A login, when one is needed, before the first message (its URL goes to stderr).
    let first = oauth.access_token().await;
    countdown.stop();
    if let Err(e) = first {
        return Err(oauth_failure(e, &url));
    }
    crate::proxy::run(settings, oauth).await
}
