//! Many tasks at once: no acknowledged write is lost, no reader sees a torn value.

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, JsonObject};
use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::{CaseError, Ctx, Outcome, num, object};
use crate::harness::{ensure, ensure_eq, fail};

/// Runs every task to the end and fails on the first failure (or panic) among them.
async fn join_all(mut tasks: JoinSet<Outcome>) -> Outcome {
    let mut first_failure = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome =
            joined.unwrap_or_else(|e| Err(CaseError::Failed(format!("a task panicked: {e}"))));
        if let Err(failure) = outcome {
            first_failure.get_or_insert(failure);
        }
    }
    first_failure.map_or(Ok(()), Err)
}

pub(crate) async fn concurrent_writers_distinct_keys(cx: &Ctx) -> Outcome {
    const TASKS: i64 = 32;
    const KEYS: i64 = 20;
    let c = cx.collection("c");
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let (store, c) = (cx.shared_store(), c.clone());
        tasks.spawn(async move {
            for k in 0..KEYS {
                store
                    .put(&format!("t{t}-k{k}"), num(t * 1000 + k), None, Some(&c))
                    .await?;
                tokio::task::yield_now().await;
            }
            Ok(())
        });
    }
    join_all(tasks).await?;
    for t in 0..TASKS {
        let keys: Vec<String> = (0..KEYS).map(|k| format!("t{t}-k{k}")).collect();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let expected: Vec<Option<JsonObject>> =
            (0..KEYS).map(|k| Some(num(t * 1000 + k))).collect();
        ensure_eq!(
            cx.store().get_many(&key_refs, Some(&c)).await?,
            expected,
            "writes of task {t}"
        );
    }
    Ok(())
}

/// A value whose parts must agree; a torn read mixes two versions.
fn versioned(version: i64) -> JsonObject {
    object(json!({"a": version, "b": version, "blob": version.to_string().repeat(2000)}))
}

fn is_whole(value: &JsonObject) -> bool {
    match (
        value.get("a").and_then(|v| v.as_i64()),
        value.get("b").and_then(|v| v.as_i64()),
    ) {
        (Some(a), Some(b)) => {
            a == b
                && value.get("blob").and_then(|v| v.as_str()) == Some(&a.to_string().repeat(2000))
        }
        _ => false,
    }
}

pub(crate) async fn concurrent_readers_see_whole_values(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    cx.store()
        .put("shared", versioned(0), None, Some(&c))
        .await?;
    let mut tasks = JoinSet::new();
    for w in 0..4 {
        let (store, c) = (cx.shared_store(), c.clone());
        tasks.spawn(async move {
            for i in 0..40 {
                store
                    .put("shared", versioned(w * 1000 + i), None, Some(&c))
                    .await?;
            }
            Ok(())
        });
    }
    for _ in 0..4 {
        let (store, c) = (cx.shared_store(), c.clone());
        tasks.spawn(async move {
            for _ in 0..80 {
                match store.get("shared", Some(&c)).await? {
                    Some(value) => ensure!(is_whole(&value), "a reader saw a torn value"),
                    None => fail!("a reader found the key missing while it was being overwritten"),
                }
            }
            Ok(())
        });
    }
    join_all(tasks).await
}

pub(crate) async fn concurrent_mixed_operations(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let mut tasks = JoinSet::new();
    for t in 0..16 {
        let (store, c) = (cx.shared_store(), c.clone());
        tasks.spawn(async move {
            for i in 0..10 {
                let key = format!("t{t}-{i}");
                store.put(&key, num(i), None, Some(&c)).await?;
                ensure_eq!(
                    store.get(&key, Some(&c)).await?,
                    Some(num(i)),
                    "read back {key}"
                );
                ensure!(store.delete(&key, Some(&c)).await?, "delete {key}");
                ensure_eq!(
                    store.get(&key, Some(&c)).await?,
                    None,
                    "read after delete {key}"
                );
            }
            Ok(())
        });
    }
    join_all(tasks).await
}

pub(crate) async fn concurrent_collections(cx: &Ctx) -> Outcome {
    let collections: Vec<String> = (0..16).map(|i| cx.collection(&format!("c{i}"))).collect();
    let mut tasks = JoinSet::new();
    for (i, c) in collections.iter().enumerate() {
        let (store, c) = (cx.shared_store(), c.clone());
        let i = i as i64;
        tasks.spawn(async move {
            for k in 0..10 {
                store
                    .put(&format!("k{k}"), num(i * 100 + k), None, Some(&c))
                    .await?;
            }
            Ok(())
        });
    }
    join_all(tasks).await?;
    for (i, c) in collections.iter().enumerate() {
        let i = i as i64;
        ensure_eq!(
            cx.store().get("k9", Some(c)).await?,
            Some(num(i * 100 + 9)),
            "collection {i}"
        );
    }
    Ok(())
}

pub(crate) async fn concurrent_batches(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let mut tasks = JoinSet::new();
    for t in 0..16_i64 {
        let (store, c): (Arc<dyn AsyncKeyValue>, String) = (cx.shared_store(), c.clone());
        tasks.spawn(async move {
            let keys: Vec<String> = (0..25).map(|k| format!("t{t}-{k}")).collect();
            let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let values: Vec<JsonObject> = (0..25).map(|k| num(t * 100 + k)).collect();
            store
                .put_many(&key_refs, values.clone(), None, Some(&c))
                .await?;
            let back = store.get_many(&key_refs, Some(&c)).await?;
            ensure_eq!(
                back,
                values.into_iter().map(Some).collect::<Vec<_>>(),
                "batch of task {t}"
            );
            ensure_eq!(
                store.delete_many(&key_refs, Some(&c)).await?,
                25,
                "delete_many of task {t}"
            );
            Ok(())
        });
    }
    join_all(tasks).await
}
