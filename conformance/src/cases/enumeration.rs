//! Optional operations: listing keys and collections, destroying, culling.

use std::time::Duration;

use crate::harness::{Ctx, Outcome, num};
use crate::harness::{ensure, ensure_eq};

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

pub(crate) async fn keys_of_empty_collection(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    ensure_eq!(
        cx.store().keys(Some(&c), None).await?,
        Vec::<String>::new(),
        "keys of an unused collection"
    );
    Ok(())
}

pub(crate) async fn keys_lists_written_keys(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    cx.store()
        .put_many(
            &["b", "a", "c"],
            vec![num(1), num(2), num(3)],
            None,
            Some(&c),
        )
        .await?;
    cx.store()
        .put("d", num(4), Some(Duration::from_secs(3600)), Some(&c))
        .await?;
    ensure_eq!(
        sorted(cx.store().keys(Some(&c), None).await?),
        owned(&["a", "b", "c", "d"]),
        "keys"
    );
    Ok(())
}

pub(crate) async fn keys_respects_limit(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    let keys: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    cx.store()
        .put_many(&key_refs, (0..20).map(num).collect(), None, Some(&c))
        .await?;
    let some = cx.store().keys(Some(&c), Some(5)).await?;
    ensure_eq!(some.len(), 5, "keys with limit 5");
    ensure!(
        some.iter().all(|key| keys.contains(key)),
        "listed keys {some:?} were not written"
    );
    ensure_eq!(
        cx.store().keys(Some(&c), Some(0)).await?.len(),
        0,
        "keys with limit 0"
    );
    ensure_eq!(
        cx.store().keys(Some(&c), Some(1000)).await?.len(),
        20,
        "keys with a limit above the count"
    );
    Ok(())
}

pub(crate) async fn keys_skips_deleted(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    cx.store()
        .put_many(
            &["a", "b", "c"],
            vec![num(1), num(2), num(3)],
            None,
            Some(&c),
        )
        .await?;
    cx.store().delete("b", Some(&c)).await?;
    ensure_eq!(
        sorted(cx.store().keys(Some(&c), None).await?),
        owned(&["a", "c"]),
        "keys after a delete"
    );
    Ok(())
}

pub(crate) async fn keys_skips_expired(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_keys, "list_keys")?;
    let c = cx.collection("c");
    cx.store().put("live", num(1), None, Some(&c)).await?;
    cx.store()
        .put("gone", num(2), Some(Duration::from_millis(300)), Some(&c))
        .await?;
    tokio::time::sleep(Duration::from_millis(900)).await;
    ensure_eq!(
        cx.store().keys(Some(&c), None).await?,
        owned(&["live"]),
        "keys must not list expired entries"
    );
    Ok(())
}

pub(crate) async fn collections_lists_written(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_collections, "list_collections")?;
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    cx.store().put("k", num(1), None, Some(&a)).await?;
    cx.store().put("k", num(2), None, Some(&b)).await?;
    let listed = cx.store().collections(None).await?;
    ensure!(
        listed.contains(&a) && listed.contains(&b),
        "collections() {listed:?} lacks {a:?} or {b:?}"
    );
    Ok(())
}

pub(crate) async fn collections_respects_limit(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().list_collections, "list_collections")?;
    for i in 0..3 {
        let c = cx.collection(&format!("c{i}"));
        cx.store().put("k", num(i), None, Some(&c)).await?;
    }
    ensure_eq!(
        cx.store().collections(Some(2)).await?.len(),
        2,
        "collections with limit 2"
    );
    ensure_eq!(
        cx.store().collections(Some(0)).await?.len(),
        0,
        "collections with limit 0"
    );
    Ok(())
}

pub(crate) async fn destroy_collection_removes_entries(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().destroy_collection, "destroy_collection")?;
    let c = cx.collection("c");
    cx.store()
        .put_many(&["a", "b"], vec![num(1), num(2)], None, Some(&c))
        .await?;
    ensure!(
        cx.store().destroy_collection(&c).await?,
        "destroy_collection of a collection with entries"
    );
    ensure_eq!(
        cx.store().get_many(&["a", "b"], Some(&c)).await?,
        vec![None, None],
        "entries after destroy_collection"
    );
    ensure!(
        !cx.store().destroy_collection(&c).await?,
        "a second destroy_collection reported entries"
    );
    if cx.caps().list_keys {
        ensure_eq!(
            cx.store().keys(Some(&c), None).await?,
            Vec::<String>::new(),
            "keys after destroy_collection"
        );
    }
    if cx.caps().list_collections {
        ensure!(
            !cx.store().collections(None).await?.contains(&c),
            "collections() still lists a destroyed collection"
        );
    }
    Ok(())
}

pub(crate) async fn destroy_removes_everything(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().destroy, "destroy")?;
    cx.require_exclusive()?;
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    let k = cx.key("k");
    cx.store().put("k", num(1), None, Some(&a)).await?;
    cx.store().put("k", num(2), None, Some(&b)).await?;
    cx.store().put(&k, num(3), None, None).await?;
    ensure!(
        cx.store().destroy().await?,
        "destroy of a store with entries"
    );
    ensure_eq!(
        cx.store().get("k", Some(&a)).await?,
        None,
        "collection a after destroy"
    );
    ensure_eq!(
        cx.store().get("k", Some(&b)).await?,
        None,
        "collection b after destroy"
    );
    ensure_eq!(
        cx.store().get(&k, None).await?,
        None,
        "default collection after destroy"
    );
    if cx.caps().list_collections {
        ensure_eq!(
            cx.store().collections(None).await?,
            Vec::<String>::new(),
            "collections after destroy"
        );
    }
    cx.store().put("k", num(4), None, Some(&a)).await?;
    ensure_eq!(
        cx.store().get("k", Some(&a)).await?,
        Some(num(4)),
        "the store after destroy"
    );
    Ok(())
}

pub(crate) async fn cull_keeps_live_entries(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().cull, "cull")?;
    let c = cx.collection("c");
    cx.store().put("forever", num(1), None, Some(&c)).await?;
    cx.store()
        .put("later", num(2), Some(Duration::from_secs(3600)), Some(&c))
        .await?;
    cx.store()
        .put("soon", num(3), Some(Duration::from_millis(300)), Some(&c))
        .await?;
    tokio::time::sleep(Duration::from_millis(900)).await;
    cx.store().cull().await?;
    ensure_eq!(
        cx.store()
            .get_many(&["forever", "later", "soon"], Some(&c))
            .await?,
        vec![Some(num(1)), Some(num(2)), None],
        "entries after cull"
    );
    if cx.caps().list_keys {
        ensure_eq!(
            sorted(cx.store().keys(Some(&c), None).await?),
            owned(&["forever", "later"]),
            "keys after cull"
        );
    }
    Ok(())
}

pub(crate) async fn store_usable_after_destroy_collection(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().destroy_collection, "destroy_collection")?;
    let c = cx.collection("c");
    cx.store().put("k", num(1), None, Some(&c)).await?;
    cx.store().destroy_collection(&c).await?;
    cx.store().put("k", num(2), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get("k", Some(&c)).await?,
        Some(num(2)),
        "a collection written again after destroy"
    );
    Ok(())
}
