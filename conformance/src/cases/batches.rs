//! Batch operations: get_many, put_many, delete_many, ttl_many.

use std::time::Duration;

use key_value_core::ErrorKind;

use crate::harness::{Ctx, Outcome, expect_error, num};
use crate::harness::{ensure, ensure_eq, fail};

const HOUR: Duration = Duration::from_secs(3600);

pub(crate) async fn get_many_missing(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure_eq!(
        cx.store().get_many(&["a", "b"], Some(&c)).await?,
        vec![None, None],
        "get_many of missing keys"
    );
    Ok(())
}

pub(crate) async fn get_many_empty_list(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure_eq!(
        cx.store().get_many(&[], Some(&c)).await?,
        vec![],
        "get_many of no keys"
    );
    ensure_eq!(
        cx.store().ttl_many(&[], Some(&c)).await?,
        vec![],
        "ttl_many of no keys"
    );
    Ok(())
}

pub(crate) async fn put_many_then_get_many(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(
            &["a", "b", "c"],
            vec![num(1), num(2), num(3)],
            None,
            Some(&c),
        )
        .await?;
    ensure_eq!(
        cx.store().get_many(&["a", "b", "c"], Some(&c)).await?,
        vec![Some(num(1)), Some(num(2)), Some(num(3))],
        "get_many after put_many"
    );
    Ok(())
}

pub(crate) async fn put_many_then_get_each(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(&["a", "b"], vec![num(1), num(2)], None, Some(&c))
        .await?;
    ensure_eq!(cx.store().get("a", Some(&c)).await?, Some(num(1)), "get a");
    ensure_eq!(cx.store().get("b", Some(&c)).await?, Some(num(2)), "get b");
    Ok(())
}

pub(crate) async fn put_each_then_get_many(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("a", num(1), None, Some(&c)).await?;
    cx.store().put("b", num(2), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get_many(&["a", "b"], Some(&c)).await?,
        vec![Some(num(1)), Some(num(2))],
        "get_many after single puts"
    );
    Ok(())
}

pub(crate) async fn get_many_keeps_order_and_gaps(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(&["a", "c"], vec![num(1), num(3)], None, Some(&c))
        .await?;
    ensure_eq!(
        cx.store()
            .get_many(&["c", "missing", "a", "c", "b"], Some(&c))
            .await?,
        vec![Some(num(3)), None, Some(num(1)), Some(num(3)), None],
        "get_many must answer slot by slot, repeats included"
    );
    Ok(())
}

pub(crate) async fn put_many_empty_is_ok(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put_many(&[], vec![], None, Some(&c)).await?;
    cx.store()
        .put_many(&[], vec![], Some(HOUR), Some(&c))
        .await?;
    Ok(())
}

pub(crate) async fn put_many_mismatched_lengths_write_nothing(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let more_keys = cx
        .store()
        .put_many(&["a", "b"], vec![num(1)], None, Some(&c))
        .await;
    expect_error(
        more_keys,
        ErrorKind::InvalidArgument,
        "put_many with 2 keys and 1 value",
    )?;
    let more_values = cx
        .store()
        .put_many(&["a"], vec![num(1), num(2)], None, Some(&c))
        .await;
    expect_error(
        more_values,
        ErrorKind::InvalidArgument,
        "put_many with 1 key and 2 values",
    )?;
    ensure_eq!(
        cx.store().get_many(&["a", "b"], Some(&c)).await?,
        vec![None, None],
        "a refused put_many must write nothing"
    );
    Ok(())
}

pub(crate) async fn put_many_duplicate_keys_last_wins(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(
            &["a", "a", "b"],
            vec![num(1), num(2), num(3)],
            None,
            Some(&c),
        )
        .await?;
    ensure_eq!(
        cx.store().get("a", Some(&c)).await?,
        Some(num(2)),
        "a repeated key keeps the last value"
    );
    ensure_eq!(
        cx.store().get("b", Some(&c)).await?,
        Some(num(3)),
        "other key"
    );
    Ok(())
}

pub(crate) async fn put_many_overwrites(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("a", num(1), Some(HOUR), Some(&c)).await?;
    cx.store()
        .put_many(&["a", "b"], vec![num(10), num(20)], None, Some(&c))
        .await?;
    ensure_eq!(
        cx.store().ttl("a", Some(&c)).await?,
        Some((num(10), None)),
        "put_many replaces the value and clears the old expiry"
    );
    Ok(())
}

pub(crate) async fn delete_many_counts_existing(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(
            &["a", "b", "c"],
            vec![num(1), num(2), num(3)],
            None,
            Some(&c),
        )
        .await?;
    ensure_eq!(
        cx.store()
            .delete_many(&["a", "b", "missing"], Some(&c))
            .await?,
        2,
        "delete_many counts the entries that existed"
    );
    ensure_eq!(
        cx.store().get("c", Some(&c)).await?,
        Some(num(3)),
        "an unnamed key survives"
    );
    Ok(())
}

pub(crate) async fn delete_many_then_get_many(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(&["a", "b"], vec![num(1), num(2)], None, Some(&c))
        .await?;
    cx.store().delete_many(&["a", "b"], Some(&c)).await?;
    ensure_eq!(
        cx.store().get_many(&["a", "b"], Some(&c)).await?,
        vec![None, None],
        "get_many after delete_many"
    );
    Ok(())
}

pub(crate) async fn delete_many_empty_is_zero(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    ensure_eq!(
        cx.store().delete_many(&[], Some(&c)).await?,
        0,
        "delete_many of no keys"
    );
    Ok(())
}

pub(crate) async fn delete_many_duplicate_keys_count_once(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store().put("a", num(1), None, Some(&c)).await?;
    ensure_eq!(
        cx.store().delete_many(&["a", "a"], Some(&c)).await?,
        1,
        "one entry named twice is one deletion"
    );
    Ok(())
}

pub(crate) async fn ttl_many_reports_each(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put("timed", num(1), Some(HOUR), Some(&c))
        .await?;
    cx.store().put("forever", num(2), None, Some(&c)).await?;
    let got = cx
        .store()
        .ttl_many(&["timed", "missing", "forever"], Some(&c))
        .await?;
    ensure_eq!(got.len(), 3, "ttl_many slots");
    match &got[0] {
        Some((value, Some(left))) => {
            ensure_eq!(*value, num(1), "timed value");
            ensure!(
                *left <= HOUR && *left > HOUR - Duration::from_secs(60),
                "timed ttl {left:?}"
            );
        }
        other => fail!("timed entry: got {other:?}"),
    }
    ensure_eq!(got[1], None, "missing entry");
    ensure_eq!(got[2], Some((num(2), None)), "entry without expiry");
    Ok(())
}

pub(crate) async fn put_many_with_ttl_sets_each(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put_many(&["a", "b"], vec![num(1), num(2)], Some(HOUR), Some(&c))
        .await?;
    for key in ["a", "b"] {
        match cx.store().ttl(key, Some(&c)).await? {
            Some((_, Some(left))) => ensure!(
                left <= HOUR && left > HOUR - Duration::from_secs(60),
                "{key}: remaining ttl {left:?} for a one-hour ttl"
            ),
            other => fail!("{key}: expected a value with a ttl, got {other:?}"),
        }
    }
    Ok(())
}

pub(crate) async fn put_many_invalid_key_writes_nothing(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let result = cx
        .store()
        .put_many(&["good", ""], vec![num(1), num(2)], None, Some(&c))
        .await;
    expect_error(result, ErrorKind::InvalidKey, "put_many with an empty key")?;
    ensure_eq!(
        cx.store().get("good", Some(&c)).await?,
        None,
        "a put_many refused for one bad key must write nothing"
    );
    Ok(())
}
