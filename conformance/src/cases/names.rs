//! Key and collection names: the limits, the refusals, and the nasty corpus.

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, MAX_NAME_BYTES};

use crate::corpus::{lookalike_pairs, special_names};
use crate::harness::{CaseError, Ctx, Outcome, expect_error, num};
use crate::harness::{ensure, ensure_eq};

/// Every single-key operation with `key` in `collection` must fail with `InvalidKey`.
async fn refused_everywhere(
    store: &dyn AsyncKeyValue,
    key: &str,
    collection: Option<&str>,
    what: &str,
) -> Outcome {
    let kind = ErrorKind::InvalidKey;
    expect_error(
        store.get(key, collection).await,
        kind,
        &format!("get with {what}"),
    )?;
    expect_error(
        store.ttl(key, collection).await,
        kind,
        &format!("ttl with {what}"),
    )?;
    expect_error(
        store.put(key, num(1), None, collection).await,
        kind,
        &format!("put with {what}"),
    )?;
    expect_error(
        store.delete(key, collection).await,
        kind,
        &format!("delete with {what}"),
    )?;
    expect_error(
        store.get_many(&[key], collection).await,
        kind,
        &format!("get_many with {what}"),
    )?;
    expect_error(
        store.delete_many(&[key], collection).await,
        kind,
        &format!("delete_many with {what}"),
    )?;
    Ok(())
}

pub(crate) async fn empty_key_is_invalid(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    refused_everywhere(cx.store(), "", Some(&c), "an empty key").await
}

pub(crate) async fn empty_collection_is_invalid(cx: &Ctx) -> Outcome {
    refused_everywhere(cx.store(), "k", Some(""), "an empty collection").await?;
    if cx.caps().list_keys {
        expect_error(
            cx.store().keys(Some(""), None).await,
            ErrorKind::InvalidKey,
            "keys of an empty collection name",
        )?;
    }
    Ok(())
}

pub(crate) async fn oversized_key_is_invalid(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let key = "k".repeat(MAX_NAME_BYTES + 1);
    refused_everywhere(cx.store(), &key, Some(&c), "a 4097-byte key").await
}

pub(crate) async fn oversized_collection_is_invalid(cx: &Ctx) -> Outcome {
    let collection = "c".repeat(MAX_NAME_BYTES + 1);
    refused_everywhere(cx.store(), "k", Some(&collection), "a 4097-byte collection").await
}

pub(crate) async fn nul_in_names_is_invalid(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    refused_everywhere(cx.store(), "a\0b", Some(&c), "a key holding NUL").await?;
    refused_everywhere(cx.store(), "k", Some("a\0b"), "a collection holding NUL").await
}

/// The longest names, ASCII and multi-byte, each a distinct entry; pairs differ only
/// in their last bytes, so a store that shortens names merges them.
fn longest_names() -> Vec<String> {
    let max = MAX_NAME_BYTES;
    vec![
        "a".repeat(max),
        format!("{}b", "a".repeat(max - 1)),
        "é".repeat(max / 2),
        format!("{}ab", "é".repeat(max / 2 - 1)),
        "🦀".repeat(max / 4),
        format!("{}abcd", "🦀".repeat(max / 4 - 1)),
    ]
}

pub(crate) async fn longest_key_works(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let names = longest_names();
    for (i, key) in names.iter().enumerate() {
        cx.store().put(key, num(i as i64), None, Some(&c)).await?;
    }
    for (i, key) in names.iter().enumerate() {
        ensure_eq!(
            cx.store().get(key, Some(&c)).await?,
            Some(num(i as i64)),
            "longest key #{i}"
        );
    }
    Ok(())
}

pub(crate) async fn longest_collection_works(cx: &Ctx) -> Outcome {
    let key = cx.key("k");
    let names = longest_names();
    for (i, collection) in names.iter().enumerate() {
        let collection = cx.borrow_collection(collection);
        cx.store()
            .put(&key, num(i as i64), None, Some(&collection))
            .await?;
    }
    for (i, collection) in names.iter().enumerate() {
        ensure_eq!(
            cx.store().get(&key, Some(collection)).await?,
            Some(num(i as i64)),
            "longest collection #{i}"
        );
    }
    Ok(())
}

/// A value that says which name it was stored under.
fn named(name: &str) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("name".into(), name.into());
    value
}

pub(crate) async fn special_keys_round_trip(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let names = special_names();
    for key in &names {
        cx.store().put(key, named(key), None, Some(&c)).await?;
    }
    for key in &names {
        ensure_eq!(
            cx.store().get(key, Some(&c)).await?,
            Some(named(key)),
            "key {key:?}"
        );
    }
    for key in &names {
        ensure!(
            cx.store().delete(key, Some(&c)).await?,
            "delete of key {key:?}"
        );
    }
    Ok(())
}

pub(crate) async fn special_collections_round_trip(cx: &Ctx) -> Outcome {
    let key = cx.key("k");
    let names = special_names();
    for collection in &names {
        let collection = cx.borrow_collection(collection);
        cx.store()
            .put(&key, named(&collection), None, Some(&collection))
            .await?;
    }
    for collection in &names {
        ensure_eq!(
            cx.store().get(&key, Some(collection)).await?,
            Some(named(collection)),
            "collection {collection:?}"
        );
    }
    Ok(())
}

pub(crate) async fn similar_keys_stay_distinct(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    for (a, b) in lookalike_pairs() {
        cx.store().put(&a, named(&a), None, Some(&c)).await?;
        cx.store().put(&b, named(&b), None, Some(&c)).await?;
        ensure_eq!(
            cx.store().get(&a, Some(&c)).await?,
            Some(named(&a)),
            "key {a:?} after writing {b:?}"
        );
        ensure!(cx.store().delete(&b, Some(&c)).await?, "delete of {b:?}");
        ensure_eq!(
            cx.store().get(&a, Some(&c)).await?,
            Some(named(&a)),
            "key {a:?} after deleting {b:?}"
        );
        cx.store().delete(&a, Some(&c)).await?;
    }
    Ok(())
}

pub(crate) async fn similar_collections_stay_distinct(cx: &Ctx) -> Outcome {
    let key = cx.key("k");
    for (a, b) in lookalike_pairs() {
        let (a, b) = (cx.borrow_collection(&a), cx.borrow_collection(&b));
        cx.store().put(&key, named(&a), None, Some(&a)).await?;
        cx.store().put(&key, named(&b), None, Some(&b)).await?;
        ensure_eq!(
            cx.store().get(&key, Some(&a)).await?,
            Some(named(&a)),
            "collection {a:?} after writing {b:?}"
        );
        ensure!(cx.store().delete(&key, Some(&b)).await?, "delete in {b:?}");
        ensure_eq!(
            cx.store().get(&key, Some(&a)).await?,
            Some(named(&a)),
            "collection {a:?} after deleting in {b:?}"
        );
    }
    Ok(())
}

/// `collection::key` layouts must not confuse (`a`, `b::c`) with (`a::b`, `c`). A store
/// in py-key-value's shared compound keys (`Fixture::shared_compound_keys`) keeps one
/// entry for both: the last write wins, and the other name must read nothing, never
/// the other name's value.
pub(crate) async fn separator_lookalikes_stay_distinct(cx: &Ctx) -> Outcome {
    let base = cx.collection("sep");
    let nested = cx.collection("sep::x");
    let store = cx.store();
    store.put("x::k", named("outer"), None, Some(&base)).await?;
    if cx.compound_keys() {
        ensure_eq!(
            store.get("k", Some(&nested)).await?,
            None,
            "key `k` in the `::x` collection, before it was written"
        );
    }
    store.put("k", named("inner"), None, Some(&nested)).await?;
    let outer_after = if cx.compound_keys() {
        None
    } else {
        Some(named("outer"))
    };
    ensure_eq!(
        store.get("x::k", Some(&base)).await?,
        outer_after.clone(),
        "key `x::k` in the base collection"
    );
    ensure_eq!(
        store.get("k", Some(&nested)).await?,
        Some(named("inner")),
        "key `k` in the `::x` collection"
    );
    if cx.caps().list_keys {
        let listed = store.keys(Some(&base), None).await?;
        let expected: Vec<String> = outer_after.iter().map(|_| "x::k".to_owned()).collect();
        ensure_eq!(listed, expected, "keys of the base collection");
        ensure_eq!(
            store.keys(Some(&nested), None).await?,
            vec!["k".to_owned()],
            "keys of the `::x` collection"
        );
    }
    ensure!(
        store.delete("k", Some(&nested)).await?,
        "delete in the nested collection"
    );
    ensure_eq!(
        store.get("x::k", Some(&base)).await?,
        outer_after,
        "the base entry after deleting the other"
    );
    Ok(())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

pub(crate) async fn special_keys_are_listed_as_written(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    let names = special_names();
    for key in &names {
        cx.store().put(key, named(key), None, Some(&c)).await?;
    }
    let listed = cx.store().keys(Some(&c), None).await?;
    ensure_eq!(
        sorted(listed),
        sorted(names),
        "keys() must return the names as written"
    );
    Ok(())
}

pub(crate) async fn special_collections_are_listed_as_written(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_collections, "list_collections")?;
    let key = cx.key("k");
    let names = special_names();
    for collection in &names {
        let collection = cx.borrow_collection(collection);
        cx.store()
            .put(&key, num(1), None, Some(&collection))
            .await?;
    }
    let listed = cx.store().collections(None).await?;
    let missing: Vec<&String> = names.iter().filter(|name| !listed.contains(name)).collect();
    if !missing.is_empty() {
        return Err(CaseError::Failed(format!(
            "collections() does not list these collections as written: {missing:?}"
        )));
    }
    Ok(())
}
