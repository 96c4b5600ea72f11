//! Opening the token store from the command line options, and reading what it holds
//! about a server (in oauth-core's layout).

use std::path::PathBuf;
use std::sync::Arc;

use key_value::{AsyncKeyValue, ErrorKind};
use oauth_core::layout::{StoredEntry, TokenCache};
use url::Url;

use key_value::StoreUri;

use crate::encryption::{self, KeySource};
use crate::paths;
use crate::{Failure, Outcome};

/// The store options every command shares.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) spec: Option<String>,
    pub(crate) encrypt: bool,
    pub(crate) key_file: Option<PathBuf>,
    /// A client ID issued by the server (`--client-id`); its secret, if any, is read
    /// from [`CLIENT_SECRET_ENV`] when the client is built, so it is never held here.
    pub(crate) client_id: Option<String>,
}

/// The environment variable with the secret of `--client-id`'s client.
pub(crate) const CLIENT_SECRET_ENV: &str = "MCP_AUTH_CLIENT_SECRET";

/// An open token store.
pub(crate) struct Opened {
    /// What programs use: encrypting when asked.
    pub(crate) store: Arc<dyn AsyncKeyValue>,
    /// The store underneath (to show what is at rest).
    pub(crate) raw: Arc<dyn AsyncKeyValue>,
    pub(crate) spec: StoreUri,
    /// Where the key came from; `None` when not encrypted.
    pub(crate) key: Option<KeySource>,
}

impl Opened {
    /// `sqlite:/x/tokens.sqlite (encrypted with Fernet, key in /x/tokens.sqlite.key)`.
    pub(crate) fn describe(&self) -> String {
        match &self.key {
            Some(key) => format!("{} (encrypted with Fernet, {key})", self.spec),
            None => format!("{} (not encrypted)", self.spec),
        }
    }
}

/// What to do when the key file is missing but the store holds encrypted entries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LostKey {
    /// Refuse: a new key could not read them, and new entries would mix two keys.
    Refuse,
    /// Open the store without encryption (to delete entries, which needs no key).
    OpenPlain,
}

/// Whether a command may create the store and its key file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `login` and `demo`: create the store and its key file when missing.
    Create,
    /// Every other command: a missing store or key file is reported, never created.
    Existing,
}

/// Opens the store named by the options (the default: encrypted SQLite in the data
/// folder), creating it and its key file when missing.
pub(crate) async fn open(options: &Options) -> Outcome<Opened> {
    open_with(options, Access::Create, LostKey::Refuse).await
}

/// The store named by the options, parsed (the default when none is given).
pub(crate) fn store_uri(options: &Options) -> Outcome<StoreUri> {
    match &options.spec {
        Some(text) => text
            .parse::<StoreUri>()
            .map_err(|e| Failure::usage(format!("bad --store: {}", e.message()))),
        None => paths::default_store().map_err(Failure::failed),
    }
}

/// Whether the store holds an encrypted entry in one of oauth-core's collections
/// (looked for only in stores that can list their keys).
async fn holds_encrypted(raw: &dyn AsyncKeyValue) -> Outcome<bool> {
    if !raw.capabilities().list_keys {
        return Ok(false);
    }
    for entry in [
        StoredEntry::Tokens,
        StoredEntry::ClientInfo,
        StoredEntry::ServerMetadata,
    ] {
        let collection = entry.collection();
        let keys = raw
            .keys(Some(collection), Some(1))
            .await
            .map_err(store_failure)?;
        for key in keys {
            if is_encrypted(raw, &key, collection).await? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether the entry under `key` is sealed with Fernet (read as it is at rest).
pub(crate) async fn is_encrypted(
    raw: &dyn AsyncKeyValue,
    key: &str,
    collection: &str,
) -> Outcome<bool> {
    let entry = raw
        .get(key, Some(collection))
        .await
        .map_err(store_failure)?;
    Ok(entry.is_some_and(|e| key_value::fernet::is_sealed(&e)))
}

/// As [`open`], choosing whether to create what is missing and what a lost key file
/// means. With [`Access::Existing`], a missing file store is a [`Failure::needs_login`].
pub(crate) async fn open_with(
    options: &Options,
    access: Access,
    lost_key: LostKey,
) -> Outcome<Opened> {
    let spec = store_uri(options)?;
    // The store first: a store this build or machine cannot serve fails before a key
    // file is made for it.
    if access == Access::Existing && !spec.exists().await.map_err(|e| open_failure(&spec, e))? {
        return Err(Failure::needs_login(format!(
            "there is no token store at {spec} yet"
        )));
    }
    let opened = match access {
        Access::Create => spec.open().await,
        Access::Existing => spec.open_existing().await,
    };
    let raw: Arc<dyn AsyncKeyValue> = Arc::from(opened.map_err(|e| open_failure(&spec, e))?);
    let key = if options.encrypt {
        let file = match &options.key_file {
            Some(path) => Some(path.clone()),
            None => paths::key_file(&spec).map_err(Failure::failed)?,
        };
        // A key file that is gone, with entries it encrypted still stored: making a new
        // key would leave them unreadable and mix two keys in one store.
        let lost = match &file {
            Some(path) if std::env::var_os(encryption::KEY_ENV).is_none() && !path.exists() => {
                holds_encrypted(&*raw).await?.then(|| path.clone())
            }
            _ => None,
        };
        match (lost, lost_key) {
            (Some(path), LostKey::Refuse) => {
                return Err(Failure::failed(format!(
                    "{spec} holds encrypted tokens but their key file {} is missing; restore it \
                     (or set ${}), or start over with `mcp-auth logout --forget-client URL` \
                     for each server",
                    path.display(),
                    encryption::KEY_ENV
                )));
            }
            (Some(_), LostKey::OpenPlain) => None,
            (None, _) => {
                let create = access == Access::Create;
                Some(encryption::load_key(file.as_deref(), create).map_err(Failure::failed)?)
            }
        }
    } else {
        None
    };
    let (store, key) = match key {
        Some((text, source)) => (
            encryption::encrypt(raw.clone(), &text).map_err(Failure::failed)?,
            Some(source),
        ),
        None => (raw.clone(), None),
    };
    Ok(Opened {
        store,
        raw,
        spec,
        key,
    })
}

/// Checks a server URL given on the command line.
pub(crate) fn server_url(text: &str) -> Outcome<Url> {
    let bad = || {
        Failure::usage(format!(
            "`{text}` is not a server URL: give the MCP endpoint as http(s)://HOST[:PORT]/PATH, \
             e.g. https://mcp.example.com/mcp"
        ))
    };
    let url = Url::parse(text).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

/// The prefix of a server's keys in the store, as oauth-core writes them.
pub(crate) use oauth_core::layout::server_key;

/// What the store holds for one server.
pub(crate) struct TokenInfo {
    /// When the access token expires, in seconds since the Unix epoch.
    pub(crate) expires_at: Option<f64>,
    /// Seconds left (negative: expired); `None` when the expiry is unknown.
    pub(crate) seconds_left: Option<i64>,
    pub(crate) refreshable: bool,
}

/// The stored token of a server (a `server_key`), if any.
pub(crate) async fn token_info(
    store: &Arc<dyn AsyncKeyValue>,
    key: &str,
) -> Outcome<Option<TokenInfo>> {
    let status = TokenCache::new(Arc::clone(store))
        .token_status(key)
        .await
        .map_err(cache_failure)?;
    Ok(status.map(|status| TokenInfo {
        expires_at: status.expires_at,
        seconds_left: status.seconds_left().map(|s| s.floor() as i64),
        refreshable: status.refreshable,
    }))
}

/// A failure of the token cache (only the store can fail there).
pub(crate) fn cache_failure(e: oauth_core::Error) -> Failure {
    match e {
        oauth_core::Error::Storage(e) => store_failure(e),
        other => Failure::failed(other.to_string()),
    }
}

/// A store error as one sentence with what to do.
pub(crate) fn store_failure(e: key_value::Error) -> Failure {
    match e.kind() {
        ErrorKind::Decryption => Failure::failed(format!(
            "cannot decrypt what is stored ({e}): the key is not the one it was written with; \
             use the right key file or $MCP_AUTH_KEY"
        )),
        ErrorKind::Connection => Failure::failed(format!(
            "the token store is unreachable ({e}); check that it runs and try again"
        )),
        _ => Failure::failed(format!("the token store failed: {e}")),
    }
}

/// As [`store_failure`], for what is stored about the server at `url`: a wrong key also
/// gets the way to start over for that server.
pub(crate) fn server_store_failure(e: key_value::Error, url: &Url) -> Failure {
    if e.kind() == ErrorKind::Decryption {
        Failure::failed(format!(
            "cannot decrypt the tokens stored for {url}: the key is not the one they were \
             written with; use that key, or start over with `mcp-auth logout \
             --forget-client {url}`"
        ))
    } else {
        store_failure(e)
    }
}

/// A store that would not open, as one sentence with what to do.
fn open_failure(spec: &StoreUri, e: key_value::Error) -> Failure {
    match e.kind() {
        ErrorKind::Unsupported | ErrorKind::InvalidArgument => {
            Failure::usage(format!("--store {spec}: {}", e.message()))
        }
        ErrorKind::Connection => Failure::failed(format!(
            "cannot reach the token store {spec} ({e}); check that the server runs and the \
             address is right"
        )),
        _ => Failure::failed(format!("cannot open the token store {spec}: {e}")),
    }
}

/// `3 h 5 min`, `12 min`, `45 s`, `2 days`.
pub(crate) fn human(seconds: u64) -> String {
    match seconds {
        0..=89 => format!("{seconds} s"),
        90..=5399 => format!("{} min", (seconds + 30) / 60),
        5400..=172_799 => {
            let minutes = (seconds + 30) / 60;
            format!("{} h {} min", minutes / 60, minutes % 60)
        }
        _ => format!("{} days", seconds / 86_400),
    }
}

/// `valid for 59 min` / `expired 2 h ago` / `expiry unknown`.
pub(crate) fn describe_expiry(info: &TokenInfo) -> String {
    match info.seconds_left {
        Some(left) if left > 0 => format!("valid for {}", human(left.unsigned_abs())),
        Some(left) => format!("expired {} ago", human(left.unsigned_abs())),
        None => "expiry unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human(45), "45 s");
        assert_eq!(human(3599), "60 min");
        assert_eq!(human(3 * 3600 + 300), "3 h 5 min");
        assert_eq!(human(3 * 86_400), "3 days");
    }

    #[test]
    fn server_urls_are_checked() {
        assert!(server_url("https://mcp.example.com/mcp").is_ok());
        for bad in ["mcp.example.com", "ftp://x/y", "https://x/#f", "not a url"] {
            let failure = server_url(bad).err().map(|f| f.code);
            assert_eq!(failure, Some(super::super::exit::USAGE), "{bad}");
        }
        let url = server_url("http://127.0.0.1:8391").unwrap_or_else(|_| unreachable!());
        assert_eq!(server_key(&url), "http://127.0.0.1:8391");
    }
}
