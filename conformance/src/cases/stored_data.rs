//! Stored data the store did not write itself: corrupted entries fail cleanly, one key
//! at a time, and documents written by py-key-value are read as Python meant them.

use std::time::{Duration, SystemTime};

use key_value_core::{ErrorKind, format_timestamp};
use serde_json::json;

use crate::fixture::Hostile;
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

/// How long a read may take before it counts as hanging (on a special file).
const HANG: Duration = Duration::from_secs(10);

/// Plants `hostile`, or makes the case not applicable when the store keeps no files.
async fn plant_hostile(cx: &Ctx, collection: &str, key: &str, hostile: Hostile) -> Outcome {
    if cx.raw()?.plant_hostile(collection, key, hostile).await? {
        Ok(())
    } else {
        Err(CaseError::NotApplicable(
            "the store keeps no files that could be replaced (RawAccess::plant_hostile)".into(),
        ))
    }
}

/// Runs `op`, failing the case if it does not finish within [`HANG`].
async fn in_time<T>(what: &str, op: impl std::future::Future<Output = T>) -> Result<T, CaseError> {
    tokio::time::timeout(HANG, op)
        .await
        .map_err(|_| CaseError::Failed(format!("{what} hung for {HANG:?}")))
}

/// `keys` (when offered) finishes, lists `good` and nothing `get` would not find.
async fn listing_is_vouched_for(cx: &Ctx, c: &str, what: &str) -> Outcome {
    if !cx.caps().list_keys {
        return Ok(());
    }
    let keys = in_time(
        &format!("keys() beside {what}"),
        cx.store().keys(Some(c), None),
    )
    .await??;
    ensure!(
        keys.iter().filter(|k| k.as_str() == "good").count() == 1,
        "keys() beside {what} must list `good` once: {keys:?}"
    );
    for key in &keys {
        let found = in_time("get of a listed key", cx.store().get(key, Some(c))).await?;
        ensure!(
            matches!(found, Ok(Some(_))),
            "keys() beside {what} listed `{key}`, which get() does not find: {found:?}"
        );
    }
    if cx.caps().list_collections {
        in_time(
            &format!("collections() beside {what}"),
            cx.store().collections(None),
        )
        .await??;
    }
    Ok(())
}

pub(crate) async fn wrong_typed_fields_are_an_error_for_that_key_alone(cx: &Ctx) -> Outcome {
    cx.raw()?;
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    let documents = [
        (r#"{"value": 5, "version": 1}"#, "a value that is a number"),
        (
            r#"{"value": ["a"], "version": 1}"#,
            "a value that is an array",
        ),
        (
            r#"{"value": {"a": 1}, "expires_at": true, "version": 1}"#,
            "an expiry that is a boolean",
        ),
        (
            r#"{"value": {"a": 1}, "created_at": 17, "version": 1}"#,
            "a creation time that is a number",
        ),
        (
            r#"{"value": {"a": 1}, "version": "one"}"#,
            "a version that is text",
        ),
        (r#"[1, 2, 3]"#, "a document that is an array"),
    ];
    for (document, what) in documents {
        plant(cx, &c, "bad", document.as_bytes()).await?;
        unreadable_but_contained(cx, &c, what).await?;
    }
    Ok(())
}

pub(crate) async fn special_file_in_place_of_an_entry_is_an_error_for_that_key_alone(
    cx: &Ctx,
) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    plant_hostile(cx, &c, "bad", Hostile::NamedPipe).await?;
    let read = in_time("get of a named pipe", cx.store().get("bad", Some(&c))).await?;
    ensure!(read.is_err(), "get of a named pipe must fail, got {read:?}");
    let many = in_time(
        "get_many over a named pipe",
        cx.store().get_many(&["good", "bad"], Some(&c)),
    )
    .await?;
    ensure!(
        many.is_err(),
        "get_many over a named pipe must fail, got {many:?}"
    );
    ensure_eq!(
        cx.store().get("good", Some(&c)).await?,
        Some(num(1)),
        "another key beside a named pipe"
    );
    listing_is_vouched_for(cx, &c, "a named pipe").await?;
    if cx.caps().cull {
        in_time("cull beside a named pipe", cx.store().cull()).await??;
    }
    Ok(())
}

pub(crate) async fn link_out_of_the_root_is_never_followed(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    let outside =
        format!(r#"{{"collection": "{c}", "key": "bad", "value": {{"n": 666}}, "version": 1}}"#);
    plant_hostile(cx, &c, "bad", Hostile::LinkOutOfRoot(outside.into_bytes())).await?;
    let read = in_time("get of a link", cx.store().get("bad", Some(&c))).await?;
    ensure!(
        !matches!(read, Ok(Some(_))),
        "get of a link out of the store's root read what it points to: {read:?}"
    );
    ensure_eq!(
        cx.store().get("good", Some(&c)).await?,
        Some(num(1)),
        "another key beside a link"
    );
    listing_is_vouched_for(cx, &c, "a link out of the root").await
}

pub(crate) async fn foreign_files_are_never_listed(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    cx.store().put("good", num(1), None, Some(&c)).await?;
    // A copy of another key's entry under a name of its own, and a stray document.
    let copy =
        format!(r#"{{"collection": "{c}", "key": "good", "value": {{"n": 2}}, "version": 1}}"#);
    plant_hostile(
        cx,
        &c,
        "copy-of-good",
        Hostile::ForeignFile(copy.into_bytes()),
    )
    .await?;
    let stray = r#"{"value": {"n": 3}, "version": 1}"#;
    plant_hostile(
        cx,
        &c,
        "stray",
        Hostile::ForeignFile(stray.as_bytes().to_vec()),
    )
    .await?;
    listing_is_vouched_for(cx, &c, "foreign files").await?;
    ensure_eq!(
        cx.store().get("good", Some(&c)).await?,
        Some(num(1)),
        "the key whose entry a foreign file copies"
    );
    Ok(())
}
