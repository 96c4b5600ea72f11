//! Batches DynamoDB leaves partly unprocessed still complete. No emulator throttles on
//! demand, so a small HTTP proxy in front of dynalite plays the throttled service: it
//! withholds half of a `BatchWriteItem` / `BatchGetItem` request from dynalite and
//! reports that half as `UnprocessedItems` / `UnprocessedKeys`, as DynamoDB does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_dynamodb::{BatchRetry, DynamoDbStore, emulator_config};
use key_value_test_support::dynamodb::Emulator;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to batch calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Withhold half of the first batch write and the first batch read only.
    Once,
    /// Withhold half of every batch call (a table that stays throttled).
    Always,
}

#[derive(Default)]
struct Seen {
    write_calls: usize,
    get_calls: usize,
    withheld_writes: usize,
    withheld_keys: usize,
}

struct Proxy {
    endpoint: String,
    seen: Arc<Mutex<Seen>>,
}

impl Proxy {
    async fn start(upstream: &str, mode: Mode) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(&upstream).await.unwrap();
                tokio::spawn(serve(client, upstream, mode, shared.clone()));
            }
        });
        Proxy { endpoint, seen }
    }
}

/// One HTTP/1.1 message: head lines and body.
struct Message {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// Replaces the body, fixing Content-Length and dropping the body checksum.
    fn set_body(&mut self, body: Vec<u8>) {
        self.head.retain(|line| {
            let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
            name != "content-length" && name != "x-amz-crc32"
        });
        self.head.push(format!("Content-Length: {}", body.len()));
        self.body = body;
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.head.join("\r\n").into_bytes();
        bytes.extend_from_slice(b"\r\n\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

async fn read_message(stream: &mut (impl AsyncRead + Unpin)) -> Option<Message> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head: Vec<String> = String::from_utf8_lossy(&buffer[..head_end])
        .split("\r\n")
        .map(str::to_owned)
        .collect();
    let mut message = Message {
        head,
        body: buffer[head_end + 4..].to_vec(),
    };
    let length: usize = message
        .header("content-length")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    while message.body.len() < length {
        let mut chunk = vec![0u8; length - message.body.len()];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        message.body.extend_from_slice(&chunk[..n]);
    }
    Some(message)
}

/// Splits the list at `pointer` in `body` in two: keeps the first half in the request
/// and returns the rest (nothing when the list is too short to split).
fn withhold(body: &mut Value, pointer: &str) -> Vec<Value> {
    let Some(Value::Array(list)) = body.pointer_mut(pointer) else {
        return Vec::new();
    };
    if list.len() < 2 {
        return Vec::new();
    }
    let half = list.len() / 2;
    list.split_off(half)
}

async fn serve(mut client: TcpStream, mut upstream: TcpStream, mode: Mode, seen: Arc<Mutex<Seen>>) {
    while let Some(mut request) = read_message(&mut client).await {
        let target = request.header("x-amz-target").unwrap_or("").to_owned();
        let operation = target.rsplit('.').next().unwrap_or("").to_owned();
        let mut withheld: Option<(String, Vec<Value>)> = None;
        if operation == "BatchWriteItem" || operation == "BatchGetItem" {
            let mut body: Value = serde_json::from_slice(&request.body).unwrap();
            let table = body["RequestItems"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            let first = {
                let mut seen = seen.lock().unwrap();
                if operation == "BatchWriteItem" {
                    seen.write_calls += 1;
                    seen.withheld_writes == 0
                } else {
                    seen.get_calls += 1;
                    seen.withheld_keys == 0
                }
            };
            if first || mode == Mode::Always {
                let escaped = table.replace('~', "~0").replace('/', "~1");
                let pointer = if operation == "BatchWriteItem" {
                    format!("/RequestItems/{escaped}")
                } else {
                    format!("/RequestItems/{escaped}/Keys")
                };
                let rest = withhold(&mut body, &pointer);
                if !rest.is_empty() {
                    let mut seen = seen.lock().unwrap();
                    if operation == "BatchWriteItem" {
                        seen.withheld_writes += rest.len();
                    } else {
                        seen.withheld_keys += rest.len();
                    }
                    drop(seen);
                    request.set_body(serde_json::to_vec(&body).unwrap());
                    withheld = Some((table, rest));
                }
            }
        }
        if upstream.write_all(&request.to_bytes()).await.is_err() {
            return;
        }
        let Some(mut response) = read_message(&mut upstream).await else {
            return;
        };
        if let Some((table, rest)) = withheld {
            let mut body: Value = serde_json::from_slice(&response.body).unwrap();
            if operation == "BatchWriteItem" {
                body["UnprocessedItems"] = json!({ table: rest });
            } else {
                body["UnprocessedKeys"] = json!({ table: {"Keys": rest, "ConsistentRead": true} });
            }
            response.set_body(serde_json::to_vec(&body).unwrap());
        }
        if client.write_all(&response.to_bytes()).await.is_err() {
            return;
        }
    }
}

fn value(i: usize) -> JsonObject {
    json!({"i": i, "pad": "x".repeat(i)})
        .as_object()
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_items_are_retried_until_every_item_is_there() {
    let test = "key-value-dynamodb unprocessed batch items";
    let Some(endpoint) = common::endpoint(test, Emulator::Dynalite) else {
        return;
    };
    let table = common::unique_table("unprocessed");
    let direct = common::store(&endpoint, &table).await;
    let proxy = Proxy::start(&endpoint, Mode::Once).await;
    let proxied = common::store(&proxy.endpoint, &table).await;

    let keys: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values: Vec<JsonObject> = (0..60).map(value).collect();
    proxied
        .put_many(&keys, values.clone(), None, Some("c"))
        .await
        .unwrap();
    {
        let seen = proxy.seen.lock().unwrap();
        assert!(seen.withheld_writes > 0, "the proxy withheld no write");
        // 60 items are 3 chunks; the withheld half of one made at least one more call.
        assert!(
            seen.write_calls > 3,
            "{} BatchWriteItem calls",
            seen.write_calls
        );
    }
    let expected: Vec<Option<JsonObject>> = values.into_iter().map(Some).collect();
    assert_eq!(direct.get_many(&keys, Some("c")).await.unwrap(), expected);

    assert_eq!(proxied.get_many(&keys, Some("c")).await.unwrap(), expected);
    let seen = proxy.seen.lock().unwrap();
    assert!(seen.withheld_keys > 0, "the proxy withheld no key");
    assert!(seen.get_calls > 1, "{} BatchGetItem calls", seen.get_calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_stays_throttled_fails_after_bounded_retries() {
    let test = "key-value-dynamodb throttled batch";
    let Some(endpoint) = common::endpoint(test, Emulator::Dynalite) else {
        return;
    };
    let table = common::unique_table("throttled");
    // The direct store creates the table; the proxied one only uses it.
    let _direct = common::store(&endpoint, &table).await;
    let proxy = Proxy::start(&endpoint, Mode::Always).await;
    let retry = BatchRetry {
        max_attempts: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    let proxied = DynamoDbStore::builder(&table)
        .sdk_config(&emulator_config(&proxy.endpoint).await)
        .batch_retry(retry)
        .build()
        .await
        .unwrap();
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let values: Vec<JsonObject> = (0..keys.len()).map(value).collect();
    let err = proxied
        .put_many(&keys, values, None, Some("c"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("unprocessed"), "{err}");
    assert_eq!(proxy.seen.lock().unwrap().write_calls, 3);
}
