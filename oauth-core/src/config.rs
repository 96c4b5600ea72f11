//! The settings of an [`OAuth`](crate::OAuth) client and their builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, JsonObject};
use secrecy::SecretString;
use url::Url;

use crate::error::{Error, Result};

/// The default time to wait for the user to finish logging in.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(300);

/// The program's own way to send the user to the authorization URL.
pub type OpenUrl = Arc<dyn Fn(&Url) -> std::result::Result<(), String> + Send + Sync>;

/// How the user is sent to the authorization endpoint.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum BrowserMode {
    /// Open the system browser; print the URL when no browser can be opened.
    #[default]
    Open,
    /// Print the URL on standard error for the user to open (headless machines).
    Print,
    /// Call the program's own function with the URL.
    Custom(OpenUrl),
    /// Fetch the authorization URL without following redirects and read the code from
    /// the `Location` header. For servers that authorize without user interaction
    /// (test servers such as the MCP conformance suite's); no callback server is started.
    FetchRedirect,
}

impl fmt::Debug for BrowserMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrowserMode::Open => "Open",
            BrowserMode::Print => "Print",
            BrowserMode::Custom(_) => "Custom(..)",
            BrowserMode::FetchRedirect => "FetchRedirect",
        })
    }
}

/// The signing algorithm of a private-key JWT client assertion (RFC 7523).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    Es256,
}

/// Which grant obtains tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GrantMode {
    /// Interactive: authorization code with PKCE, refresh tokens.
    AuthorizationCode,
    /// Machine to machine: client credentials.
    ClientCredentials,
}

/// A private key for `private_key_jwt` client authentication.
#[derive(Clone)]
pub(crate) struct PrivateKey {
    pub(crate) pem: SecretString,
    pub(crate) algorithm: JwtAlgorithm,
}

/// Everything [`OAuthBuilder`] collects.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) server_url: Url,
    /// The server URL without a trailing `/`: the prefix of the FastMCP storage keys.
    pub(crate) server_key: String,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) client_name: String,
    pub(crate) storage: Arc<dyn AsyncKeyValue>,
    pub(crate) additional_metadata: JsonObject,
    pub(crate) callback_host: String,
    pub(crate) callback_port: Option<u16>,
    pub(crate) callback_timeout: Duration,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) client_metadata_url: Option<String>,
    pub(crate) browser: BrowserMode,
    pub(crate) pinned_issuer: Option<String>,
    pub(crate) grant: GrantMode,
    pub(crate) private_key: Option<PrivateKey>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server_url", &self.server_url.as_str())
            .field("scopes", &self.scopes)
            .field("client_name", &self.client_name)
            .field("callback_host", &self.callback_host)
            .field("callback_port", &self.callback_port)
            .field("callback_timeout", &self.callback_timeout)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_metadata_url", &self.client_metadata_url)
            .field("browser", &self.browser)
            .field("pinned_issuer", &self.pinned_issuer)
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OAuth`](crate::OAuth) client; start with
/// [`OAuth::builder`](crate::OAuth::builder).
///
/// ```
/// use std::time::Duration;
/// use oauth_core::{BrowserMode, OAuth};
///
/// let oauth = OAuth::builder("https://mcp.example.com/mcp")
///     .scopes(["read", "write"])
///     .client_name("my tool")
///     .callback_port(8765)
///     .callback_timeout(Duration::from_secs(120))
///     .browser(BrowserMode::Print)
///     .build()?;
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[must_use]
pub struct OAuthBuilder {
    server_url: String,
    scopes: Option<Vec<String>>,
    client_name: Option<String>,
    storage: Option<Arc<dyn AsyncKeyValue>>,
    additional_metadata: JsonObject,
    callback_host: String,
    callback_port: Option<u16>,
    callback_timeout: Duration,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    client_metadata_url: Option<String>,
    browser: BrowserMode,
    pinned_issuer: Option<String>,
    grant: GrantMode,
    private_key: Option<PrivateKey>,
}

impl fmt::Debug for OAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBuilder")
            .field("server_url", &self.server_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl OAuthBuilder {
    pub(crate) fn new(server_url: impl Into<String>) -> Self {
        OAuthBuilder {
            server_url: server_url.into(),
            scopes: None,
            client_name: None,
            storage: None,
            additional_metadata: JsonObject::new(),
            callback_host: "localhost".into(),
            callback_port: None,
            callback_timeout: DEFAULT_CALLBACK_TIMEOUT,
            client_id: None,
            client_secret: None,
            client_metadata_url: None,
            browser: BrowserMode::default(),
            pinned_issuer: None,
            grant: GrantMode::AuthorizationCode,
            private_key: None,
        }
    }

    /// The scopes to request. Each item may hold several space-separated scopes, so
    /// both `["read", "write"]` and `["read write"]` work. Without it the scopes are
    /// chosen per the MCP rules (the `WWW-Authenticate` scope, else the resource's
    /// `scopes_supported`, else none, plus `offline_access` when the server lists it).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list: Vec<String> = scopes
            .into_iter()
            .flat_map(|s| {
                s.as_ref()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        self.scopes = Some(list);
        self
    }

    /// The `client_name` sent at dynamic registration (default: the program's name).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Where tokens, the client registration and server metadata are kept: any store
    /// of the family, e.g. an encrypted disk store. Default: in memory (lost on exit,
    /// with a logged warning) with the `memory` feature, which is on by default;
    /// without it, [`build`](OAuthBuilder::build) fails with [`Error::Config`] unless a
    /// store is given here. `Arc<dyn AsyncKeyValue>` is accepted too.
    pub fn token_storage(mut self, store: impl AsyncKeyValue + 'static) -> Self {
        self.storage = Some(Arc::new(store));
        self
    }

    /// Extra fields merged into the dynamic registration request (RFC 7591 metadata).
    pub fn additional_client_metadata(mut self, metadata: JsonObject) -> Self {
        self.additional_metadata = metadata;
        self
    }

    /// The callback host: `localhost` (default) or a loopback address. For `localhost`
    /// the callback server listens on both 127.0.0.1 and ::1 (when the machine has
    /// IPv6), since the browser may resolve the name to either.
    pub fn callback_host(mut self, host: impl Into<String>) -> Self {
        self.callback_host = host.into();
        self
    }

    /// The callback port (default: a free one, or the one of a reused registration).
    pub fn callback_port(mut self, port: u16) -> Self {
        self.callback_port = Some(port);
        self
    }

    /// How long to wait for the user to finish logging in (default 300 s).
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.callback_timeout = timeout;
        self
    }

    /// A pre-registered client ID (used before any other registration method).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The secret of the pre-registered client.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(SecretString::from(secret.into()));
        self
    }

    /// A client ID metadata document URL (CIMD), used as the client ID when the
    /// authorization server advertises `client_id_metadata_document_supported`.
    pub fn client_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.client_metadata_url = Some(url.into());
        self
    }

    /// How the user is sent to the browser (default: open it, else print the URL).
    pub fn browser(mut self, mode: BrowserMode) -> Self {
        self.browser = mode;
        self
    }

    /// Refuse any authorization server whose issuer is not exactly this one.
    pub fn pinned_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.pinned_issuer = Some(issuer.into());
        self
    }

    /// Machine to machine: obtain tokens with the client credentials grant, authenticating
    /// with [`client_secret`](Self::client_secret) (basic or post, as the server
    /// supports) or a [`private_key_jwt`](Self::private_key_jwt) assertion. Needs
    /// [`client_id`](Self::client_id).
    pub fn client_credentials(mut self) -> Self {
        self.grant = GrantMode::ClientCredentials;
        self
    }

    /// Authenticate the client with a JWT assertion (RFC 7523) signed by this PKCS#8
    /// PEM private key.
    pub fn private_key_jwt(mut self, pem: impl Into<String>, algorithm: JwtAlgorithm) -> Self {
        self.private_key = Some(PrivateKey {
            pem: SecretString::from(pem.into()),
            algorithm,
        });
        self
    }

    /// Checks the settings (see [`OAuthBuilder::build`]).
    pub(crate) fn into_config(self) -> Result<Config> {
        let server_url = Url::parse(&self.server_url)
            .map_err(|e| Error::Config(format!("the server URL is invalid: {e}")))?;
        if !matches!(server_url.scheme(), "http" | "https") || server_url.host().is_none() {
            return Err(Error::Config(
                "the server URL must be an http or https URL with a host".into(),
            ));
        }
        if server_url.fragment().is_some() {
            return Err(Error::Config(
                "the server URL must not have a fragment".into(),
            ));
        }
        let host_url = Url::parse(&format!("http://{}/", self.callback_host))
            .map_err(|_| Error::Config("the callback host is not a valid host".into()))?;
        if !crate::http::is_loopback(&host_url) {
            return Err(Error::Config(format!(
                "the callback host `{}` is not a loopback host",
                self.callback_host
            )));
        }
        if self.grant == GrantMode::ClientCredentials && self.client_id.is_none() {
            return Err(Error::Config(
                "the client credentials grant needs a client_id".into(),
            ));
        }
        if self.grant == GrantMode::ClientCredentials
            && self.client_secret.is_none()
            && self.private_key.is_none()
        {
            return Err(Error::Config(
                "the client credentials grant needs a client_secret or a private key".into(),
            ));
        }
        let storage = match self.storage {
            Some(store) => store,
            None => default_storage()?,
        };
        let server_key = crate::layout::server_key(&server_url);
        let config = Config {
            server_key,
            server_url,
            scopes: self.scopes,
            client_name: self.client_name.unwrap_or_else(default_client_name),
            storage,
            additional_metadata: self.additional_metadata,
            callback_host: self.callback_host,
            callback_port: self.callback_port,
            callback_timeout: self.callback_timeout,
            client_id: self.client_id,
            client_secret: self.client_secret,
            client_metadata_url: self.client_metadata_url,
            browser: self.browser,
            pinned_issuer: self.pinned_issuer,
            grant: self.grant,
            private_key: self.private_key,
        };
        Ok(config)
    }
}

/// The program's file name, else the crate's name.
fn default_client_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "oauth-core client".into())
}

/// The store used when none is configured: in memory, with a warning, under the
/// `memory` feature (on by default).
#[cfg(feature = "memory")]
fn default_storage() -> Result<Arc<dyn AsyncKeyValue>> {
    tracing::warn!("no token storage configured: OAuth tokens are kept in memory and lost on exit");
    Ok(Arc::new(key_value_memory::MemoryStore::new()))
}

/// Without the `memory` feature there is no store to fall back on.
#[cfg(not(feature = "memory"))]
fn default_storage() -> Result<Arc<dyn AsyncKeyValue>> {
    Err(Error::Config(
        "no token storage configured: give one with `token_storage(...)`, or enable \
         oauth-core's `memory` feature to keep tokens in memory (lost on exit)"
            .into(),
    ))
}

#[cfg(test)]
mod default_storage_tests {
    use super::*;

    #[test]
    fn without_storage_the_memory_feature_decides() {
        let built = OAuthBuilder::new("https://mcp.example.com/mcp").build();
        if cfg!(feature = "memory") {
            assert!(built.is_ok());
        } else {
            let err = built.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.contains("no token storage configured") && err.contains("memory"),
                "{err}"
            );
        }
    }
}
