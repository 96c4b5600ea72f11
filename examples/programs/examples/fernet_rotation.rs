//! Encryption at rest with the Fernet wrapper, and rotating its key: new values are
//! sealed with the newest key, old ones still open, and re-encryption moves them over.
//!
//! Run with `cargo run -p examples --example fernet_rotation`.

use std::sync::Arc;

use key_value::fernet::{FernetKey, FernetWrapper, Keyring};
use key_value::memory::MemoryStore;
use key_value::prelude::*;

fn secret(text: &str) -> JsonObject {
    let mut map = JsonObject::new();
    map.insert("api_key".into(), text.into());
    map
}

#[tokio::main]
async fn main() -> key_value::Result<()> {
    // Keep key text somewhere safe: a secret manager, an environment variable, a
    // file only you can read.
    let old_text = FernetKey::generate()?.to_base64();
    let new_text = FernetKey::generate()?.to_base64();
    let inner = Arc::new(MemoryStore::new());

    let store = FernetWrapper::new(inner.clone(), FernetKey::from_base64(&old_text)?);
    store
        .put("billing", secret("sk-old"), None, Some("keys"))
        .await?;
    let sealed = inner
        .get("billing", Some("keys"))
        .await?
        .unwrap_or_default();
    println!(
        "1. the inner store holds only an envelope: fields {:?}",
        sealed.keys().collect::<Vec<_>>()
    );

    // Rotation: the new key first, the old one kept to open what it sealed.
    let keyring = Keyring::new([
        FernetKey::from_base64(&new_text)?,
        FernetKey::from_base64(&old_text)?,
    ])?;
    let rotated = FernetWrapper::new(inner.clone(), keyring);
    println!(
        "2. with the keyring [new, old], the old value still opens: {:?}",
        rotated.get("billing", Some("keys")).await?
    );
    let rewritten = rotated.reencrypt_all().await?;
    println!("3. re-encrypted {rewritten} entry with the new key");

    // Now the old key can go: a wrapper with only the new key opens everything...
    let new_only = FernetWrapper::new(inner.clone(), FernetKey::from_base64(&new_text)?);
    println!(
        "4. with only the new key: {:?}",
        new_only.get("billing", Some("keys")).await?
    );
    // ...and one with only the old key no longer can.
    let old_only = FernetWrapper::new(inner, FernetKey::from_base64(&old_text)?);
    match old_only.get("billing", Some("keys")).await {
        Err(e) => println!(
            "5. with only the old key: {:?} error, as it should be",
            e.kind()
        ),
        Ok(v) => println!("5. unexpectedly opened with the old key: {v:?}"),
    }
    Ok(())
}
