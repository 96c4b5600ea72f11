//! The floor under the Fernet wrapper, shared by `fernet_floor.rs` and
//! `floor_ratio.rs`: the primitives alone making the bytes py-key-value's envelope
//! holds, with no store, no JSON and no token layout. Sealing is a random IV,
//! AES-128-CBC over the PKCS#7-padded plaintext, HMAC-SHA256 over IV and ciphertext, then
//! URL-safe base64 and standard base64 over that (the envelope's two layers); opening
//! is the two base64 decodings, the HMAC check and the decryption. The libraries are
//! the ones the wrapper uses, so the ratio to this floor is the wrapper's own cost.

#![allow(dead_code)] // each bench uses part of it

use aes::Aes128;
use base64_simd::{STANDARD, URL_SAFE};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `throughput.rs`'s value of `size` bytes, as compact JSON: the plaintext the wrapper
/// seals for it.
pub fn plaintext(size: usize) -> Vec<u8> {
    let text = format!("{{\"blob\":\"{}\"}}", "x".repeat(size - 11));
    assert_eq!(text.len(), size);
    text.into_bytes()
}

/// Keys for the floor: 16 bytes for the HMAC, 16 for AES.
pub struct Keys {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            signing: [7; 16],
            encryption: [9; 16],
        }
    }

    /// The stored text of `plaintext`: base64(base64url(IV, ciphertext, tag)).
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut iv = [0u8; 16];
        getrandom::getrandom(&mut iv).unwrap();
        let padded = (plaintext.len() / 16 + 1) * 16;
        let mut bytes = Vec::with_capacity(16 + padded + 32);
        bytes.extend_from_slice(&iv);
        bytes.extend_from_slice(plaintext);
        bytes.resize(16 + padded, 0);
        cbc::Encryptor::<Aes128>::new(&self.encryption.into(), &iv.into())
            .encrypt_padded_mut::<Pkcs7>(&mut bytes[16..], plaintext.len())
            .unwrap();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.signing).unwrap();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        STANDARD.encode_to_string(URL_SAFE.encode_to_string(&bytes))
    }

    /// The buffer `stored` (from [`Keys::seal`]) was opened in: the plaintext is
    /// `[16..]` of it (not moved to the front: the wrapper does not move it either).
    pub fn open(&self, stored: &str) -> Vec<u8> {
        let mut bytes = stored.as_bytes().to_vec();
        let len = STANDARD.decode_inplace(&mut bytes).unwrap().len();
        bytes.truncate(len);
        let len = URL_SAFE.decode_inplace(&mut bytes).unwrap().len();
        bytes.truncate(len);
        let (body, tag) = bytes.split_at(len - 32);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.signing).unwrap();
        mac.update(body);
        mac.verify_slice(tag).unwrap();
        let iv: [u8; 16] = bytes[..16].try_into().unwrap();
        let plain = cbc::Decryptor::<Aes128>::new(&self.encryption.into(), &iv.into())
            .decrypt_padded_mut::<Pkcs7>(&mut bytes[16..len - 32])
            .unwrap()
            .len();
        bytes.truncate(16 + plain);
        bytes
    }
}
