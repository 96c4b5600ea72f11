//! Isolation: the same key in two collections is two entries.

use crate::harness::{Ctx, Outcome, num};
use crate::harness::{ensure, ensure_eq};

pub(crate) async fn same_key_in_two_collections(cx: &Ctx) -> Outcome {
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    cx.store().put("k", num(1), None, Some(&a)).await?;
    cx.store().put("k", num(2), None, Some(&b)).await?;
    ensure_eq!(
        cx.store().get("k", Some(&a)).await?,
        Some(num(1)),
        "collection a"
    );
    ensure_eq!(
        cx.store().get("k", Some(&b)).await?,
        Some(num(2)),
        "collection b"
    );
    Ok(())
}

pub(crate) async fn delete_in_one_collection_keeps_other(cx: &Ctx) -> Outcome {
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    cx.store().put("k", num(1), None, Some(&a)).await?;
    cx.store().put("k", num(2), None, Some(&b)).await?;
    ensure!(cx.store().delete("k", Some(&a)).await?, "delete in a");
    ensure_eq!(
        cx.store().get("k", Some(&b)).await?,
        Some(num(2)),
        "collection b after deleting in a"
    );
    ensure_eq!(
        cx.store().delete_many(&["k"], Some(&a)).await?,
        0,
        "delete_many in a"
    );
    ensure_eq!(
        cx.store().get("k", Some(&b)).await?,
        Some(num(2)),
        "collection b after delete_many in a"
    );
    Ok(())
}

pub(crate) async fn default_and_named_collections_are_separate(cx: &Ctx) -> Outcome {
    let named = cx.collection("named");
    let k = cx.key("k");
    cx.store().put(&k, num(1), None, None).await?;
    ensure_eq!(
        cx.store().get(&k, Some(&named)).await?,
        None,
        "a default-collection key seen in a named one"
    );
    cx.store().put(&k, num(2), None, Some(&named)).await?;
    ensure_eq!(
        cx.store().get(&k, None).await?,
        Some(num(1)),
        "the default collection after a named put"
    );
    Ok(())
}

pub(crate) async fn put_many_is_isolated(cx: &Ctx) -> Outcome {
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    cx.store()
        .put_many(&["x", "y"], vec![num(1), num(2)], None, Some(&a))
        .await?;
    ensure_eq!(
        cx.store().get_many(&["x", "y"], Some(&b)).await?,
        vec![None, None],
        "collection b after put_many in a"
    );
    Ok(())
}

pub(crate) async fn destroy_collection_keeps_others(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().destroy_collection, "destroy_collection")?;
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    // A collection whose name extends the destroyed one must survive too.
    let longer = cx.collection("a-longer");
    cx.store().put("k", num(1), None, Some(&a)).await?;
    cx.store().put("k", num(2), None, Some(&b)).await?;
    cx.store().put("k", num(3), None, Some(&longer)).await?;
    ensure!(
        cx.store().destroy_collection(&a).await?,
        "destroy_collection of a collection with entries"
    );
    ensure_eq!(
        cx.store().get("k", Some(&a)).await?,
        None,
        "the destroyed collection"
    );
    ensure_eq!(
        cx.store().get("k", Some(&b)).await?,
        Some(num(2)),
        "another collection"
    );
    ensure_eq!(
        cx.store().get("k", Some(&longer)).await?,
        Some(num(3)),
        "a collection whose name extends it"
    );
    Ok(())
}

pub(crate) async fn listing_is_per_collection(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let (a, b) = (cx.collection("a"), cx.collection("a::b"));
    cx.store().put("x", num(1), None, Some(&a)).await?;
    cx.store().put("y", num(2), None, Some(&b)).await?;
    ensure_eq!(
        cx.store().keys(Some(&a), None).await?,
        vec!["x".to_owned()],
        "keys of a"
    );
    ensure_eq!(
        cx.store().keys(Some(&b), None).await?,
        vec!["y".to_owned()],
        "keys of a::b"
    );
    Ok(())
}
