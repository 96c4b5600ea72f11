//! Typed access: put and get any serde type without building JSON maps by hand.

use std::any::type_name;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::entry::JsonObject;
use crate::error::{Error, ErrorKind, Result};
use crate::store::AsyncKeyValue;

/// Turns a value into the JSON object a store holds.
///
/// Values must serialize to a JSON object (a struct with named fields, or a map);
/// anything else is an [`ErrorKind::Serialization`] error, as the stored format has
/// no room for a bare number or list.
pub fn to_object<T: Serialize + ?Sized>(value: &T) -> Result<JsonObject> {
    match serde_json::to_value(value) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::new(
            ErrorKind::Serialization,
            format!(
                "a {} does not serialize to a JSON object; store it inside a struct with named fields",
                type_name::<T>()
            ),
        )),
        Err(e) => Err(Error::new(
            ErrorKind::Serialization,
            format!("a {} could not be serialized", type_name::<T>()),
        )
        .with_source(e)),
    }
}

/// Reads a stored JSON object as a `T`.
///
/// A mismatch is an [`ErrorKind::Deserialization`] error naming the type. The message
/// never quotes the stored data, which may be a secret.
pub fn from_object<T: DeserializeOwned>(object: JsonObject) -> Result<T> {
    serde_json::from_value(Value::Object(object)).map_err(|_| {
        Error::new(
            ErrorKind::Deserialization,
            format!("the stored value is not a valid {}", type_name::<T>()),
        )
    })
}

/// Typed versions of the store operations, for every store.
///
/// ```
/// # async fn demo(store: &dyn key_value_core::AsyncKeyValue) -> key_value_core::Result<()> {
/// use key_value_core::AsyncKeyValueExt;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Session { user: String, visits: u32 }
///
/// let session = Session { user: "ada".into(), visits: 3 };
/// store.put_as("s1", &session, None, Some("sessions")).await?;
/// let back: Option<Session> = store.get_as("s1", Some("sessions")).await?;
/// assert_eq!(back, Some(session));
/// # Ok(()) }
/// ```
#[async_trait]
pub trait AsyncKeyValueExt: AsyncKeyValue {
    /// [`AsyncKeyValue::get`], read as a `T`.
    async fn get_as<T: DeserializeOwned>(
        &self,
        key: &str,
        collection: Option<&str>,
    ) -> Result<Option<T>> {
        let value = self.get(key, collection).await?;
        value
            .map(from_object)
            .transpose()
            .map_err(|e| with_names(e, collection, key))
    }

    /// [`AsyncKeyValue::get_many`], read as `T`s.
    async fn get_many_as<T: DeserializeOwned>(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<T>>> {
        let values = self.get_many(keys, collection).await?;
        keys.iter()
            .zip(values)
            .map(|(key, value)| {
                value
                    .map(from_object)
                    .transpose()
                    .map_err(|e| with_names(e, collection, key))
            })
            .collect()
    }

    /// [`AsyncKeyValue::ttl`], read as a `T`.
    async fn ttl_as<T: DeserializeOwned>(
        &self,
        key: &str,
        collection: Option<&str>,
    ) -> Result<Option<(T, Option<Duration>)>> {
        match self.ttl(key, collection).await? {
            None => Ok(None),
            Some((value, ttl)) => {
                let value = from_object(value).map_err(|e| with_names(e, collection, key))?;
                Ok(Some((value, ttl)))
            }
        }
    }

    /// [`AsyncKeyValue::put`] of any value that serializes to a JSON object.
    async fn put_as<T: Serialize + Sync + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let object = to_object(value).map_err(|e| with_names(e, collection, key))?;
        self.put(key, object, ttl, collection).await
    }

    /// [`AsyncKeyValue::put_many`] of values that serialize to JSON objects.
    async fn put_many_as<T: Serialize + Sync>(
        &self,
        keys: &[&str],
        values: &[T],
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        // Lengths are left to `put_many`, which refuses a mismatch in its own words.
        let objects = values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                to_object(value).map_err(|e| match keys.get(i) {
                    Some(key) => with_names(e, collection, key),
                    None => e,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.put_many(keys, objects, ttl, collection).await
    }
}

impl<S: AsyncKeyValue + ?Sized> AsyncKeyValueExt for S {}

fn with_names(err: Error, collection: Option<&str>, key: &str) -> Error {
    match collection {
        Some(collection) => err.with_collection(collection).with_key(key),
        None => err.with_key(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Token {
        access_token: String,
        expires_in: Option<u64>,
    }

    #[test]
    fn structs_round_trip() {
        let token = Token {
            access_token: "abc".into(),
            expires_in: Some(3600),
        };
        let object = to_object(&token).unwrap();
        assert_eq!(object["access_token"], "abc");
        assert_eq!(from_object::<Token>(object).unwrap(), token);
    }

    #[test]
    fn non_objects_are_refused_with_advice() {
        let err = to_object(&vec![1, 2, 3]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        assert!(err.message().contains("struct with named fields"), "{err}");
        assert_eq!(to_object(&42).unwrap_err().kind(), ErrorKind::Serialization);
    }

    #[test]
    fn mismatches_name_the_type_but_not_the_data() {
        let mut object = JsonObject::new();
        object.insert("access_token".into(), Value::from(17));
        object.insert("secret".into(), Value::from("s3cr3t"));
        let err = from_object::<Token>(object).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization);
        assert!(err.message().contains("Token"), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
    }
}
