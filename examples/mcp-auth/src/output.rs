//! Printing that neither a closed pipe nor a hostile server can turn against the
//! terminal: `outln!` and `errln!` write a line to standard output or error, ignore a
//! reader that went away (`mcp-auth demo | head -1`), and escape control and
//! bidirectional-override characters, which a server's error text may carry.

use std::fmt;
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
mod tests {
    use super::*;

    #[test]
    fn printed_lines_are_escaped() {
        let mut out = Vec::new();
        line(&mut out, format_args!("bad\u{1b}[31mred\u{7}\u{202e}"));
        assert_eq!(out, b"bad\\u{1b}[31mred\\u{7}\\u{202e}\n");
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
