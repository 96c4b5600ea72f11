//! `mcp-auth`: log in to OAuth-protected MCP servers from the command line and keep the
//! tokens in any store of the family, encrypted by default.
//!
//! The binary (`src/bin/mcp-auth.rs`) only calls [`main`]; everything is here so that
//! the commands share one error type and one way of opening the store.
//!
//! ```no_run
//! // src/bin/mcp-auth.rs
//! fn main() -> std::process::ExitCode {
//!     examples::mcp_auth::main()
//! }
//! ```

mod commands;
mod demo;
mod progress;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit codes (also in `--help` and the README).
pub mod exit {
    /// It worked.
    pub const OK: u8 = 0;
    /// It failed: network, server, store or key trouble (the message says which).
    pub const FAILURE: u8 = 1;
    /// The command line is wrong: unknown option, bad `--store`, bad URL.
    pub const USAGE: u8 = 2;
    /// There is no usable token for the server: run `mcp-auth login URL`.
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

Tokens are encrypted with Fernet unless --no-encryption is given. The key comes from
$MCP_AUTH_KEY, else from --key-file, else from a key file made on first use (owner-only):
next to a sqlite: or disk: store (PATH.key), in your data directory for the others
(mcp-auth/server-store.key). Keep it: without it the stored tokens cannot be read.

Environment:
  MCP_AUTH_STORE          the store, as --store
  MCP_AUTH_KEY            the Fernet key (wins over any key file)
  MCP_AUTH_CLIENT_ID      a client ID the server issued you, as --client-id
  MCP_AUTH_CLIENT_SECRET  its secret, for servers that give confidential clients one

Exit codes:
  0  success
  1  failure (server unreachable, login refused or timed out, store or key problem)
  2  usage error (unknown option, bad --store, bad server URL)
  3  no usable token for the server: log in with `mcp-auth login URL`

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
    /// Where tokens are kept: sqlite:PATH, disk:DIR, memory:, redis://… or
    /// dynamodb://TABLE [default: encrypted SQLite file in your data directory]
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
    },
    /// Show the servers with stored tokens and when their tokens expire
    #[command(after_help = SUBCOMMAND_EXIT_CODES)]
    Status {
        /// Show only this server (works with stores that cannot list their keys)
        url: Option<String>,
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
    /// Start the demo server on this machine, log in to it without a browser, store
    /// the tokens and call a tool; run it twice to see the stored token reused
    Demo(DemoArgs),
}

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

#[derive(Debug, Args)]
struct DemoArgs {
    /// The demo server's port [default: the one of the last run, else 8391, else any free one]
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Lifetime of the access tokens the demo server issues, in seconds (short ones show
    /// refreshing; the client renews tokens 30 s before they expire)
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
            eprintln!("mcp-auth: cannot start: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            let message = failure.message.replace(['\n', '\r'], " ");
            eprintln!("mcp-auth: {message}");
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    let options = store::Options {
        spec: cli.store.clone(),
        encrypt: !cli.no_encryption,
        key_file: cli.key_file.clone(),
        client_id: cli.client_id.clone(),
    };
    match cli.command {
        Command::Login(args) => commands::login(&options, args).await,
        Command::Token { url } => commands::token(&options, &url).await,
        Command::Status { url } => commands::status(&options, url.as_deref()).await,
        Command::Logout {
            url,
            forget_client,
            local,
        } => commands::logout(&options, &url, forget_client, local).await,
        Command::Demo(args) => demo::run(&options, args).await,
    }
}
