//! Bounded stores: a cap on entries per collection, the newest write always readable.

use crate::harness::{CaseError, Ctx, Outcome, num};
use crate::harness::{ensure, ensure_eq};

/// The largest bound the cases test: they write up to about twice the bound, one entry
/// at a time, which for a larger bound would take longer than a case may run.
const LARGEST_TESTED_BOUND: usize = 10_000;

/// The store's bound on entries per collection, if the cases can test it.
fn bound(cx: &Ctx) -> Result<usize, CaseError> {
    match cx.caps().max_entries_per_collection {
        Some(max) if max > LARGEST_TESTED_BOUND => Err(CaseError::NotApplicable(format!(
            "the store's bound of {max} entries per collection is above the \
             {LARGEST_TESTED_BOUND} this case tests: filling a collection past it one \
             entry at a time would take too long"
        ))),
        Some(max) => Ok(max),
        None => cx.require(false, "max_entries_per_collection").map(|()| 0),
    }
}

/// How many keys to write so that the bound `max` must evict: twice as many, and more.
fn past_bound(max: usize) -> usize {
    max.saturating_mul(2).saturating_add(10)
}

/// How many of `count` keys named `k{i}` are still readable.
async fn readable(cx: &Ctx, collection: &str, count: usize) -> Result<usize, CaseError> {
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
    let count = past_bound(max);
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
    for i in 0..past_bound(max) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)] // test code: failing loudly is the point

    use crate::{Report, case, run_case};
    use key_value_memory::MemoryStore;

    const CASES: [&str; 3] = [
        "bounded_store_stays_within_bound",
        "bounded_store_keeps_latest_write",
        "bounded_store_bound_is_per_collection",
    ];

    async fn report(name: &str, max: usize) -> Report {
        let Some(case) = case(name) else {
            panic!("no case {name}");
        };
        let store = match MemoryStore::builder()
            .max_entries_per_collection(max)
            .build()
        {
            Ok(store) => store,
            Err(e) => panic!("bound {max}: {e}"),
        };
        run_case(case, store).await
    }

    #[tokio::test]
    async fn huge_bounds_are_not_applicable_not_overflows() {
        for max in [usize::MAX, usize::MAX / 2 + 1, 10_001] {
            for name in CASES {
                match report(name, max).await {
                    Report::NotApplicable(why) => {
                        assert!(why.contains(&max.to_string()), "{name}: {why}");
                        assert!(why.contains("10000"), "{name}: {why}");
                    }
                    other => panic!("{name} with bound {max}: {other:?}"),
                }
            }
        }
    }

    #[tokio::test]
    async fn bounds_up_to_the_cap_are_tested() {
        for name in CASES {
            assert_eq!(report(name, 3).await, Report::Passed, "{name}");
        }
    }
}
