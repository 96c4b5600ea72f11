//! Stored data the store did not write itself: corrupted entries fail cleanly, one key
//! at a time, and documents written by py-key-value are read as Python meant them.

use std::time::{Duration, SystemTime};

use key_value_core::{ErrorKind, format_timestamp};
use serde_json::json;

use crate::harness::{CaseError, Ctx, Outcome, expect_error, num, object};
use crate::harness::{ensure, ensure_eq, fail};

async fn plant(cx: &Ctx, collection: &str, key: &str, document: &[u8]) -> Outcome {
    cx.raw()?
        .write_raw(collection, key, document)
        .await
        .map_err(CaseError::from)
}

fn timestamp(at: SystemTime) -> Result<String, CaseError> {
    Ok(format_timestamp(at)?)
}

/// Checks that reading `bad` fails as `Deserialization`, names the key, and spares `good`.
async fn unreadable_but_contained(cx: &Ctx, c: &str, what: &str) -> Outcome {
    let err = expect_error(
        cx.store().get("bad", Some(c)).await,
        ErrorKind::Deserialization,
        &format!("get of {what}"),
    )?;
    ensure_eq!(
        err.key(),
        Some("bad"),
        "the error must name the key ({err})"
    );
    ensure_eq!(
        err.collection(),
        Some(c),
        "the error must name the collection ({err})"
    );
    expect_error(
        cx.store().ttl("bad", Some(c)).await,
        ErrorKind::Deserialization,
        &format!("ttl of {what}"),
    )?;
    ensure_eq!(
        cx.store().get("good", Some(c)).await?,
        Some(num(1)),
        "another key beside {what}"
    );
    Ok(())
}

pub(crate) async fn corrupted_entry_is_a_clear_error(cx: &Ctx) -> Outcome {
    cx.raw()?;
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    plant(cx, &c, "bad", b"\x00\xffnot json at all").await?;
    unreadable_but_contained(cx, &c, "a garbage entry").await
}

pub(crate) async fn truncated_entry_is_a_clear_error(cx: &Ctx) -> Outcome {
    cx.raw()?;
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    let whole = format!(
        r#"{{"collection": "{c}", "key": "bad", "value": {{"a": [1, 2, 3]}}, "version": 1}}"#
    );
    plant(cx, &c, "bad", &whole.as_bytes()[..whole.len() / 2]).await?;
    unreadable_but_contained(cx, &c, "a truncated entry").await
}

pub(crate) async fn corrupted_entry_does_not_break_listing(cx: &Ctx) -> Outcome {
    cx.raw()?;
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    plant(cx, &c, "bad", b"{{{{").await?;
    let keys = cx.store().keys(Some(&c), None).await?;
    ensure!(
        keys.contains(&"good".to_owned()),
        "keys() beside a corrupted entry: {keys:?}"
    );
    if cx.caps().list_collections {
        ensure!(
            cx.store().collections(None).await?.contains(&c),
            "collections() beside a corrupted entry"
        );
    }
    Ok(())
}

pub(crate) async fn corrupted_entry_can_be_replaced(cx: &Ctx) -> Outcome {
    cx.raw()?;
    let c = cx.collection("c");
    plant(cx, &c, "bad", b"garbage").await?;
    cx.store().put("bad", num(2), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get("bad", Some(&c)).await?,
        Some(num(2)),
        "a corrupted entry overwritten by put"
    );
    plant(cx, &c, "bad", b"garbage").await?;
    cx.store().delete("bad", Some(&c)).await?;
    ensure_eq!(
        cx.store().get("bad", Some(&c)).await?,
        None,
        "a corrupted entry removed by delete"
    );
    Ok(())
}

pub(crate) async fn newer_version_is_refused(cx: &Ctx) -> Outcome {
    cx.raw()?;
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    let document =
        json!({"collection": c, "key": "bad", "value": {"a": 1}, "version": 2}).to_string();
    plant(cx, &c, "bad", document.as_bytes()).await?;
    let err = expect_error(
        cx.store().get("bad", Some(&c)).await,
        ErrorKind::Deserialization,
        "get of a version 2 entry",
    )?;
    ensure!(
        err.to_string().contains("version"),
        "the error must say the version is the problem: {err}"
    );
    Ok(())
}

pub(crate) async fn python_documents_are_read(cx: &Ctx) -> Outcome {
    cx.raw()?;
    let c = cx.collection("c");
    let now = SystemTime::now();
    let created = timestamp(now)?;
    let in_an_hour = timestamp(now + Duration::from_secs(3600))?;
    let an_hour_ago = timestamp(now - Duration::from_secs(3600))?;
    // As py-key-value 0.5 writes them: sorted keys, ", " and ": " separators.
    let documents = [
        ("plain", format!(r#"{{"collection": "{c}", "created_at": "{created}", "key": "plain", "value": {{"a": 1, "b": [1, 2]}}, "version": 1}}"#)),
        ("string_value", format!(r#"{{"created_at": "{created}", "value": "{{\"a\": 2}}", "version": 1}}"#)),
        ("expiring", format!(r#"{{"created_at": "{created}", "expires_at": "{in_an_hour}", "value": {{"a": 3}}}}"#)),
        ("expired", format!(r#"{{"created_at": "{an_hour_ago}", "expires_at": "{an_hour_ago}", "value": {{"a": 4}}}}"#)),
        ("no_fraction", r#"{"created_at": "2026-11-28T03:33:18+00:00", "expires_at": "9999-12-31T23:59:59+00:00", "value": {"a": 5}}"#.to_owned()),
        ("bare", r#"{"value":{"a":6}}"#.to_owned()),
    ];
    for (key, document) in &documents {
        plant(cx, &c, key, document.as_bytes()).await?;
    }
    let store = cx.store();
    ensure_eq!(
        store.get("plain", Some(&c)).await?,
        Some(object(json!({"a": 1, "b": [1, 2]}))),
        "a plain document"
    );
    ensure_eq!(
        store.get("string_value", Some(&c)).await?,
        Some(object(json!({"a": 2}))),
        "a document in the string value form"
    );
    match store.ttl("expiring", Some(&c)).await? {
        Some((value, Some(left))) => {
            ensure_eq!(value, object(json!({"a": 3})), "an expiring document");
            ensure!(
                left <= Duration::from_secs(3600) && left > Duration::from_secs(3500),
                "remaining ttl {left:?} of a document expiring in an hour"
            );
        }
        other => fail!("an expiring document: got {other:?}"),
    }
    ensure_eq!(
        store.get("expired", Some(&c)).await?,
        None,
        "a document whose expires_at has passed"
    );
    ensure_eq!(
        store.get("no_fraction", Some(&c)).await?,
        Some(object(json!({"a": 5}))),
        "timestamps without a fraction"
    );
    ensure_eq!(
        store.get("bare", Some(&c)).await?,
        Some(object(json!({"a": 6}))),
        "a document with only a value"
    );
    Ok(())
}
