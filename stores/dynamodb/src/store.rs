//! [`DynamoDbStore`]: the [`Backend`] over one DynamoDB table.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use futures_util::{StreamExt, stream};
use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Entry, Error, ErrorKind, Result, async_trait,
    validate_collection, validate_default_collection, validate_key,
};

use crate::batch::{self, BatchRetry};
use crate::config::{config_from_env, https_client};
use crate::error::{build_error, from_sdk};
use crate::item::{self, COLLECTION, Item, KEY, MAX_ENTRY_BYTES, VALUE};
use crate::names::stored_key;
use crate::table::{self, TableSetup};

/// Rounds of a `put_if_absent` that meets an entry changing under it before it gives up.
const LEASE_ATTEMPTS: usize = 4;

/// Single-item requests in flight at once for one `delete_many` or `cull`.
const CONCURRENT_REQUESTS: usize = 32;

/// A store in one DynamoDB table, in py-key-value's layout (see the crate docs).
///
/// Cheap to share: hold it in an `Arc`, or clone the [`Client`] for other work.
pub struct DynamoDbStore {
    client: Client,
    table: String,
    default_collection: String,
    retry: BatchRetry,
}

impl fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbStore")
            .field("table", &self.table)
            .field("default_collection", &self.default_collection)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`DynamoDbStore`]; start with [`DynamoDbStore::builder`].
#[derive(Clone)]
pub struct DynamoDbStoreBuilder {
    table: String,
    client: Option<Client>,
    sdk_config: Option<SdkConfig>,
    setup: TableSetup,
    default_collection: Option<String>,
    retry: BatchRetry,
}

impl fmt::Debug for DynamoDbStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbStoreBuilder")
            .field("table", &self.table)
            .field("auto_create", &self.setup.auto_create)
            .field("enable_ttl", &self.setup.enable_ttl)
            .field("default_collection", &self.default_collection)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl DynamoDbStoreBuilder {
    /// The SDK configuration to build a client from (region, credentials, endpoint).
    /// Without one (and without [`client`](Self::client)) the environment's is
    /// loaded with [`config_from_env`](crate::config_from_env).
    pub fn sdk_config(mut self, config: &SdkConfig) -> Self {
        self.sdk_config = Some(config.clone());
        self
    }

    /// A ready DynamoDB client to use instead of building one.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Whether to create the table when it is missing (default: yes). When off, a
    /// missing table is a [`ErrorKind::Setup`] error.
    pub fn auto_create(mut self, auto_create: bool) -> Self {
        self.setup.auto_create = auto_create;
        self
    }

    /// Whether to enable DynamoDB's expiry on the `ttl` attribute (default: yes).
    /// Reads hide expired entries either way; DynamoDB's expiry only frees space.
    pub fn enable_ttl(mut self, enable_ttl: bool) -> Self {
        self.setup.enable_ttl = enable_ttl;
        self
    }

    /// The collection used when an operation is given `None`
    /// (default: [`DEFAULT_COLLECTION`]).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// How items DynamoDB leaves unprocessed in batch calls are retried.
    pub fn batch_retry(mut self, retry: BatchRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Checks the settings, connects, and makes sure the table exists.
    pub async fn build(self) -> Result<DynamoDbStore> {
        let setup_error =
            |message: String| Error::new(ErrorKind::Setup, message).with_store("dynamodb");
        check_table_name(&self.table).map_err(setup_error)?;
        let default_collection = self
            .default_collection
            .unwrap_or_else(|| DEFAULT_COLLECTION.to_owned());
        validate_default_collection("dynamodb", &default_collection)?;
        let client = match (self.client, self.sdk_config) {
            (Some(client), _) => client,
            (None, Some(config)) => client_for(&config)?,
            (None, None) => client_for(&config_from_env().await)?,
        };
        table::ensure(&client, &self.table, self.setup)
            .await
            .map_err(|e| e.with_store("dynamodb"))?;
        Ok(DynamoDbStore {
            client,
            table: self.table,
            default_collection,
            retry: self.retry,
        })
    }
}

/// A client for `config`, with this crate's HTTPS client when the config has none.
fn client_for(config: &SdkConfig) -> Result<Client> {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
    if config.http_client().is_none() {
        builder = builder.http_client(https_client());
    }
    let conf = builder.build();
    // The SDK panics on an incomplete configuration; report it as a setup error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Client::from_conf(conf))).map_err(
        |_| {
            Error::new(
                ErrorKind::Setup,
                "the SDK configuration is incomplete (see the panic message above)",
            )
            .with_store("dynamodb")
        },
    )
}

/// DynamoDB's table name rules: 3 to 255 of `a-z A-Z 0-9 _ - .` (some emulators accept
/// more; refusing here keeps a program from working only against an emulator).
fn check_table_name(table: &str) -> std::result::Result<(), String> {
    let valid = (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{table:?} is not a valid DynamoDB table name (3 to 255 characters of a-z, A-Z, 0-9, `_`, `-`, `.`)"
        ))
    }
}

/// What to walk through: one collection (Query) or the whole table (Scan).
#[derive(Clone, Copy)]
enum Scope<'a> {
    Collection(&'a str),
    Table,
}

impl DynamoDbStore {
    /// Settings for a store in `table`.
    pub fn builder(table: impl Into<String>) -> DynamoDbStoreBuilder {
        DynamoDbStoreBuilder {
            table: table.into(),
            client: None,
            sdk_config: None,
            setup: TableSetup {
                auto_create: true,
                enable_ttl: true,
            },
            default_collection: None,
            retry: BatchRetry::default(),
        }
    }

    /// A store in `table` with the default settings, using `config` (see
    /// [`emulator_config`](crate::emulator_config) for local emulators).
    pub async fn new(config: &SdkConfig, table: impl Into<String>) -> Result<Self> {
        DynamoDbStore::builder(table)
            .sdk_config(config)
            .build()
            .await
    }

    /// The DynamoDB client the store uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table the store uses.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Stores `document` as the stored form of `key` in `collection` (`None`: the
    /// default collection) exactly as given, with a `ttl` attribute taken from the
    /// document's `expires_at` when it has a readable one.
    ///
    /// For migrations and tests that plant stored data; normal writes go through
    /// `put`. The document is not checked beyond its size.
    pub async fn put_document(
        &self,
        collection: Option<&str>,
        key: &str,
        document: &str,
    ) -> Result<()> {
        let collection = collection.unwrap_or(&self.default_collection);
        validate_collection(collection)?;
        validate_key(key)?;
        let expires_at = Entry::from_document(document.as_bytes())
            .ok()
            .and_then(|entry| entry.expires_at);
        let item = item::item_for_document(collection, key, document.to_owned(), expires_at)?;
        self.put_item(item).await
    }

    async fn put_item(&self, item: Item) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("PutItem", e))?;
        Ok(())
    }

    /// The stored item of `key`, read consistently.
    async fn read_item(&self, collection: &str, key: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::primary_key(collection, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem", e))?;
        Ok(out.item)
    }

    /// Puts `item` under a condition; returns whether the condition held.
    /// `unchanged`: only if the stored document is still that one; `None`: only if no
    /// item is there or its whole-second `ttl` lies before the current second (so it
    /// surely expired: the attribute is the expiry rounded down).
    async fn put_item_if(&self, item: Item, unchanged: Option<&str>) -> Result<bool> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = match unchanged {
            Some(document) => request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VALUE)
                .expression_attribute_values(":v", AttributeValue::S(document.to_owned())),
            None => request
                .condition_expression("attribute_not_exists(#k) OR #t < :now")
                .expression_attribute_names("#k", KEY)
                .expression_attribute_names("#t", item::TTL)
                .expression_attribute_values(
                    ":now",
                    AttributeValue::N(item::ttl_seconds(SystemTime::now()).to_string()),
                ),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(from_sdk("PutItem", e)),
        }
    }

    /// Walks every item of `scope`, page by page, until `visit` breaks.
    async fn each_item(
        &self,
        scope: Scope<'_>,
        mut visit: impl FnMut(Item) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut start: Option<Item> = None;
        loop {
            let (items, next) = match scope {
                Scope::Collection(collection) => {
                    let out = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("#c = :c")
                        .expression_attribute_names("#c", COLLECTION)
                        .expression_attribute_values(
                            ":c",
                            AttributeValue::S(
                                crate::names::stored_collection(collection).into_owned(),
                            ),
                        )
                        .consistent_read(true)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| from_sdk("Query", e))?;
                    (out.items, out.last_evaluated_key)
                }
                Scope::Table => {
                    let out = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .consistent_read(true)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| from_sdk("Scan", e))?;
                    (out.items, out.last_evaluated_key)
                }
            };
            for item in items.unwrap_or_default() {
                if visit(item).is_break() {
                    return Ok(());
                }
            }
            match next {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(()),
            }
        }
    }

    /// Deletes every item of `scope` in batches; returns whether any was live.
    async fn delete_scope(&self, scope: Scope<'_>) -> Result<bool> {
        let now = SystemTime::now();
        let mut any_live = false;
        let mut keys = Vec::new();
        self.each_item(scope, |item| {
            any_live |= item::is_live(&item, now);
            if let Some(key) = item::key_of(&item) {
                keys.push(key);
            }
            ControlFlow::Continue(())
        })
        .await?;
        let requests = keys
            .into_iter()
            .map(delete_request)
            .collect::<Result<Vec<_>>>()?;
        batch::write_all(&self.client, &self.table, requests, self.retry).await?;
        Ok(any_live)
    }

    /// Deletes `key` (a stored primary key) and says whether a live entry was there;
    /// with `unchanged`, only if its document is still that one.
    async fn delete_item(&self, key: Item, unchanged: Option<&str>) -> Result<bool> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values(ReturnValue::AllOld);
        if let Some(document) = unchanged {
            request = request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VALUE)
                .expression_attribute_values(":v", AttributeValue::S(document.to_owned()));
        }
        match request.send().await {
            Ok(out) => Ok(out
                .attributes
                .is_some_and(|old| item::is_live(&old, SystemTime::now()))),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(from_sdk("DeleteItem", e)),
        }
    }
}

impl DynamoDbStore {
    async fn delete_key(&self, collection: &str, key: &str) -> Result<bool> {
        self.delete_item(item::primary_key(collection, key), None)
            .await
            .map_err(|e| e.with_key(key))
    }

    async fn delete_unchanged(&self, key: Item, document: String) -> Result<bool> {
        self.delete_item(key, Some(&document)).await
    }
}

fn delete_request(key: Item) -> Result<WriteRequest> {
    let delete = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(build_error)?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

fn put_request(item: Item) -> Result<WriteRequest> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(build_error)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// The keys without repeats, in first-seen order.
fn distinct<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter()
        .copied()
        .filter(|key| seen.insert(*key))
        .collect()
}

#[async_trait]
impl Backend for DynamoDbStore {
    fn name(&self) -> &str {
        "dynamodb"
    }

    fn default_collection(&self) -> &str {
        &self.default_collection
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: true,
            // The next three scan the whole table: fine for a token cache, costly
            // for a large table.
            list_collections: true,
            destroy_collection: true,
            destroy: true,
            cull: true,
            atomic_put_many: false,
            max_entry_bytes: Some(MAX_ENTRY_BYTES),
            max_entries_per_collection: None,
            // A conditional PutItem.
            put_if_absent: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let item = self.read_item(collection, key).await?;
        item.as_ref().map(item::decode).transpose()
    }

    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let wanted = distinct(keys);
        let primary_keys = wanted
            .iter()
            .map(|key| item::primary_key(collection, key))
            .collect();
        let found = batch::get_all(&self.client, &self.table, primary_keys, self.retry).await?;
        let by_stored_key: HashMap<String, Item> = found
            .into_iter()
            .filter_map(|item| match item.get(KEY) {
                Some(AttributeValue::S(stored)) => Some((stored.clone(), item)),
                _ => None,
            })
            .collect();
        keys.iter()
            .map(|key| {
                by_stored_key
                    .get(stored_key(key).as_ref())
                    .map(|item| item::decode(item).map_err(|e| e.with_key(key)))
                    .transpose()
            })
            .collect()
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        self.put_item(item::encode(collection, key, &entry)?).await
    }

    /// One conditional `PutItem`: stored if no item is there or its `ttl` second has
    /// passed. An item whose `ttl` is the current second (the attribute is rounded down)
    /// is read, and replaced, if its document says it expired, by a second `PutItem`
    /// conditioned on that document being unchanged.
    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let item = item::encode(collection, key, &entry)?;
        for _ in 0..LEASE_ATTEMPTS {
            if self.put_item_if(item.clone(), None).await? {
                return Ok(true);
            }
            let Some(current) = self.read_item(collection, key).await? else {
                // Deleted since: try again.
                continue;
            };
            let expired =
                item::decode(&current).is_ok_and(|stored| stored.is_expired(SystemTime::now()));
            if !expired {
                return Ok(false);
            }
            let Some(AttributeValue::S(document)) = current.get(VALUE) else {
                return Ok(false);
            };
            if self.put_item_if(item.clone(), Some(document)).await? {
                return Ok(true);
            }
        }
        // Changed under us at every attempt: another caller is taking it.
        Ok(false)
    }

    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        // Encode everything first: an oversized entry fails the call before any write.
        // BatchWriteItem refuses a repeated key, so the last entry per key wins here.
        let mut items: HashMap<&str, Item> = HashMap::with_capacity(entries.len());
        for (key, entry) in &entries {
            let encoded = item::encode(collection, key, entry).map_err(|e| e.with_key(key))?;
            items.insert(key, encoded);
        }
        if items.len() == 1 {
            let Some(item) = items.into_values().next() else {
                return Ok(());
            };
            return self.put_item(item).await;
        }
        let requests = items
            .into_values()
            .map(put_request)
            .collect::<Result<Vec<_>>>()?;
        batch::write_all(&self.client, &self.table, requests, self.retry).await
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        self.delete_item(item::primary_key(collection, key), None)
            .await
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        // One DeleteItem per key (concurrently): BatchWriteItem cannot say what existed.
        let deletes: Vec<_> = distinct(keys)
            .into_iter()
            .map(|key| self.delete_key(collection, key))
            .collect();
        let results: Vec<Result<bool>> = stream::iter(deletes)
            .buffer_unordered(CONCURRENT_REQUESTS)
            .collect()
            .await;
        let mut removed = 0;
        for result in results {
            removed += usize::from(result?);
        }
        Ok(removed)
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let limit = limit.unwrap_or(usize::MAX);
        let now = SystemTime::now();
        let mut keys = Vec::new();
        self.each_item(Scope::Collection(collection), |item| {
            if item::is_live(&item, now)
                && let Some(key) = item::listed_key(&item)
            {
                keys.push(key);
            }
            if keys.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
        Ok(keys)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let limit = limit.unwrap_or(usize::MAX);
        let now = SystemTime::now();
        let mut seen = HashSet::new();
        let mut collections = Vec::new();
        self.each_item(Scope::Table, |item| {
            if let Some(collection) = item::listed_collection(&item)
                && !seen.contains(&collection)
                && item::is_live(&item, now)
            {
                seen.insert(collection.clone());
                collections.push(collection);
            }
            if collections.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
        Ok(collections)
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        self.delete_scope(Scope::Collection(collection)).await
    }

    async fn remove_all(&self) -> Result<bool> {
        self.delete_scope(Scope::Table).await
    }

    async fn remove_expired(&self) -> Result<()> {
        let now = SystemTime::now();
        let mut expired: Vec<(Item, String)> = Vec::new();
        self.each_item(Scope::Table, |item| {
            if !item::is_live(&item, now)
                && let (Some(key), Some(AttributeValue::S(document))) =
                    (item::key_of(&item), item.get(VALUE))
            {
                expired.push((key, document.clone()));
            }
            ControlFlow::Continue(())
        })
        .await?;
        // Conditional deletes: an entry rewritten since the scan is kept.
        let deletes: Vec<_> = expired
            .into_iter()
            .map(|(key, document)| self.delete_unchanged(key, document))
            .collect();
        let results: Vec<Result<bool>> = stream::iter(deletes)
            .buffer_unordered(CONCURRENT_REQUESTS)
            .collect()
            .await;
        results.into_iter().try_for_each(|result| result.map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(check_table_name("keyvalue").is_ok());
        assert!(check_table_name("a.b-c_1").is_ok());
        for bad in ["ab", "has space", "tab/le", &"t".repeat(256)] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn distinct_keeps_first_seen_order() {
        assert_eq!(distinct(&["b", "a", "b", "c", "a"]), vec!["b", "a", "c"]);
    }
}
