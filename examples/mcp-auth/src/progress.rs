//! What the person sees on stderr while a login waits for the browser.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth_core::BrowserMode;
use tokio::task::JoinHandle;
use url::Url;

use super::store::human;
use crate::output::errln;

/// Whether a browser can be opened here (a display on Linux and other Unixes).
fn has_display() -> bool {
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

/// Counts down on stderr from the moment the browser is sent to the login page.
pub(crate) struct Countdown {
    started: Arc<Mutex<Option<Instant>>>,
    task: Option<JoinHandle<()>>,
    terminal: bool,
}

impl Countdown {
    /// Stops the countdown and clears its line.
    pub(crate) fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let started = self.started.lock().map(|s| s.is_some()).unwrap_or(false);
            if self.terminal && started {
                eprint!("\r\x1b[K");
                let _ = std::io::stderr().flush();
            }
        }
    }
}

impl Drop for Countdown {
    fn drop(&mut self) {
        self.finish();
    }
}

/// How the login sends the person to the browser, and the countdown that goes with it.
pub(crate) fn browser_handoff(no_browser: bool, timeout: Duration) -> (BrowserMode, Countdown) {
    let started: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let terminal = std::io::stderr().is_terminal();
    let open_browser = !no_browser && has_display();
    let mark = started.clone();
    let mode = BrowserMode::Custom(Arc::new(move |url: &Url| {
        let redirect = url
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "this machine".into());
        let host = url.host_str().unwrap_or("the server").to_string();
        if open_browser && webbrowser::open(url.as_str()).is_ok() {
            errln!("Opened your browser at the login page of {host}. If it did not open, visit:");
            errln!("  {url}");
        } else {
            errln!("Open this URL in a browser to log in:");
            errln!("  {url}");
            if let Some(port) = Url::parse(&redirect).ok().and_then(|u| u.port()) {
                errln!(
                    "(On another machine? Forward the callback port first: ssh -L {port}:localhost:{port} THIS-HOST)"
                );
            }
        }
        errln!(
            "Waiting for the browser to come back to {redirect} (gives up in {}; Ctrl-C to stop)",
            human(timeout.as_secs())
        );
        if let Ok(mut s) = mark.lock() {
            *s = Some(Instant::now());
        }
        Ok(())
    }));
    let tick = started.clone();
    let task = terminal.then(|| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let since = tick.lock().ok().and_then(|s| *s);
                if let Some(since) = since {
                    let left = timeout.saturating_sub(since.elapsed()).as_secs();
                    eprint!("\r\x1b[K  waiting… {}:{:02} left", left / 60, left % 60);
                    let _ = std::io::stderr().flush();
                }
            }
        })
    });
    (
        mode,
        Countdown {
            started,
            task,
            terminal,
        },
    )
}
