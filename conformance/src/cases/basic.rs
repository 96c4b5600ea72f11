//! Single-entry operations: get, put, ttl, delete.

use key_value_core::ErrorKind;

use crate::harness::{Ctx, Outcome, expect_error, num};
use crate::harness::{ensure, ensure_eq};

pub(crate) async fn get_missing_is_none(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure_eq!(
        cx.store().get("missing", Some(&c)).await?,
        None,
        "get of a missing key"
    );
    Ok(())
}

pub(crate) async fn ttl_missing_is_none(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure_eq!(
        cx.store().ttl("missing", Some(&c)).await?,
        None,
        "ttl of a missing key"
    );
    Ok(())
}

pub(crate) async fn delete_missing_is_false(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure!(
        !cx.store().delete("missing", Some(&c)).await?,
        "delete of a missing key reported that it existed"
    );
    Ok(())
}

pub(crate) async fn put_then_get(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("k", num(1), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get("k", Some(&c)).await?,
        Some(num(1)),
        "get after put"
    );
    Ok(())
}

pub(crate) async fn get_put_get(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure_eq!(cx.store().get("k", Some(&c)).await?, None, "get before put");
    cx.store().put("k", num(2), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get("k", Some(&c)).await?,
        Some(num(2)),
        "get after put"
    );
    Ok(())
}

pub(crate) async fn put_overwrites(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("k", num(1), None, Some(&c)).await?;
    cx.store().put("k", num(2), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get("k", Some(&c)).await?,
        Some(num(2)),
        "get after two puts"
    );
    Ok(())
}

pub(crate) async fn put_delete_get(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("k", num(1), None, Some(&c)).await?;
    ensure!(
        cx.store().delete("k", Some(&c)).await?,
        "delete of a present key reported that it was missing"
    );
    ensure_eq!(
        cx.store().get("k", Some(&c)).await?,
        None,
        "get after delete"
    );
    ensure_eq!(
        cx.store().ttl("k", Some(&c)).await?,
        None,
        "ttl after delete"
    );
    Ok(())
}

pub(crate) async fn delete_twice(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("k", num(1), None, Some(&c)).await?;
    ensure!(cx.store().delete("k", Some(&c)).await?, "first delete");
    ensure!(
        !cx.store().delete("k", Some(&c)).await?,
        "second delete of the same key reported that it existed"
    );
    Ok(())
}

pub(crate) async fn default_collection_round_trip(cx: &Ctx) -> Outcome {
    let k = cx.key("k");
    cx.store().put(&k, num(3), None, None).await?;
    ensure_eq!(
        cx.store().get(&k, None).await?,
        Some(num(3)),
        "get from the default collection"
    );
    ensure_eq!(
        cx.store().get_many(&[k.as_str()], None).await?,
        vec![Some(num(3))],
        "get_many from the default collection"
    );
    ensure!(
        cx.store().delete(&k, None).await?,
        "delete from the default collection"
    );
    ensure_eq!(cx.store().get(&k, None).await?, None, "get after delete");
    Ok(())
}

/// Undeclared optional operations must fail with `Unsupported`, not panic or pretend.
pub(crate) async fn unsupported_operations_are_errors(cx: &Ctx) -> Outcome {
    let caps = cx.caps();
    let c = cx.collection("c");
    let store = cx.store();
    if !caps.list_keys {
        expect_error(
            store.keys(Some(&c), None).await,
            ErrorKind::Unsupported,
            "keys",
        )?;
    }
    if !caps.list_collections {
        expect_error(
            store.collections(None).await,
            ErrorKind::Unsupported,
            "collections",
        )?;
    }
    if !caps.destroy_collection {
        expect_error(
            store.destroy_collection(&c).await,
            ErrorKind::Unsupported,
            "destroy_collection",
        )?;
    }
    if !caps.cull {
        expect_error(store.cull().await, ErrorKind::Unsupported, "cull")?;
    }
    if !caps.put_if_absent {
        expect_error(
            store.put_if_absent("k", num(1), None, Some(&c)).await,
            ErrorKind::Unsupported,
            "put_if_absent",
        )?;
    }
    // `destroy` is not called even when undeclared: a store that wrongly implements it
    // would wipe data other cases share.
    Ok(())
}
