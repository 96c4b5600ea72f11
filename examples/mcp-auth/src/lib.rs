//! `mcp-auth`: log in to OAuth-protected MCP servers from the command line and keep the
//! tokens in any store of the family, encrypted by default.
//!
//! Install it with `cargo install mcp-auth` (from this workspace: `cargo install --path
//! examples/mcp-auth`). The default build opens `sqlite:` and `disk:` stores; the Cargo
//! features `redis` and `dynamodb` add those stores.
//!
//! The binary (`src/main.rs`) only calls [`main`]; everything is here so that the
//! commands share one error type and one way of opening the store. [`mcp_client`] is the
//! small MCP client the `demo` command (and the conformance client) uses, and
//! [`encryption`] the key handling.
//!
//! Libraries chosen: `clap` for the command line and `clap_complete` for shell
//! completions, `dirs` for the platform data directory, `tracing-subscriber` for
//! `--verbose`.
//!
//! ```no_run
//! // src/main.rs
//! fn main() -> std::process::ExitCode {
//!     mcp_auth::main()
//! }
//! ```

// The README's code blocks are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod commands;
mod demo;
pub mod encryption;
pub mod mcp_client;
mod output;
pub mod paths;
mod probe;
mod progress;
mod proxy;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::output::{errln, one_line};

/// Exit codes (also in `--help` and the README).
pub mod exit {
    /// It worked.
    pub const OK: u8 = 0;
    /// It failed: network, server, store or key trouble (the message says which).
    pub const FAILURE: u8 = 1;
    /// The command line is wrong: unknown option, bad `--store`, bad URL.
    pub const USAGE: u8 = 2;
    /// There is no usable token for the server (for `status`: for one of the servers it
    /// lists, or for any): run `mcp-auth login URL`.
    pub const NEEDS_LOGIN: u8 = 3;
}

const AFTER_HELP: &str = "\
Stores (--store SPEC, or $MCP_AUTH_STORE):
  sqlite:PATH          a SQLite file (the default: tokens.sqlite in your data directory,
                       e.g. ~/.local/share/mcp-auth/tokens.sqlite)
  disk:DIR             a directory store
  memory:              in memory, gone when the command ends
  redis://HOST[:PORT][/DB]   Redis
  dynamodb://TABLE     DynamoDB (AWS settings from the environment; DYNAMODB_ENDPOINT
                       for an emulator)
  fastmcp              FastMCP's command-line token cache, shared with the `fastmcp`
                       command: $FASTMCP_HOME/cli-oauth/<key fingerprint> (default home
                       ~/.local/share/fastmcp), always encrypted; its key comes from
                       $FASTMCP_OAUTH_ENCRYPTION_KEY, else $MCP_AUTH_KEY, else an
                       existing --key-file (none: usage error)

Tokens are encrypted with Fernet unless --no-encryption is given. The key comes from
$MCP_AUTH_KEY, else from --key-file, else from a key file made on first use (owner-only):
next to a sqlite: or disk: store (PATH.key), in your data directory for the others
(mcp-auth/server-store.key). Keep it: without it the stored tokens cannot be read.

Environment:
  MCP_AUTH_STORE          the store, as --store
  MCP_AUTH_KEY            the Fernet key (wins over any key file)
  FASTMCP_OAUTH_ENCRYPTION_KEY, FASTMCP_HOME   FastMCP's key and home, for --store fastmcp
  MCP_AUTH_CLIENT_ID      a client ID the server issued you, as --client-id
  MCP_AUTH_CLIENT_SECRET  its secret, for servers that give confidential clients one

Exit codes:
  0  success
  1  failure (server unreachable, login refused or timed out, store or key problem)
  2  usage error (unknown option, bad --store, bad server URL)
  3  no usable token for the server (status: for a server it lists, or for any):
     log in with `mcp-auth login URL`

Logging: --verbose traces each HTTP step on stderr (secrets are never shown);
RUST_LOG=oauth_core=trace,mcp_auth=debug (tracing's filter syntax) chooses more or less.

Example:
  mcp-auth demo
  curl -H \"Authorization: Bearer $(mcp-auth token https://mcp.example.com/mcp)\" ...";

const SUBCOMMAND_EXIT_CODES: &str = "\
Exit codes: 0 success, 1 failure (the message says what to do), 2 usage error.
Store, key and environment options: see `mcp-auth --help`.";

/// Log in to OAuth-protected MCP servers and keep their tokens in a key-value store.
#[derive(Debug, Parser)]
#[command(name = "mcp-auth", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Where tokens are kept: sqlite:PATH, disk:DIR, memory:, redis://…,
    /// dynamodb://TABLE or fastmcp (FastMCP's CLI token cache, keyed by
    /// $FASTMCP_OAUTH_ENCRYPTION_KEY) [default: encrypted SQLite file in your data
    /// directory]
    #[arg(
        long,
        global = true,
        env = "MCP_AUTH_STORE",
        hide_env_values = true,
        value_name = "SPEC"
    )]
    store: Option<String>,

    /// Store tokens unencrypted
    #[arg(long, global = true)]
    no_encryption: bool,

    /// The encryption key file [default: next to the store, e.g. tokens.sqlite.key];
    /// $MCP_AUTH_KEY, when set, is used instead
    #[arg(long, global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,

    /// Use this client ID instead of registering with the server (for servers that
    /// issue client IDs themselves); a secret, if any, goes in $MCP_AUTH_CLIENT_SECRET
    #[arg(
        long,
        global = true,
        env = "MCP_AUTH_CLIENT_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    client_id: Option<String>,

    /// Trace each step (discovery, registration, token requests) on stderr; secrets are
    /// never shown. RUST_LOG, when set, chooses what is traced instead
    #[arg(long, short, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in to an MCP server: opens the browser, or prints the URL to open on a
    /// machine without one
    #[command(after_help = SUBCOMMAND_EXIT_CODES)]
    Login(LoginArgs),
    /// Print a valid access token for a server (renewing it if needed) and nothing else
    #[command(
        after_help = "Exits with 3 when there is no usable token: run `mcp-auth login URL`.\n\n\
        Example: curl -H \"Authorization: Bearer $(mcp-auth token URL)\" URL"
    )]
    Token {
        /// The MCP server URL, e.g. https://mcp.example.com/mcp
        url: String,
        /// Print a JSON object instead: {"access_token", "token_type", "expires_at",
        /// "expires_in"} (times in seconds; null when unknown)
        #[arg(long)]
        json: bool,
    },
    /// Show the servers with stored tokens and when their tokens expire
    #[command(after_help = STATUS_HELP)]
    Status {
        /// Show only this server (works with stores that cannot list their keys)
        url: Option<String>,
        /// Print a JSON object instead: {"store", "encrypted", "servers": [{"url",
        /// "state", "usable", "expires_in", "refreshable", "error"}]}
        #[arg(long)]
        json: bool,
    },
    /// Revoke a server's tokens at its authorization server (when it offers RFC 7009
    /// revocation) and delete them here (with --forget-client, everything stored for
    /// it: the way to start over after a lost key or a server that forgot you)
    #[command(after_help = SUBCOMMAND_EXIT_CODES)]
    Logout {
        /// The MCP server URL
        url: String,
        /// Also forget the client registration and server metadata
        #[arg(long)]
        forget_client: bool,
        /// Only delete the tokens here; do not ask the server to revoke them
        #[arg(long)]
        local: bool,
    },
    /// Serve MCP on stdin/stdout and forward every message to the remote server at URL
    /// with a token from the store (logging in first when needed): for MCP clients that
    /// speak only stdio
    #[command(after_help = PROXY_HELP)]
    Proxy(ProxyArgs),
    /// Start the demo server on this machine, log in to it without a browser, store
    /// the tokens and call a tool; run it twice to see the stored token reused
    Demo(DemoArgs),
    /// Print a completion script for a shell, e.g. `mcp-auth completions bash >
    /// ~/.local/share/bash-completion/completions/mcp-auth`
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell
        shell: Shell,
    },
}

const STATUS_HELP: &str = "\
Exit codes: 0 every server listed has a usable token (valid, or renewable with its
refresh token); 3 one of them has none (missing, or expired without a refresh token), or
no token is stored at all; 1 a token could not be read (wrong key, store failure); 2 usage
error. Status never creates a store or a key file.";

#[derive(Debug, Args)]
struct LoginArgs {
    /// The MCP server URL, e.g. https://mcp.example.com/mcp
    url: String,
    /// Do not open a browser; print the URL to open instead
    #[arg(long)]
    no_browser: bool,
    /// Seconds to wait for the login to finish in the browser
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
    /// The local port the browser returns to [default: a free port]
    #[arg(long, value_name = "PORT")]
    callback_port: Option<u16>,
    /// Scopes to ask for [default: those the server names]
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Log in again even if a valid token is stored (the stored tokens are replaced
    /// only when the new login succeeds)
    #[arg(long)]
    force: bool,
}

const PROXY_HELP: &str = "\
A desktop MCP client is configured with:
  {\"command\": \"mcp-auth\", \"args\": [\"proxy\", \"https://mcp.example.com/mcp\"]}
stdout carries only MCP messages; the login URL and failures go to stderr. The session
ends (HTTP DELETE) when the client closes stdin or on SIGTERM/Ctrl-C.

Exit codes: 0 the client went away, 1 failure (login refused, server gone), 2 usage error.
Store, key and environment options: see `mcp-auth --help`.";

#[derive(Debug, Args)]
struct ProxyArgs {
    /// The MCP server URL (its Streamable HTTP endpoint, or the event stream URL of an
    /// HTTP+SSE server), e.g. https://mcp.example.com/mcp
    url: String,
    /// An extra HTTP header for every request to the server, `Name: value` (repeatable);
    /// not Authorization, which comes from the store
    #[arg(long = "header", short = 'H', value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    /// The local port the browser returns to when a login is needed [default: a free port]
    #[arg(long, value_name = "PORT")]
    callback_port: Option<u16>,
    /// Do not open a browser when a login is needed; print the URL on stderr instead
    #[arg(long)]
    no_browser: bool,
    /// Seconds to wait for a login to finish in the browser
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
    /// The server's transport: http (Streamable HTTP), sse (the older HTTP+SSE
    /// transport of MCP 2024-11-05: the URL is its event stream) or auto (Streamable
    /// HTTP, and HTTP+SSE at the same URL when the initialize POST is refused with a
    /// 4xx status other than 401, 403 and 429)
    #[arg(long, value_enum, default_value = "auto", value_name = "TRANSPORT")]
    transport: proxy::TransportChoice,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// The demo server's port [default: the one of the last run, else 8391, else any free one]
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Lifetime of the access tokens the demo server issues, in seconds (short ones show
    /// refreshing; the client renews tokens in the last tenth of their life, at most
    /// 60 s before they expire)
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    token_lifetime: u64,
}

/// A failure: the exit code and one sentence saying what to do.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: exit::FAILURE,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    pub(crate) fn needs_login(message: impl Into<String>) -> Self {
        Failure {
            code: exit::NEEDS_LOGIN,
            message: message.into(),
        }
    }

    /// A "there is no token" failure with what to do appended; others unchanged.
    pub(crate) fn with_advice(mut self, advice: &str) -> Self {
        if self.code == exit::NEEDS_LOGIN {
            self.message = format!("{}; {advice}", self.message);
        }
        self
    }
}

pub(crate) type Outcome<T = ()> = Result<T, Failure>;

/// Parses the command line, runs the command, prints a failure as one line on stderr
/// and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("mcp-auth: cannot start: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let outcome = runtime.block_on(run(cli));
    // Not waiting for blocking tasks: the proxy's read of stdin, whose client may keep
    // it open after the server's side ended, would hold the exit for ever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            // Server text can be long: one line, cut, and (by errln) made terminal-safe.
            errln!("mcp-auth: {}", one_line(&failure.message, MAX_MESSAGE));
            ExitCode::from(failure.code)
        }
    }
}

/// The longest failure message printed, in characters.
const MAX_MESSAGE: usize = 600;

/// `--verbose` or `RUST_LOG`: tracing events on stderr.
fn start_logging(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::new(directives),
        _ if verbose => EnvFilter::new("oauth_core=debug,mcp_auth=debug"),
        _ => return,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> Outcome {
    start_logging(cli.verbose);
    let options = store::Options {
        spec: cli.store.clone(),
        encrypt: !cli.no_encryption,
        key_file: cli.key_file.clone(),
        client_id: cli.client_id.clone(),
    };
    match cli.command {
        Command::Login(args) => commands::login(&options, args).await,
        Command::Token { url, json } => commands::token(&options, &url, json).await,
        Command::Status { url, json } => commands::status(&options, url.as_deref(), json).await,
        Command::Logout {
            url,
            forget_client,
            local,
        } => commands::logout(&options, &url, forget_client, local).await,
        Command::Proxy(args) => commands::proxy(&options, args).await,
        Command::Demo(args) => demo::run(&options, args).await,
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mcp-auth", &mut out);
            // Through stdout directly: the script may hold characters errln would escape.
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&out);
            Ok(())
        }
    }
}
