//! Batch reads and writes within DynamoDB's limits (100 keys per `BatchGetItem`, 25
//! requests per `BatchWriteItem`), retrying what DynamoDB leaves unprocessed with
//! bounded exponential backoff. Chunks of one call run concurrently.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{KeysAndAttributes, WriteRequest};
use futures_util::future::try_join_all;
use key_value_core::{Error, ErrorKind, Result};

use crate::error::{build_error, from_sdk};
use crate::item::Item;

/// DynamoDB's limit on keys in one `BatchGetItem`.
pub(crate) const GET_CHUNK: usize = 100;
/// DynamoDB's limit on requests in one `BatchWriteItem`.
pub(crate) const WRITE_CHUNK: usize = 25;

/// How items that DynamoDB leaves unprocessed in a batch call (under throttling) are
/// retried: up to `max_attempts` calls in all, waiting `first_delay`, then twice as
/// long each time up to `max_delay`, with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRetry {
    /// Calls per chunk, the first included; at least 1.
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub first_delay: Duration,
    /// The longest wait between two calls.
    pub max_delay: Duration,
}

impl Default for BatchRetry {
    /// 10 calls, waiting 25 ms, 50 ms, ... up to 2 s (about 8 s in all at most).
    fn default() -> Self {
        BatchRetry {
            max_attempts: 10,
            first_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl BatchRetry {
    /// The wait after `attempt` calls (1 = after the first), between half and all of
    /// the exponential delay so that concurrent writers spread out.
    fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        let full = self.first_delay.saturating_mul(factor).min(self.max_delay);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        // Take off 0 to 999 two-thousandths of the delay, in integer arithmetic:
        // `mul_f64` would panic for a delay near `Duration::MAX`.
        let jitter = nanos % 1000;
        full.saturating_sub((full / 2000).saturating_mul(jitter))
    }
}

fn gave_up(operation: &str, left: usize, attempts: u32) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!(
            "DynamoDB {operation} left {left} items unprocessed after {attempts} calls; \
             the table is throttled, try again later"
        ),
    )
}

/// The items found under `keys` (distinct primary keys), in no particular order.
pub(crate) async fn get_all(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    retry: BatchRetry,
) -> Result<Vec<Item>> {
    let chunks = chunked(keys, GET_CHUNK);
    let found = try_join_all(
        chunks
            .into_iter()
            .map(|chunk| get_chunk(client, table, chunk, retry)),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

async fn get_chunk(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    retry: BatchRetry,
) -> Result<Vec<Item>> {
    let mut pending = keys;
    let mut found = Vec::with_capacity(pending.len());
    let mut attempts = 0;
    loop {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .consistent_read(true)
            .build()
            .map_err(build_error)?;
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| from_sdk("BatchGetItem", e))?;
        attempts += 1;
        if let Some(items) = out.responses.and_then(|mut tables| tables.remove(table)) {
            found.extend(items);
        }
        pending = out
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(table))
            .map(|left| left.keys)
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(found);
        }
        if attempts >= retry.max_attempts.max(1) {
            return Err(gave_up("BatchGetItem", pending.len(), attempts));
        }
        tracing::debug!(
            left = pending.len(),
            attempts,
            "BatchGetItem left keys unprocessed; retrying"
        );
        tokio::time::sleep(retry.delay(attempts)).await;
    }
}

/// Sends every request (distinct primary keys), retrying unprocessed ones.
pub(crate) async fn write_all(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    retry: BatchRetry,
) -> Result<()> {
    let chunks = chunked(requests, WRITE_CHUNK);
    try_join_all(
        chunks
            .into_iter()
            .map(|chunk| write_chunk(client, table, chunk, retry)),
    )
    .await?;
    Ok(())
}

async fn write_chunk(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    retry: BatchRetry,
) -> Result<()> {
    let mut pending = requests;
    let mut attempts = 0;
    loop {
        let out = client
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await
            .map_err(|e| from_sdk("BatchWriteItem", e))?;
        attempts += 1;
        pending = out
            .unprocessed_items
            .and_then(|mut tables| tables.remove(table))
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        if attempts >= retry.max_attempts.max(1) {
            return Err(gave_up("BatchWriteItem", pending.len(), attempts));
        }
        tracing::debug!(
            left = pending.len(),
            attempts,
            "BatchWriteItem left requests unprocessed; retrying"
        );
        tokio::time::sleep(retry.delay(attempts)).await;
    }
}

fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_limit() {
        let sizes: Vec<usize> = chunked((0..251).collect(), WRITE_CHUNK)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes.len(), 11);
        assert!(sizes[..10].iter().all(|&n| n == 25));
        assert_eq!(sizes[10], 1);
        assert!(chunked(Vec::<u8>::new(), GET_CHUNK).is_empty());
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let retry = BatchRetry::default();
        let first = retry.delay(1);
        assert!(first <= retry.first_delay && first >= retry.first_delay / 2);
        assert!(retry.delay(4) >= retry.first_delay * 4);
        assert!(retry.delay(40) <= retry.max_delay);
    }

    #[test]
    fn extreme_settings_do_not_panic() {
        let retry = BatchRetry {
            max_attempts: u32::MAX,
            first_delay: Duration::MAX,
            max_delay: Duration::MAX,
        };
        for attempt in [0, 1, 2, 17, 40, u32::MAX] {
            let delay = retry.delay(attempt);
            assert!(delay >= Duration::MAX / 2, "attempt {attempt}: {delay:?}");
        }
        let tiny = BatchRetry {
            max_attempts: 1,
            first_delay: Duration::from_nanos(1),
            max_delay: Duration::MAX,
        };
        assert!(tiny.delay(u32::MAX) <= Duration::from_nanos(1 << 16));
        let zero = BatchRetry {
            max_attempts: 1,
            first_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        };
        assert_eq!(zero.delay(3), Duration::ZERO);
    }
}
