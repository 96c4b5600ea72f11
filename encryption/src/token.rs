//! The Fernet token, as the Fernet specification defines it
//! (<https://github.com/fernet/spec/blob/master/Spec.md>) and Python's `cryptography`
//! reads it, built on RustCrypto's AES, CBC and HMAC and on SIMD base64.
//!
//! A token's bytes are `0x80`, the seconds since the epoch (8 bytes, big-endian), a
//! random IV (16 bytes), the AES-128-CBC ciphertext of the PKCS#7-padded plaintext,
//! and an HMAC-SHA256 (32 bytes) of everything before it; its text is those bytes in
//! URL-safe base64 with padding. A 32-byte key is the HMAC's signing key followed by
//! the encryption key.
//!
//! Why not the `fernet` crate, which this crate used until it measured the cost: a
//! 64 KiB value's token was encoded and decoded with scalar base64, and copied three
//! times on the way; here it is encoded with SIMD, encrypted and decrypted in the
//! buffer that holds it, and the plaintext never leaves a buffer that is zeroed when
//! dropped. The `fernet` crate stays as a dev-dependency, an independent implementation
//! that the tests check this one against.

use std::ops::Range;

use aes::Aes128;
use base64_simd::{URL_SAFE, URL_SAFE_NO_PAD};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The only token version the specification defines.
const VERSION: u8 = 0x80;
/// Version, timestamp, IV.
const HEADER_BYTES: usize = 1 + 8 + 16;
/// The HMAC-SHA256 tag.
const TAG_BYTES: usize = 32;
/// AES's block.
const BLOCK_BYTES: usize = 16;
/// How far in the future a token's timestamp may be when a lifetime is checked
/// (`cryptography`'s `_MAX_CLOCK_SKEW`).
const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// A Fernet key's bytes: signing key, then encryption key.
pub(crate) type KeyBytes = [u8; 32];

/// The token bytes (not yet base64) of `plaintext`, made at `timestamp` (seconds since
/// the epoch) with `iv`. `None` if the cipher refused the buffer (it is sized for the
/// padding, so this does not happen; if it did, the plaintext's copy would be zeroed,
/// not authenticated as a token).
pub(crate) fn seal(
    key: &KeyBytes,
    plaintext: &[u8],
    timestamp: u64,
    iv: [u8; 16],
) -> Option<Vec<u8>> {
    let padded = (plaintext.len() / BLOCK_BYTES + 1) * BLOCK_BYTES;
    let mut token = Vec::with_capacity(HEADER_BYTES + padded + TAG_BYTES);
    token.push(VERSION);
    token.extend_from_slice(&timestamp.to_be_bytes());
    token.extend_from_slice(&iv);
    token.extend_from_slice(plaintext);
    token.resize(HEADER_BYTES + padded, 0);
    // Encrypted in place: the plaintext's copy is overwritten by its ciphertext.
    let encrypted = cbc::Encryptor::<Aes128>::new(key[16..].into(), &iv.into())
        .encrypt_padded_mut::<Pkcs7>(&mut token[HEADER_BYTES..], plaintext.len())
        .map(|ciphertext| ciphertext.len());
    if encrypted.ok() != Some(padded) {
        token.zeroize();
        return None;
    }
    let tag = mac(key, &token).finalize().into_bytes();
    token.extend_from_slice(&tag);
    Some(token)
}

/// The token's text: its bytes in URL-safe base64 with padding, as Python writes it.
pub(crate) fn to_text(token: &[u8]) -> String {
    URL_SAFE.encode_to_string(token)
}

/// Decodes a token's text (URL-safe base64, padded or not) in place: the buffer then
/// holds the token's bytes. `None` when it is not canonical base64. Python's
/// `urlsafe_b64decode` is laxer (it skips characters outside the alphabet, such as
/// newlines), but `cryptography` writes canonical padded text, and so do we.
pub(crate) fn decode_text(mut text: Vec<u8>) -> Option<Vec<u8>> {
    let engine = if text.len().is_multiple_of(4) {
        URL_SAFE
    } else {
        URL_SAFE_NO_PAD
    };
    let decoded = engine.decode_inplace(&mut text).ok()?.len();
    text.truncate(decoded);
    Some(text)
}

/// What a token's bytes are checked against besides their key.
#[derive(Clone, Copy)]
pub(crate) enum Age {
    /// No lifetime: any timestamp is accepted, as `cryptography` does when
    /// `Fernet.decrypt` is given no `ttl` (py-key-value gives none).
    Any,
    /// At most `ttl_secs` old and at most a minute in the future, at `now` (seconds
    /// since the epoch): the specification's verification with a lifetime. Only the
    /// test vectors use it: the wrapper, like py-key-value, sets no lifetime.
    #[cfg_attr(not(test), allow(dead_code))]
    Within { ttl_secs: u64, now: u64 },
}

/// Whether `key` authenticates `token` (its bytes), whose age is acceptable.
pub(crate) fn authenticates(key: &KeyBytes, token: &[u8], age: Age) -> bool {
    let Some(body_len) = token.len().checked_sub(TAG_BYTES) else {
        return false;
    };
    let ciphertext_len = body_len.saturating_sub(HEADER_BYTES);
    if token.first() != Some(&VERSION)
        || body_len < HEADER_BYTES + BLOCK_BYTES
        || !ciphertext_len.is_multiple_of(BLOCK_BYTES)
    {
        return false;
    }
    if let Age::Within { ttl_secs, now } = age {
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&token[1..9]);
        let timestamp = u64::from_be_bytes(stamp);
        if timestamp.saturating_add(ttl_secs) < now
            || now.saturating_add(MAX_CLOCK_SKEW_SECS) < timestamp
        {
            return false;
        }
    }
    let (body, tag) = token.split_at(body_len);
    // Compared in constant time.
    mac(key, body).verify_slice(tag).is_ok()
}

/// Decrypts an authenticated token (see [`authenticates`]) in place; the plaintext is
/// then `token[range]`. `None` when its padding is wrong.
pub(crate) fn decrypt_in_place(key: &KeyBytes, token: &mut [u8]) -> Option<Range<usize>> {
    let body_len = token.len().checked_sub(TAG_BYTES)?;
    let iv: [u8; 16] = token.get(9..HEADER_BYTES)?.try_into().ok()?;
    let ciphertext = token.get_mut(HEADER_BYTES..body_len)?;
    let plaintext_len = cbc::Decryptor::<Aes128>::new(key[16..].into(), &iv.into())
        .decrypt_padded_mut::<Pkcs7>(ciphertext)
        .ok()?
        .len();
    Some(HEADER_BYTES..HEADER_BYTES + plaintext_len)
}

/// HMAC-SHA256 keyed with the key's signing half, over `body`.
///
/// The `hmac` crate does not zero its state (the hashed inner and outer pads, which
/// sign as well as the key does) when it is dropped; only the padded key block made
/// here is zeroed.
fn mac(key: &KeyBytes, body: &[u8]) -> Hmac<Sha256> {
    // RFC 2104: a key shorter than the hash's 64-byte block is padded with zeros, so
    // this is the same key, and making the MAC from a whole block cannot fail.
    let mut block = Zeroizing::new([0u8; 64]);
    block[..16].copy_from_slice(&key[..16]);
    let mut mac = <Hmac<Sha256> as KeyInit>::new((&*block).into());
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE as REFERENCE;

    use super::*;

    const KEY_TEXT: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

    fn key() -> KeyBytes {
        REFERENCE.decode(KEY_TEXT).unwrap().try_into().unwrap()
    }

    fn open(key: &KeyBytes, text: &str, age: Age) -> Option<Vec<u8>> {
        let mut token = decode_text(text.as_bytes().to_vec())?;
        if !authenticates(key, &token, age) {
            return None;
        }
        let range = decrypt_in_place(key, &mut token)?;
        Some(token[range].to_vec())
    }

    /// The `fernet` crate, an independent implementation, opens what this one seals
    /// and seals what this one opens, at every length around the block boundaries.
    #[test]
    fn agrees_with_the_fernet_crate() {
        let theirs = fernet::Fernet::new(KEY_TEXT).unwrap();
        for n in (0..70).chain([1023, 1024, 1025, 65_536]) {
            let plaintext: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            let ours = to_text(&seal(&key(), &plaintext, 1_700_000_000, [n as u8; 16]).unwrap());
            assert_eq!(theirs.decrypt(&ours).unwrap(), plaintext, "{n} bytes");
            let made = theirs.encrypt(&plaintext);
            assert_eq!(
                open(&key(), &made, Age::Any).unwrap(),
                plaintext,
                "{n} bytes"
            );
            // Padded or not, the same token.
            assert_eq!(
                open(&key(), made.trim_end_matches('='), Age::Any).unwrap(),
                plaintext
            );
        }
    }

    /// Every single-bit change anywhere in a token is refused.
    #[test]
    fn any_flipped_bit_is_refused() {
        let token = seal(&key(), b"{\"a\":1}", 1_700_000_000, [3; 16]).unwrap();
        for byte in 0..token.len() {
            for bit in 0..8 {
                let mut changed = token.clone();
                changed[byte] ^= 1 << bit;
                assert!(
                    !authenticates(&key(), &changed, Age::Any),
                    "byte {byte} bit {bit}"
                );
            }
        }
        assert!(authenticates(&key(), &token, Age::Any));
    }

    /// Without a lifetime any timestamp opens, the future included (Python's
    /// `cryptography` without `ttl`); with one, the specification's limits hold.
    #[test]
    fn age_is_checked_only_with_a_lifetime() {
        let now = 1_700_000_000;
        for stamp in [0, now - 1000, now, now + 61, u64::MAX] {
            let token = seal(&key(), b"x", stamp, [0; 16]).unwrap();
            assert!(authenticates(&key(), &token, Age::Any), "stamp {stamp}");
        }
        let within = |stamp: u64, ttl_secs: u64| {
            let token = seal(&key(), b"x", stamp, [0; 16]).unwrap();
            authenticates(&key(), &token, Age::Within { ttl_secs, now })
        };
        assert!(within(now - 100, 100));
        assert!(!within(now - 101, 100));
        assert!(within(now + 60, 0));
        assert!(!within(now + 61, 0));
        assert!(within(0, u64::MAX), "no overflow");
    }

    /// Truncated, empty and misaligned tokens are refused, never a panic.
    #[test]
    fn malformed_tokens_are_refused() {
        let token = seal(&key(), b"0123456789abcdef", 1, [9; 16]).unwrap();
        for len in 0..token.len() {
            let mut cut = token[..len].to_vec();
            assert!(!authenticates(&key(), &cut, Age::Any), "{len} bytes");
            // Even unauthenticated, decryption must not panic.
            let _ = decrypt_in_place(&key(), &mut cut);
        }
        for text in ["", "=", "====", "!!!!", "gAAAAA", "gA=A"] {
            assert!(open(&key(), text, Age::Any).is_none(), "{text:?}");
        }
    }
}
