//! The machinery of layers that act the same way around every operation (retry,
//! timeout, circuit breaker, bulkhead, rate limit, logging): each writes one
//! `around` method and [`around_every_operation!`] implements every data,
//! enumeration and destruction operation through it. `close`, `info` and
//! `capabilities` forward to the inner store.

/// What a layer sees of a call: the operation's name, its collection as given, and its
/// key (or how many keys, for batch operations). Never the value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// The operation, as the trait method is named (`"get"`, `"put_many"` …).
    pub operation: &'static str,
    /// The collection as the caller gave it (`None`: the store's default).
    pub collection: Option<&'a str>,
    /// The key of a single-key operation.
    pub key: Option<&'a str>,
    /// How many keys the call names (1 for single-key operations, 0 for the others).
    #[allow(dead_code)] // read by some layers only
    pub keys: usize,
}

impl<'a> Call<'a> {
    pub(crate) fn one(operation: &'static str, key: &'a str, collection: Option<&'a str>) -> Self {
        Call {
            operation,
            collection,
            key: Some(key),
            keys: 1,
        }
    }

    pub(crate) fn many(operation: &'static str, keys: usize, collection: Option<&'a str>) -> Self {
        Call {
            operation,
            collection,
            key: None,
            keys,
        }
    }

    /// Fills the error's store, collection and key where the inner store did not.
    #[allow(dead_code)] // not every layer makes errors of its own
    pub(crate) fn context(
        &self,
        error: key_value_core::Error,
        store: &str,
        default_collection: &str,
    ) -> key_value_core::Error {
        let error = error
            .with_store(store.to_owned())
            .with_collection(self.collection.unwrap_or(default_collection));
        match self.key {
            Some(key) => error.with_key(key),
            None => error,
        }
    }
}

/// The value an attempt passes on: `once` moves it (the layer calls the inner store at
/// most once per call), `repeat` clones it (the layer may call it again).
macro_rules! attempt_value {
    (once, $slot:ident) => {
        $slot.take().unwrap_or_default()
    };
    (repeat, $slot:ident) => {
        $slot.clone().unwrap_or_default()
    };
}

/// Implements `AsyncKeyValue` for `$store<S>` (a struct with the inner store in field
/// `$inner`) by calling `self.$around(call, || inner operation)` for every operation
/// but `close`. `$mode` is `once` or `repeat`, see [`attempt_value!`].
macro_rules! around_every_operation {
    ($store:ident, $inner:ident, $around:ident, $mode:ident) => {
        #[::async_trait::async_trait]
        impl<S: ::key_value_core::AsyncKeyValue> ::key_value_core::AsyncKeyValue for $store<S> {
            fn inner_store(&self) -> Option<&dyn ::key_value_core::AsyncKeyValue> {
                Some(&self.$inner)
            }

            async fn get(
                &self,
                key: &str,
                collection: Option<&str>,
            ) -> ::key_value_core::Result<Option<::key_value_core::JsonObject>> {
                let call = $crate::around::Call::one("get", key, collection);
                self.$around(call, || self.$inner.get(key, collection))
                    .await
            }

            async fn get_many(
                &self,
                keys: &[&str],
                collection: Option<&str>,
            ) -> ::key_value_core::Result<Vec<Option<::key_value_core::JsonObject>>> {
                let call = $crate::around::Call::many("get_many", keys.len(), collection);
                self.$around(call, || self.$inner.get_many(keys, collection))
                    .await
            }

            async fn ttl(
                &self,
                key: &str,
                collection: Option<&str>,
            ) -> ::key_value_core::Result<Option<::key_value_core::WithTtl>> {
                let call = $crate::around::Call::one("ttl", key, collection);
                self.$around(call, || self.$inner.ttl(key, collection))
                    .await
            }

            async fn ttl_many(
                &self,
                keys: &[&str],
                collection: Option<&str>,
            ) -> ::key_value_core::Result<Vec<Option<::key_value_core::WithTtl>>> {
                let call = $crate::around::Call::many("ttl_many", keys.len(), collection);
                self.$around(call, || self.$inner.ttl_many(keys, collection))
                    .await
            }

            async fn put(
                &self,
                key: &str,
                value: ::key_value_core::JsonObject,
                ttl: Option<::std::time::Duration>,
                collection: Option<&str>,
            ) -> ::key_value_core::Result<()> {
                let call = $crate::around::Call::one("put", key, collection);
                #[allow(unused_mut)] // only `once` takes the value out
                let mut slot = Some(value);
                self.$around(call, || {
                    self.$inner
                        .put(key, attempt_value!($mode, slot), ttl, collection)
                })
                .await
            }

            async fn put_many(
                &self,
                keys: &[&str],
                values: Vec<::key_value_core::JsonObject>,
                ttl: Option<::std::time::Duration>,
                collection: Option<&str>,
            ) -> ::key_value_core::Result<()> {
                let call = $crate::around::Call::many("put_many", keys.len(), collection);
                #[allow(unused_mut)] // only `once` takes the value out
                let mut slot = Some(values);
                self.$around(call, || {
                    self.$inner
                        .put_many(keys, attempt_value!($mode, slot), ttl, collection)
                })
                .await
            }

            async fn put_if_absent(
                &self,
                key: &str,
                value: ::key_value_core::JsonObject,
                ttl: Option<::std::time::Duration>,
                collection: Option<&str>,
            ) -> ::key_value_core::Result<bool> {
                let call = $crate::around::Call::one("put_if_absent", key, collection);
                #[allow(unused_mut)] // only `once` takes the value out
                let mut slot = Some(value);
                self.$around(call, || {
                    self.$inner
                        .put_if_absent(key, attempt_value!($mode, slot), ttl, collection)
                })
                .await
            }

            async fn delete(
                &self,
                key: &str,
                collection: Option<&str>,
            ) -> ::key_value_core::Result<bool> {
                let call = $crate::around::Call::one("delete", key, collection);
                self.$around(call, || self.$inner.delete(key, collection))
                    .await
            }

            async fn delete_many(
                &self,
                keys: &[&str],
                collection: Option<&str>,
            ) -> ::key_value_core::Result<usize> {
                let call = $crate::around::Call::many("delete_many", keys.len(), collection);
                self.$around(call, || self.$inner.delete_many(keys, collection))
                    .await
            }

            async fn keys(
                &self,
                collection: Option<&str>,
                limit: Option<usize>,
            ) -> ::key_value_core::Result<Vec<String>> {
                let call = $crate::around::Call::many("keys", 0, collection);
                self.$around(call, || self.$inner.keys(collection, limit))
                    .await
            }

            async fn collections(
                &self,
                limit: Option<usize>,
            ) -> ::key_value_core::Result<Vec<String>> {
                let call = $crate::around::Call::many("collections", 0, None);
                self.$around(call, || self.$inner.collections(limit)).await
            }

            async fn destroy_collection(&self, collection: &str) -> ::key_value_core::Result<bool> {
                let call = $crate::around::Call::many("destroy_collection", 0, Some(collection));
                self.$around(call, || self.$inner.destroy_collection(collection))
                    .await
            }

            async fn destroy(&self) -> ::key_value_core::Result<bool> {
                let call = $crate::around::Call::many("destroy", 0, None);
                self.$around(call, || self.$inner.destroy()).await
            }

            async fn cull(&self) -> ::key_value_core::Result<()> {
                let call = $crate::around::Call::many("cull", 0, None);
                self.$around(call, || self.$inner.cull()).await
            }
        }
    };
}
