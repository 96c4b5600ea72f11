//! Server text made safe to show: an authorization server's `error_description`, a
//! metadata document's `issuer`, a URL it names — anything a server chose — may carry
//! terminal control sequences (ESC starts colour and cursor commands, BEL rings, BS
//! rewrites what was shown) or Unicode bidirectional controls that reorder it, and may be
//! kilobytes long. Every [`Error`](crate::Error) message passes such text through
//! [`shown`]; programs that print server text of their own can use the same functions.

use std::fmt::Write as _;

/// The most characters of one piece of server text in a message ([`shown`]).
pub const MAX_SHOWN_CHARS: usize = 300;

/// Whether a character must not reach a terminal as it is: the C0 and C1 controls
/// (Unicode category Cc) other than newline and tab, and the Unicode bidirectional
/// controls (LRM, RLM, ALM, the embeddings and overrides U+202A–U+202E, the isolates
/// U+2066–U+2069).
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [unsafe](is_unsafe) character written as a Rust escape, `\u{1b}`
/// for ESC; everything else, newlines and tabs included, is kept. Never fails; the
/// result is at most ten times longer than `text` (in bytes).
///
/// ```
/// assert_eq!(oauth_core::text::terminal_safe("a\u{1b}[31mb"), "a\\u{1b}[31mb");
/// ```
pub fn terminal_safe(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` on one line (CR and LF become spaces) and at most `max` characters (Unicode
/// scalar values), cut with `…` as its last character when longer.
///
/// ```
/// assert_eq!(oauth_core::text::one_line("a\nbcdef", 4), "a b…");
/// ```
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c });
    if text.chars().count() <= max {
        return flat.collect();
    }
    let mut cut: String = flat.take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One piece of server text as an error message shows it: [terminal
/// safe](terminal_safe), then on one line and cut to [`MAX_SHOWN_CHARS`] characters (an
/// escape cut short stays harmless text).
pub fn shown(text: &str) -> String {
    one_line(&terminal_safe(text), MAX_SHOWN_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        let hostile = "bad\u{1b}[31mred\u{7}\u{8}\u{0}\u{202e}txt\u{9b}\u{2066}";
        assert_eq!(
            terminal_safe(hostile),
            "bad\\u{1b}[31mred\\u{7}\\u{8}\\u{0}\\u{202e}txt\\u{9b}\\u{2066}"
        );
        assert_eq!(terminal_safe("plain\ttext\nnext é"), "plain\ttext\nnext é");
    }

    #[test]
    fn long_text_is_cut_on_one_line() {
        let long = "x".repeat(9000) + "\r\nend";
        let cut = one_line(&long, 500);
        assert_eq!(cut.chars().count(), 500);
        assert!(cut.ends_with('…') && !cut.contains('\n'));
        assert_eq!(one_line("ab\ncd", 5), "ab cd");
        assert_eq!(one_line("", 0), "");
    }

    #[test]
    fn shown_is_short_single_line_and_safe() {
        let hostile = format!("{}\u{1b}]0;title\u{7}\n", "é".repeat(8000));
        let out = shown(&hostile);
        assert_eq!(out.chars().count(), MAX_SHOWN_CHARS);
        assert!(!out.chars().any(|c| c.is_control()));
        let tail = shown(&format!("a\u{1b}b\u{8}\u{0}{}", "y".repeat(10)));
        assert_eq!(tail, "a\\u{1b}b\\u{8}\\u{0}yyyyyyyyyy");
        let all_escapes = shown(&"\u{7}".repeat(5000));
        assert_eq!(all_escapes.chars().count(), MAX_SHOWN_CHARS);
    }
}
