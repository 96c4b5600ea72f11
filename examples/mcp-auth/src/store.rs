//! Opening the token store from the command line options, and reading what it holds
//! about a server (in oauth-core's layout).
//!
//! `--store fastmcp` opens FastMCP's command-line token cache (see [`open_fastmcp`]):
//! the directory FastMCP 4's `fastmcp` command keeps OAuth tokens in when
//! `$FASTMCP_OAUTH_ENCRYPTION_KEY` is set, a disk store in py-key-value's `FileTreeStore`
//! layout under Fernet, so that a login with either program serves the other.

use std::path::PathBuf;
use std::sync::Arc;

use key_value::{AsyncKeyValue, ErrorKind};
use oauth_core::layout::{StoredEntry, TokenCache};
use url::Url;

use key_value::StoreUri;
use key_value::fernet::FernetKey;
use key_value::fernet::zeroize::Zeroizing;

use crate::encryption::{self, KeySource, KeyText};
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
    /// The store as a URI (for `--store fastmcp`, the `disk:` store of the cache).
    pub(crate) spec: StoreUri,
    /// Where the key came from; `None` when not encrypted. For `--store fastmcp` with
    /// `$FASTMCP_OAUTH_ENCRYPTION_KEY`, [`KeySource::Environment`]; `fastmcp` tells which.
    pub(crate) key: Option<KeySource>,
    /// Set for `--store fastmcp`: where its key came from.
    pub(crate) fastmcp: Option<FastMcpKey>,
}

impl Opened {
    /// `sqlite:/x/tokens.sqlite (encrypted with Fernet, key in /x/tokens.sqlite.key)`, or
    /// `FastMCP's CLI token cache disk:/h/fastmcp/cli-oauth/1a2b3c4d5e6f (encrypted with
    /// Fernet, key from $FASTMCP_OAUTH_ENCRYPTION_KEY)`.
    pub(crate) fn describe(&self) -> String {
        match (&self.fastmcp, &self.key) {
            (Some(origin), _) => format!(
                "FastMCP's CLI token cache {} (encrypted with Fernet, {origin})",
                self.spec
            ),
            (None, Some(key)) => format!("{} (encrypted with Fernet, {key})", self.spec),
            (None, None) => format!("{} (not encrypted)", self.spec),
        }
    }
}

/// The `--store` value that names FastMCP's command-line token cache (`fastmcp:` is
/// accepted too).
pub(crate) const FASTMCP_STORE: &str = "fastmcp";

/// The environment variable FastMCP's command-line client takes its Fernet key from.
pub(crate) const FASTMCP_KEY_ENV: &str = "FASTMCP_OAUTH_ENCRYPTION_KEY";

/// Where the key of `--store fastmcp` came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FastMcpKey {
    /// `$FASTMCP_OAUTH_ENCRYPTION_KEY`, as FastMCP reads it.
    FastMcpEnvironment,
    /// `$MCP_AUTH_KEY`.
    Environment,
    /// `--key-file`.
    File(PathBuf),
}

impl std::fmt::Display for FastMcpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FastMcpKey::FastMcpEnvironment => write!(f, "key from ${FASTMCP_KEY_ENV}"),
            FastMcpKey::Environment => write!(f, "key from ${}", encryption::KEY_ENV),
            FastMcpKey::File(path) => write!(f, "key in {}", path.display()),
        }
    }
}

/// Whether a `--store` value names FastMCP's cache.
fn is_fastmcp(spec: Option<&str>) -> bool {
    spec.map(str::trim)
        .is_some_and(|spec| spec.strip_suffix(':').unwrap_or(spec) == FASTMCP_STORE)
}

/// The first 12 hex digits of the SHA-256 of `key_bytes`: the name FastMCP gives the
/// cache directory of a key (`hashlib.sha256(key).hexdigest()[:12]`, `key` being the
/// variable's text as UTF-8, untrimmed).
pub(crate) fn fastmcp_fingerprint(key_bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key_bytes);
    digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The key of `--store fastmcp`, its fingerprint and where it came from.
///
/// Precedence: `$FASTMCP_OAUTH_ENCRYPTION_KEY` (when set and not empty: what FastMCP
/// itself uses, so both programs pick the same directory), else `$MCP_AUTH_KEY`, else
/// `--key-file` (which must exist: a key made here would name a directory FastMCP never
/// reads). No key is a usage error: FastMCP keeps no cache without one.
fn fastmcp_key(options: &Options) -> Outcome<(KeyText, String, FastMcpKey)> {
    if let Some(raw) = std::env::var_os(FASTMCP_KEY_ENV).filter(|raw| !raw.is_empty()) {
        let raw = Zeroizing::new(
            raw.into_string()
                .map_err(|_| Failure::usage(format!("${FASTMCP_KEY_ENV} is not valid UTF-8")))?,
        );
        // FastMCP names the directory after the variable's bytes as they are, and its
        // Fernet ignores surrounding whitespace when decoding the key.
        let fingerprint = fastmcp_fingerprint(raw.as_bytes());
        let text = Zeroizing::new(raw.trim().to_owned());
        if FernetKey::from_base64(&text).is_err() {
            return Err(Failure::usage(format!(
                "${FASTMCP_KEY_ENV} is not a Fernet key (32 bytes in URL-safe base64, 44 \
                 characters)"
            )));
        }
        return Ok((text, fingerprint, FastMcpKey::FastMcpEnvironment));
    }
    if std::env::var_os(encryption::KEY_ENV).is_some() {
        let (text, _) = encryption::load_key(None, false).map_err(Failure::failed)?;
        let fingerprint = fastmcp_fingerprint(text.as_bytes());
        return Ok((text, fingerprint, FastMcpKey::Environment));
    }
    let Some(path) = &options.key_file else {
        return Err(Failure::usage(format!(
            "--store fastmcp needs FastMCP's key: set ${FASTMCP_KEY_ENV} (the key the \
             `fastmcp` command uses), or ${} or --key-file",
            encryption::KEY_ENV
        )));
    };
    match encryption::load_key(Some(path), false).map_err(Failure::failed)? {
        (text, KeySource::File(_)) => {
            let fingerprint = fastmcp_fingerprint(text.as_bytes());
            Ok((text, fingerprint, FastMcpKey::File(path.clone())))
        }
        _ => Err(Failure::usage(format!(
            "the key file {} does not exist; --store fastmcp needs the key FastMCP uses \
             (${FASTMCP_KEY_ENV})",
            path.display()
        ))),
    }
}

/// Opens FastMCP's command-line token cache: the directory
/// `<FastMCP home>/cli-oauth/<fingerprint of the key>` (see
/// [`paths::fastmcp_home`] and [`fastmcp_fingerprint`]) as a disk store, which has
/// py-key-value's `FileTreeStore` layout with the `FileTreeV1` sanitization strategies,
/// sealed with Fernet under the key (py-key-value's `FernetEncryptionWrapper`), as
/// FastMCP 4's `fastmcp` command opens it. FastMCP reads an entry that does not decrypt
/// as missing (`raise_on_decryption_error=False`); here it is an error that says so,
/// since the directory is named after the key and such an entry is damage, not another
/// key's data.
///
/// Always encrypted (`--no-encryption` is a usage error). With [`Access::Existing`] a
/// missing directory is a [`Failure::needs_login`] and nothing is created.
async fn open_fastmcp(options: &Options, access: Access) -> Outcome<Opened> {
    if !options.encrypt {
        return Err(Failure::usage(
            "--store fastmcp is always encrypted (FastMCP seals its token cache with \
             Fernet); drop --no-encryption",
        ));
    }
    let (key, fingerprint, origin) = fastmcp_key(options)?;
    let dir = paths::fastmcp_cache_dir(&fingerprint).map_err(Failure::usage)?;
    let spec = StoreUri::Disk(dir);
    if access == Access::Existing && !spec.exists().await.map_err(|e| open_failure(&spec, e))? {
        return Err(Failure::needs_login(format!(
            "FastMCP's CLI token cache for this key ({spec}) does not exist yet"
        )));
    }
    let opened = match access {
        Access::Create => spec.open().await,
        Access::Existing => spec.open_existing().await,
    };
    let raw: Arc<dyn AsyncKeyValue> = Arc::from(opened.map_err(|e| open_failure(&spec, e))?);
    let store = encryption::encrypt(raw.clone(), &key).map_err(Failure::failed)?;
    let source = match &origin {
        FastMcpKey::File(path) => KeySource::File(path.clone()),
        FastMcpKey::FastMcpEnvironment | FastMcpKey::Environment => KeySource::Environment,
    };
    Ok(Opened {
        store,
        raw,
        spec,
        key: Some(source),
        fastmcp: Some(origin),
    })
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
        Some(text) => text.parse::<StoreUri>().map_err(|e| {
            Failure::usage(format!(
                "bad --store: {} (or {FASTMCP_STORE}: FastMCP's CLI token cache)",
                e.message()
            ))
        }),
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
    if is_fastmcp(options.spec.as_deref()) {
        return open_fastmcp(options, access).await;
    }
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
        fastmcp: None,
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
    fn fastmcp_names_its_cache_after_the_untrimmed_key() {
        // hashlib.sha256(key).hexdigest()[:12], computed with Python.
        let key = "x3wFmcCeQ9ZkS0XbZx2F4tUIKr9dMqLjHkW0NQkHcUs=";
        assert_eq!(fastmcp_fingerprint(key.as_bytes()), "357c9f9292c1");
        assert_eq!(
            fastmcp_fingerprint(format!("{key}\n").as_bytes()),
            "a8919f2cdb0b"
        );
    }

    #[test]
    fn the_fastmcp_store_form() {
        for spec in ["fastmcp", "fastmcp:", " fastmcp "] {
            assert!(is_fastmcp(Some(spec)), "{spec}");
        }
        for spec in ["fastmcp:x", "disk:fastmcp", "FastMCP", ""] {
            assert!(!is_fastmcp(Some(spec)), "{spec}");
        }
        assert!(!is_fastmcp(None));
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
