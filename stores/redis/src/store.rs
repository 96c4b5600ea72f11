//! [`RedisStore`]: the [`Backend`] over a single Redis server or a Redis Cluster.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, SystemTime};

use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Document, Entry, Error, ErrorKind, Result,
    async_trait, validate_default_collection,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo, Slot};
use redis::{Cmd, FromRedisValue, Pipeline, Value};

use crate::error::{from_redis, unexpected_reply};
use crate::layout::{ALL_PATTERN, collection_pattern, owner, redis_key, written_for};

/// Default time to set up one TCP (and TLS) connection.
const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time to wait for the reply to one command or pipeline.
const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of reconnection attempts after a connection breaks, per operation.
const DEFAULT_RECONNECT_RETRIES: usize = 2;
/// Default `COUNT` hint of each `SCAN` call.
const DEFAULT_SCAN_COUNT: usize = 1000;
/// Keys per `DEL` when removing a whole collection.
const DELETE_CHUNK: usize = 1000;
/// Rounds of a `put_if_absent` that meets an entry changing under it before it gives up.
const LEASE_ATTEMPTS: usize = 4;
/// `KEYS[1]` := `ARGV[2]` (with `PX ARGV[3]` unless empty) if it still holds `ARGV[1]`;
/// returns 1 if it did. One key, so it runs on a cluster too.
const SWAP_IF_UNCHANGED: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) \
    else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end \
    return 1 end return 0";

/// The two kinds of connection the store runs over.
#[derive(Clone)]
enum Connection {
    /// One server (or a proxy), reconnected by the client library after failures.
    Single(ConnectionManager),
    /// A Redis Cluster: commands routed by slot, topology followed by the client library.
    Cluster(ClusterConnection),
}

/// A store in Redis, on a single server or a Redis Cluster, laid out as py-key-value lays
/// it out (see the [crate documentation](crate)).
///
/// Build one with [`RedisStore::connect`], [`RedisStore::connect_cluster`], or
/// [`RedisStore::builder`] for timeouts, a default collection, or a client or connection
/// you already have. A store is cheap to clone (clones share the connection) and
/// reconnects on its own after the server restarts: operations attempted while the
/// server cannot be reached fail with a retryable [`ErrorKind::Connection`] error.
///
/// Names that share a Redis key (collection `a`, key `b::c` and collection `a::b`, key
/// `c`: both `a::b::c`, as in py-key-value) share one entry: the last write wins, and
/// reads under the other name find nothing (see the [crate documentation](crate)).
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    default_collection: String,
    scan_count: usize,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Connection details may hold a password: name the kind only.
        let mode = match self.connection {
            Connection::Single(_) => "single",
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("default_collection", &self.default_collection)
            .finish_non_exhaustive()
    }
}

/// Options of a [`RedisStore`], and the ways to connect it.
///
/// ```no_run
/// # async fn demo() -> key_value_core::Result<()> {
/// use std::time::Duration;
/// use key_value_redis::RedisStore;
///
/// let store = RedisStore::builder()
///     .default_collection("tokens")
///     .response_timeout(Duration::from_secs(2))
///     .connect("redis://:secret@127.0.0.1:6379/2")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStoreBuilder {
    default_collection: String,
    connection_timeout: Duration,
    response_timeout: Duration,
    reconnect_retries: usize,
    scan_count: usize,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("default_collection", &self.default_collection)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("reconnect_retries", &self.reconnect_retries)
            .field("scan_count", &self.scan_count)
            .finish()
    }
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        RedisStoreBuilder {
            default_collection: DEFAULT_COLLECTION.to_owned(),
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            reconnect_retries: DEFAULT_RECONNECT_RETRIES,
            scan_count: DEFAULT_SCAN_COUNT,
        }
    }
}

impl RedisStoreBuilder {
    /// The collection used when an operation is given `None` (default
    /// `"default_collection"`, as in py-key-value).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = collection.into();
        self
    }

    /// How long one connection attempt may take (default 5 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long to wait for the reply to one command or batch (default 10 s). An
    /// operation that waits longer fails with a retryable [`ErrorKind::Connection`] error.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How many times to retry connecting, with a short backoff, before an operation
    /// gives up while the server is unreachable (default 2). Single-server stores only;
    /// a cluster connection retries as its client library decides.
    pub fn reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// The `COUNT` hint of each `SCAN` call that enumeration and `destroy_collection`
    /// make (default 1000).
    pub fn scan_count(mut self, count: usize) -> Self {
        self.scan_count = count.max(1);
        self
    }

    fn check(&self) -> Result<()> {
        validate_default_collection("redis", &self.default_collection)
    }

    fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(self.reconnect_retries)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
    }

    fn build(self, connection: Connection) -> RedisStore {
        RedisStore {
            connection,
            default_collection: self.default_collection,
            scan_count: self.scan_count,
        }
    }

    /// Connects to one server: `redis://[[user]:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS (rustls, with the system's root certificates), or
    /// `redis+unix:///path?db=N`.
    pub async fn connect(self, url: &str) -> Result<RedisStore> {
        self.check()?;
        if is_tls(url) {
            install_crypto_provider();
        }
        let client = redis::Client::open(url).map_err(|e| setup_error("redis URL", e))?;
        self.client(client).await
    }

    /// Connects through a client you have already configured.
    pub async fn client(self, client: redis::Client) -> Result<RedisStore> {
        self.check()?;
        let manager = ConnectionManager::new_with_config(client, self.manager_config())
            .await
            .map_err(from_redis)?;
        Ok(self.build(Connection::Single(manager)))
    }

    /// Uses a connection manager you already have (its timeouts and retries apply; the
    /// builder's do not).
    pub fn connection_manager(self, manager: ConnectionManager) -> Result<RedisStore> {
        self.check()?;
        Ok(self.build(Connection::Single(manager)))
    }

    /// Connects to a Redis Cluster through any of its nodes (`redis://` or `rediss://`
    /// URLs; every node is found from them). A cluster has database 0 only.
    pub async fn connect_cluster<I, S>(self, nodes: I) -> Result<RedisStore>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.check()?;
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(Error::new(
                ErrorKind::Setup,
                "a Redis Cluster needs at least one node URL",
            ));
        }
        if nodes.iter().any(|url| is_tls(url)) {
            install_crypto_provider();
        }
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(self.connection_timeout)
            .response_timeout(self.response_timeout)
            // Bounds the client library's own retries and redirects too.
            .overall_response_timeout(Some(self.response_timeout))
            .build()
            .map_err(|e| setup_error("cluster node URLs", e))?;
        self.cluster_client(client).await
    }

    /// Connects through a cluster client you have already configured.
    pub async fn cluster_client(self, client: ClusterClient) -> Result<RedisStore> {
        self.check()?;
        let connection = client.get_async_connection().await.map_err(from_redis)?;
        Ok(self.build(Connection::Cluster(connection)))
    }

    /// Uses a cluster connection you already have.
    pub fn cluster_connection(self, connection: ClusterConnection) -> Result<RedisStore> {
        self.check()?;
        Ok(self.build(Connection::Cluster(connection)))
    }
}

fn is_tls(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss:"))
}

/// rustls needs a process-wide crypto provider; install ring's unless the program
/// already chose one (several providers compiled in would otherwise leave none).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn setup_error(what: &str, err: redis::RedisError) -> Error {
    Error::new(
        ErrorKind::Setup,
        format!("invalid {what}: {}", err.category()),
    )
    .with_source(err)
}

impl RedisStore {
    /// Connects to one server with the default options (see
    /// [`RedisStoreBuilder::connect`] for the URL forms).
    pub async fn connect(url: &str) -> Result<Self> {
        RedisStore::builder().connect(url).await
    }

    /// Connects to a Redis Cluster through any of its nodes, with the default options.
    pub async fn connect_cluster<I, S>(nodes: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        RedisStore::builder().connect_cluster(nodes).await
    }

    /// Options before connecting.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// Whether the store runs over a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let result = match &self.connection {
            Connection::Single(manager) => cmd.query_async(&mut manager.clone()).await,
            Connection::Cluster(cluster) => cmd.query_async(&mut cluster.clone()).await,
        };
        result.map_err(from_redis)
    }

    async fn exec_pipeline(&self, pipeline: &Pipeline) -> Result<()> {
        let result = match &self.connection {
            Connection::Single(manager) => pipeline.exec_async(&mut manager.clone()).await,
            Connection::Cluster(cluster) => pipeline.exec_async(&mut cluster.clone()).await,
        };
        result.map_err(from_redis)
    }

    /// Every Redis key matching `pattern` with what it holds, until `enough` says stop:
    /// one `SCAN` page at a time (on every primary of a cluster), each page's documents
    /// fetched with one `MGET`. `enough` gets the Redis key and its document: `None` when
    /// the key vanished since the scan, `Some(Err)` when the document is unreadable. A
    /// key may be seen twice (`SCAN` may repeat keys).
    async fn scan(
        &self,
        pattern: &str,
        mut enough: impl FnMut(Vec<u8>, Option<Result<Document>>) -> bool,
    ) -> Result<()> {
        let nodes = match &self.connection {
            Connection::Single(_) => vec![None],
            Connection::Cluster(cluster) => primaries(&mut cluster.clone())
                .await?
                .into_iter()
                .map(Some)
                .collect(),
        };
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(self.scan_count);
                let (next, page): (u64, Vec<Vec<u8>>) = match (&self.connection, &node) {
                    (Connection::Cluster(cluster), Some((host, port))) => {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        });
                        let reply = cluster
                            .clone()
                            .route_command(cmd, routing)
                            .await
                            .map_err(from_redis)?;
                        FromRedisValue::from_redis_value(reply)
                            .map_err(|_| unexpected_reply("SCAN"))?
                    }
                    _ => self.query(&cmd).await?,
                };
                if !page.is_empty() {
                    let mut mget = redis::cmd("MGET");
                    mget.arg(&page);
                    let documents: Vec<Option<Vec<u8>>> = self.query(&mget).await?;
                    if documents.len() != page.len() {
                        return Err(unexpected_reply("MGET"));
                    }
                    for (stored, document) in page.into_iter().zip(documents) {
                        let document = document.map(|bytes| Document::parse(&bytes));
                        if enough(stored, document) {
                            return Ok(());
                        }
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    /// Writes `(redis key, document, expiry in ms)` triples: in one `MULTI` pipeline on a
    /// single server, in one pipeline per slot (sent at once) on a cluster.
    async fn set_all(&self, items: Vec<(String, String, Option<u64>)>) -> Result<()> {
        fn set(pipeline: &mut Pipeline, key: String, document: String, px: Option<u64>) {
            let cmd = pipeline.cmd("SET").arg(key).arg(document);
            if let Some(px) = px {
                cmd.arg("PX").arg(px);
            }
            cmd.ignore();
        }
        match &self.connection {
            Connection::Single(_) => {
                let mut pipeline = redis::pipe();
                pipeline.atomic();
                for (key, document, px) in items {
                    set(&mut pipeline, key, document, px);
                }
                self.exec_pipeline(&pipeline).await
            }
            Connection::Cluster(cluster) => {
                let mut by_slot: HashMap<Slot, Pipeline> = HashMap::new();
                for (key, document, px) in items {
                    let pipeline = by_slot.entry(Slot::for_key(&key)).or_default();
                    set(pipeline, key, document, px);
                }
                let sends = by_slot.into_values().map(|pipeline| {
                    let mut connection = cluster.clone();
                    async move { pipeline.exec_async(&mut connection).await }
                });
                futures_util::future::try_join_all(sends)
                    .await
                    .map_err(from_redis)?;
                Ok(())
            }
        }
    }

    async fn delete_keys(&self, keys: &[String]) -> Result<usize> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(keys);
        let removed: u64 = self.query(&cmd).await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}

/// The `(host, port)` of every primary of the cluster, from `CLUSTER SLOTS`.
async fn primaries(cluster: &mut ClusterConnection) -> Result<Vec<(String, u16)>> {
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("SLOTS");
    let reply = cluster
        .route_command(cmd, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random))
        .await
        .map_err(from_redis)?;
    let Value::Array(ranges) = reply else {
        return Err(unexpected_reply("CLUSTER SLOTS"));
    };
    let mut nodes = Vec::new();
    for range in ranges {
        // [start, end, [host, port, id, ...], replicas...]
        let Value::Array(fields) = range else {
            return Err(unexpected_reply("CLUSTER SLOTS"));
        };
        let Some(Value::Array(primary)) = fields.into_iter().nth(2) else {
            return Err(unexpected_reply("CLUSTER SLOTS"));
        };
        let mut primary = primary.into_iter();
        let (Some(host), Some(port)) = (primary.next(), primary.next()) else {
            return Err(unexpected_reply("CLUSTER SLOTS"));
        };
        let host: String = FromRedisValue::from_redis_value(host)
            .map_err(|_| unexpected_reply("CLUSTER SLOTS"))?;
        let port: u16 = FromRedisValue::from_redis_value(port)
            .map_err(|_| unexpected_reply("CLUSTER SLOTS"))?;
        if !nodes.contains(&(host.clone(), port)) {
            nodes.push((host, port));
        }
    }
    Ok(nodes)
}

/// Native expiry of an entry written at `now`: milliseconds left, rounded up so that
/// Redis never drops an entry before its `expires_at`.
fn expiry_millis(entry: &Entry, now: SystemTime) -> Option<u64> {
    entry.expires_at.map(|at| {
        let left = at.duration_since(now).unwrap_or_default();
        u64::try_from(left.as_nanos().div_ceil(1_000_000))
            .unwrap_or(u64::MAX)
            .max(1)
    })
}

/// The entry a Redis key holds for (`collection`, `key`): `None` when the key is
/// missing or its document was written for another name sharing the Redis key (see
/// the [crate documentation](crate)).
fn decode(document: Option<Vec<u8>>, collection: &str, key: &str) -> Result<Option<Entry>> {
    let Some(bytes) = document else {
        return Ok(None);
    };
    let document = Document::parse(&bytes)?;
    Ok(written_for(&document, collection, key).then_some(document.entry))
}

/// A listed Redis key's owner, unless the key vanished or its entry has expired (an
/// entry whose document cannot be read is listed: enumeration shows it, so that it
/// can be replaced or deleted).
fn listed(
    stored: &[u8],
    document: Option<Result<Document>>,
    now: SystemTime,
) -> Option<(String, String)> {
    match document? {
        Ok(document) if document.entry.is_expired(now) => None,
        Ok(document) => owner(stored, Some(&document)),
        Err(_) => owner(stored, None),
    }
}

#[async_trait]
impl Backend for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    fn default_collection(&self) -> &str {
        &self.default_collection
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: true,
            list_collections: true,
            destroy_collection: true,
            destroy: true,
            cull: false,
            // MULTI/EXEC on one server; a cluster cannot span slots in one transaction.
            atomic_put_many: !self.is_cluster(),
            max_entry_bytes: None,
            max_entries_per_collection: None,
            // SET NX, on one key: a cluster too.
            put_if_absent: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(redis_key(collection, key));
        decode(self.query(&cmd).await?, collection, key)
    }

    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let mut cmd = redis::cmd("MGET");
        for key in keys {
            cmd.arg(redis_key(collection, key));
        }
        let documents: Vec<Option<Vec<u8>>> = self.query(&cmd).await?;
        if documents.len() != keys.len() {
            return Err(unexpected_reply("MGET"));
        }
        documents
            .into_iter()
            .zip(keys)
            .map(|(document, key)| decode(document, collection, key).map_err(|e| e.with_key(key)))
            .collect()
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let document = entry.to_document(collection, key)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(redis_key(collection, key)).arg(document);
        if let Some(px) = expiry_millis(&entry, SystemTime::now()) {
            cmd.arg("PX").arg(px);
        }
        self.query::<()>(&cmd).await
    }

    /// `SET key doc NX [PX ms]`. When a key is there whose document says it expired
    /// (py-key-value rounds its native expiry up to whole seconds), it is replaced by a
    /// script that sets the new document only if the old one is still in place.
    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let stored = redis_key(collection, key);
        let document = entry.to_document(collection, key)?;
        for _ in 0..LEASE_ATTEMPTS {
            let now = SystemTime::now();
            let px = expiry_millis(&entry, now);
            let mut set = redis::cmd("SET");
            set.arg(&stored).arg(&document).arg("NX");
            if let Some(px) = px {
                set.arg("PX").arg(px);
            }
            let reply: Option<String> = self.query(&set).await?;
            if reply.is_some() {
                return Ok(true);
            }
            let mut get = redis::cmd("GET");
            get.arg(&stored);
            let Some(current) = self.query::<Option<Vec<u8>>>(&get).await? else {
                // Removed since: try again.
                continue;
            };
            let expired = Document::parse(&current)
                .is_ok_and(|current| current.entry.is_expired(SystemTime::now()));
            if !expired {
                return Ok(false);
            }
            let mut swap = redis::cmd("EVAL");
            swap.arg(SWAP_IF_UNCHANGED)
                .arg(1)
                .arg(&stored)
                .arg(current)
                .arg(&document)
                .arg(px.map(|px| px.to_string()).unwrap_or_default());
            let swapped: i64 = self.query(&swap).await?;
            if swapped == 1 {
                return Ok(true);
            }
        }
        // Changed under us at every attempt: another caller is taking it.
        Ok(false)
    }

    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        let now = SystemTime::now();
        let items = entries
            .into_iter()
            .map(|(key, entry)| {
                let document = entry
                    .to_document(collection, key)
                    .map_err(|e| e.with_key(key))?;
                Ok((
                    redis_key(collection, key),
                    document,
                    expiry_millis(&entry, now),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.set_all(items).await
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        Ok(self.delete_keys(&[redis_key(collection, key)]).await? > 0)
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let stored: Vec<String> = keys.iter().map(|key| redis_key(collection, key)).collect();
        self.delete_keys(&stored).await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let now = SystemTime::now();
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        self.scan(&collection_pattern(collection), |stored, document| {
            if let Some((owner, key)) = listed(&stored, document, now)
                && owner == collection
                && seen.insert(key.clone())
            {
                keys.push(key);
            }
            limit.is_some_and(|limit| keys.len() >= limit)
        })
        .await?;
        Ok(keys)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let now = SystemTime::now();
        let mut seen = HashSet::new();
        let mut collections = Vec::new();
        self.scan(ALL_PATTERN, |stored, document| {
            if let Some((collection, _)) = listed(&stored, document, now)
                && seen.insert(collection.clone())
            {
                collections.push(collection);
            }
            limit.is_some_and(|limit| collections.len() >= limit)
        })
        .await?;
        Ok(collections)
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let mut stored_keys = HashSet::new();
        self.scan(&collection_pattern(collection), |stored, document| {
            let document = match document {
                None => return false,
                Some(document) => document.ok(),
            };
            if owner(&stored, document.as_ref()).is_some_and(|(owner, _)| owner == collection)
                && let Ok(stored) = String::from_utf8(stored)
            {
                stored_keys.insert(stored);
            }
            false
        })
        .await?;
        let stored: Vec<String> = stored_keys.into_iter().collect();
        let mut removed = 0;
        for chunk in stored.chunks(DELETE_CHUNK) {
            removed += self.delete_keys(chunk).await?;
        }
        Ok(removed > 0)
    }

    async fn remove_all(&self) -> Result<bool> {
        // DBSIZE and FLUSHDB go to every primary of a cluster.
        let size: u64 = self.query(&redis::cmd("DBSIZE")).await?;
        self.query::<()>(&redis::cmd("FLUSHDB")).await?;
        Ok(size > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_rounded_up_to_whole_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let entry = |left: Duration| Entry {
            value: Default::default(),
            created_at: Some(now),
            expires_at: Some(now + left),
        };
        assert_eq!(
            expiry_millis(&entry(Duration::from_micros(1_500)), now),
            Some(2)
        );
        assert_eq!(expiry_millis(&entry(Duration::from_nanos(1)), now), Some(1));
        assert_eq!(
            expiry_millis(&entry(Duration::from_secs(60)), now),
            Some(60_000)
        );
        let forever = Entry {
            expires_at: None,
            ..entry(Duration::ZERO)
        };
        assert_eq!(expiry_millis(&forever, now), None);
    }

    #[test]
    fn tls_urls_are_recognised() {
        assert!(is_tls("rediss://host:6380"));
        assert!(is_tls("REDISS://host"));
        assert!(!is_tls("redis://host"));
        assert!(!is_tls("redis"));
    }
}
