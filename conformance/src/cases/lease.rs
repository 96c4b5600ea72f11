//! `put_if_absent`, the lease primitive: an atomic create in which an expired entry
//! counts as absent, with exactly one winner however many callers race.

use std::time::{Duration, Instant};

use key_value_core::ErrorKind;
use tokio::task::JoinSet;

use crate::cases::time_to_live::{HOUR, PAST_SHORT, SHORT};
use crate::harness::{CaseError, Ctx, Outcome, expect_error, num};
use crate::harness::{ensure, ensure_eq};

pub(crate) async fn put_if_absent_creates_only_once(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().put_if_absent, "put_if_absent")?;
    let c = cx.collection("c");
    let store = cx.store();
    ensure!(
        store.put_if_absent("k", num(1), None, Some(&c)).await?,
        "put_if_absent on a missing key did not store"
    );
    ensure!(
        !store.put_if_absent("k", num(2), None, Some(&c)).await?,
        "put_if_absent on a live key claimed to store"
    );
    ensure_eq!(
        store.get("k", Some(&c)).await?,
        Some(num(1)),
        "the first value after a refused put_if_absent"
    );
    ensure!(store.delete("k", Some(&c)).await?, "delete of the entry");
    ensure!(
        store.put_if_absent("k", num(3), None, Some(&c)).await?,
        "put_if_absent after delete did not store"
    );
    ensure_eq!(
        store.get("k", Some(&c)).await?,
        Some(num(3)),
        "the new value"
    );
    Ok(())
}

pub(crate) async fn put_if_absent_keeps_its_ttl(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().put_if_absent, "put_if_absent")?;
    let c = cx.collection("c");
    let ttl = Duration::from_secs(600);
    ensure!(
        cx.store()
            .put_if_absent("k", num(1), Some(ttl), Some(&c))
            .await?,
        "put_if_absent on a missing key did not store"
    );
    let Some((value, Some(left))) = cx.store().ttl("k", Some(&c)).await? else {
        return Err(CaseError::Failed(
            "the entry put_if_absent stored has no ttl".into(),
        ));
    };
    ensure_eq!(value, num(1), "the stored value");
    ensure!(
        left <= ttl && left > ttl - Duration::from_secs(60),
        "remaining ttl {left:?} of an entry stored for {ttl:?}"
    );
    Ok(())
}

pub(crate) async fn put_if_absent_takes_over_an_expired_entry(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().put_if_absent, "put_if_absent")?;
    let c = cx.collection("c");
    let store = cx.store();
    // A live lease is not taken twice: one with a ttl no machine outlasts, then one
    // with a `SHORT` ttl, whose expiry falls within a second of the call (where a store
    // that rounds expiry to seconds must look closer). The second `put_if_absent` of
    // the short one proves something only while that lease is surely live: a round
    // whose calls took longer is run again with new keys; a machine too busy for any
    // of five rounds leaves that half untested, and says so.
    ensure!(
        store
            .put_if_absent("long", num(1), Some(HOUR), Some(&c))
            .await?,
        "the first lease was not taken"
    );
    ensure!(
        !store
            .put_if_absent("long", num(2), Some(HOUR), Some(&c))
            .await?,
        "a live lease was taken twice"
    );
    let (lease, plain) = ("lease", "plain");
    let mut judged = false;
    for round in 0..5 {
        let lease = format!("{lease}-{round}");
        let started = Instant::now();
        ensure!(
            store
                .put_if_absent(&lease, num(1), Some(SHORT), Some(&c))
                .await?,
            "the first lease was not taken"
        );
        let taken_again = store
            .put_if_absent(&lease, num(2), Some(SHORT), Some(&c))
            .await?;
        if started.elapsed() < SHORT - Duration::from_millis(100) {
            ensure!(!taken_again, "a live lease of a short ttl was taken twice");
            judged = true;
            break;
        }
    }
    if !judged {
        eprintln!(
            "NOTE: put_if_absent_takes_over_an_expired_entry: five rounds of two calls each \
             took over 400 ms; a live lease of a sub-second ttl was not judged"
        );
    }
    ensure!(
        store
            .put_if_absent(lease, num(1), Some(SHORT), Some(&c))
            .await?,
        "the first lease was not taken"
    );
    store.put(plain, num(1), Some(SHORT), Some(&c)).await?;
    tokio::time::sleep(PAST_SHORT).await;
    ensure!(
        store.put_if_absent(lease, num(3), None, Some(&c)).await?,
        "an expired lease could not be taken over"
    );
    ensure!(
        store.put_if_absent(plain, num(3), None, Some(&c)).await?,
        "an expired entry written by put could not be taken over"
    );
    ensure_eq!(
        store.ttl_many(&[lease, plain], Some(&c)).await?,
        vec![Some((num(3), None)), Some((num(3), None))],
        "the entries that replaced expired ones"
    );
    Ok(())
}

pub(crate) async fn put_if_absent_race_has_one_winner(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().put_if_absent, "put_if_absent")?;
    const TASKS: i64 = 32;
    const ROUNDS: usize = 5;
    let c = cx.collection("c");
    for round in 0..ROUNDS {
        let key = format!("lease-{round}");
        let mut tasks = JoinSet::new();
        for t in 0..TASKS {
            let (store, c, key) = (cx.shared_store(), c.clone(), key.clone());
            tasks.spawn(async move {
                let won = store
                    .put_if_absent(&key, num(t), Some(Duration::from_secs(60)), Some(&c))
                    .await?;
                Ok::<_, CaseError>((t, won))
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (t, won) =
                joined.map_err(|e| CaseError::Failed(format!("a task panicked: {e}")))??;
            if won {
                winners.push(t);
            }
        }
        ensure_eq!(winners.len(), 1, "winners of round {round}: {winners:?}");
        ensure_eq!(
            cx.store().get(&key, Some(&c)).await?,
            Some(num(winners[0])),
            "the stored value of round {round} is the winner's"
        );
    }
    Ok(())
}

pub(crate) async fn put_if_absent_invalid_input_writes_nothing(cx: &Ctx) -> Outcome {
    cx.require(cx.caps().put_if_absent, "put_if_absent")?;
    let c = cx.collection("c");
    let store = cx.store();
    expect_error(
        store
            .put_if_absent("k", num(1), Some(Duration::ZERO), Some(&c))
            .await,
        ErrorKind::InvalidTtl,
        "put_if_absent with a zero ttl",
    )?;
    expect_error(
        store.put_if_absent("", num(1), None, Some(&c)).await,
        ErrorKind::InvalidKey,
        "put_if_absent with an empty key",
    )?;
    ensure_eq!(
        store.get("k", Some(&c)).await?,
        None,
        "the key after refused calls"
    );
    Ok(())
}
