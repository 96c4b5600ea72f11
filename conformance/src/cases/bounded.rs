//! Bounded stores: a cap on entries per collection, the newest write always readable.

use crate::harness::{Ctx, Outcome, num};
use crate::harness::{ensure, ensure_eq};

fn bound(cx: &Ctx) -> Result<usize, crate::harness::CaseError> {
    match cx.caps().max_entries_per_collection {
        Some(max) => Ok(max),
        None => cx.require(false, "max_entries_per_collection").map(|()| 0),
    }
}

/// How many of `count` keys named `k{i}` are still readable.
async fn readable(
    cx: &Ctx,
    collection: &str,
    count: usize,
) -> Result<usize, crate::harness::CaseError> {
    let keys: Vec<String> = (0..count).map(|i| format!("k{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    Ok(cx
        .store()
        .get_many(&key_refs, Some(collection))
        .await?
        .iter()
        .flatten()
        .count())
}

pub(crate) async fn bounded_store_stays_within_bound(cx: &Ctx) -> Outcome {
    let max = bound(cx)?;
    let c = cx.collection("c");
    let count = max * 2 + 10;
    for i in 0..count {
        cx.store()
            .put(&format!("k{i}"), num(i as i64), None, Some(&c))
            .await?;
    }
    let kept = readable(cx, &c, count).await?;
    ensure!(
        kept <= max,
        "{kept} entries kept in a collection bounded at {max}"
    );
    ensure!(kept > 0, "a bounded collection kept nothing");
    Ok(())
}

pub(crate) async fn bounded_store_keeps_latest_write(cx: &Ctx) -> Outcome {
    let max = bound(cx)?;
    let c = cx.collection("c");
    for i in 0..(max * 2 + 10) {
        let key = format!("k{i}");
        cx.store().put(&key, num(i as i64), None, Some(&c)).await?;
        ensure_eq!(
            cx.store().get(&key, Some(&c)).await?,
            Some(num(i as i64)),
            "the key just written"
        );
    }
    Ok(())
}

pub(crate) async fn bounded_store_bound_is_per_collection(cx: &Ctx) -> Outcome {
    let max = bound(cx)?;
    let (a, b) = (cx.collection("a"), cx.collection("b"));
    for i in 0..max {
        cx.store()
            .put(&format!("k{i}"), num(i as i64), None, Some(&a))
            .await?;
    }
    for i in 0..max {
        cx.store()
            .put(&format!("k{i}"), num(i as i64), None, Some(&b))
            .await?;
    }
    ensure_eq!(
        readable(cx, &a, max).await?,
        max,
        "collection a after filling b to the bound"
    );
    Ok(())
}
