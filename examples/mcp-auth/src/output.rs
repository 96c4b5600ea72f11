//! Printing that neither a closed pipe nor a hostile server can turn against the
//! terminal: `outln!` and `errln!` write a line to standard output or error, ignore a
//! reader that went away (`mcp-auth demo | head -1`), and escape control and
//! bidirectional-override characters, which a server's error text may carry.

use std::fmt::{self, Write as _};
#[cfg(test)]
use std::io;
use std::io::Write;

/// Writes one line to standard output; a closed pipe is not an error.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::line(&mut ::std::io::stdout(), format_args!($($arg)*)) };
}

/// Writes one line to standard error; a closed pipe is not an error.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::line(&mut ::std::io::stderr(), format_args!($($arg)*)) };
}

pub(crate) use {errln, outln};

/// Writes `args` and a newline, made safe for a terminal. Write errors are dropped: the
/// reader is gone (or the terminal closed), and there is no one left to tell.
pub(crate) fn line(to: &mut impl Write, args: fmt::Arguments<'_>) {
    let text = terminal_safe(&args.to_string());
    let _ = writeln!(to, "{text}");
    let _ = to.flush();
}

/// The escaping and cutting of server text live in oauth-core, once for the library's
/// messages and this program's output.
pub(crate) use oauth_core::text::{one_line, terminal_safe};

#[cfg(test)]
use std::io;
use std::io::Write;

/// Writes one line to standard output; a closed pipe is not an error.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::line(&mut ::std::io::stdout(), format_args!($($arg)*)) };
}

/// Writes one line to standard error; a closed pipe is not an error.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::line(&mut ::std::io::stderr(), format_args!($($arg)*)) };
}

pub(crate) use {errln, outln};

/// Writes `args` and a newline, made safe for a terminal. Write errors are dropped: the
/// reader is gone (or the terminal closed), and there is no one left to tell.
pub(crate) fn line(to: &mut impl Write, args: fmt::Arguments<'_>) {
    let text = terminal_safe(&args.to_string());
    let _ = writeln!(to, "{text}");
    let _ = to.flush();
}

/// Whether a character must not reach a terminal as it is: C0 and C1 controls (ESC starts
/// colour and cursor sequences, BEL rings, BS rewrites the line) and the Unicode
/// bidirectional controls that reorder what is shown. Newlines and tabs are kept.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as a Rust escape (`\u{1b}`).
pub(crate) fn terminal_safe(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` on one line and at most `max` characters, cut with `…`.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        let hostile = "bad\u{1b}[31mred\u{7}\u{8}\u{0}\u{202e}txt\u{9b}";
        let safe = terminal_safe(hostile);
        assert_eq!(
            safe,
            "bad\\u{1b}[31mred\\u{7}\\u{8}\\u{0}\\u{202e}txt\\u{9b}"
        );
        assert_eq!(terminal_safe("plain\ttext\nnext"), "plain\ttext\nnext");
    }

    #[test]
    fn long_text_is_cut_on_one_line() {
        let long = "x".repeat(9000) + "\nend";
        let cut = one_line(&long, 500);
        assert_eq!(cut.chars().count(), 500);
        assert!(cut.ends_with('…') && !cut.contains('\n'));
    }

    #[test]
    fn a_closed_reader_is_not_an_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
        }
        line(&mut Closed, format_args!("nobody reads this"));
    }
}
