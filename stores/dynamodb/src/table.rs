//! Making sure the table exists with py-key-value's key schema, and that DynamoDB's
//! own expiry is switched on where the service offers it.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use key_value_core::{Error, ErrorKind, Result};

use crate::error::{build_error, from_sdk};
use crate::item::{COLLECTION, KEY, TTL};

/// How long a new table may stay in the CREATING state.
const CREATE_TIMEOUT: Duration = Duration::from_secs(120);

/// What [`ensure`] may do besides checking the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableSetup {
    pub(crate) auto_create: bool,
    pub(crate) enable_ttl: bool,
}

/// Checks (and if allowed creates) the table, then enables TTL on `ttl` if asked.
pub(crate) async fn ensure(client: &Client, table: &str, setup: TableSetup) -> Result<()> {
    let description = match describe(client, table).await? {
        // Another process has just created it: wait, as for a table of our own.
        Some(description) if description.table_status() == Some(&TableStatus::Creating) => {
            wait_until_active(client, table).await?
        }
        Some(description) => description,
        None if setup.auto_create => create(client, table).await?,
        None => {
            return Err(Error::new(
                ErrorKind::Setup,
                format!("the DynamoDB table {table:?} does not exist and auto_create is off"),
            ));
        }
    };
    check_schema(table, &description)?;
    if setup.enable_ttl {
        enable_ttl(client, table).await;
    }
    Ok(())
}

async fn describe(client: &Client, table: &str) -> Result<Option<TableDescription>> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => Ok(out.table),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(from_sdk("DescribeTable", e)),
    }
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

/// Creates the table (another process creating it at the same time is fine) and waits
/// until it is active.
async fn create(client: &Client, table: &str) -> Result<TableDescription> {
    let created = client
        .create_table()
        .table_name(table)
        .key_schema(key_element(COLLECTION, KeyType::Hash)?)
        .key_schema(key_element(KEY, KeyType::Range)?)
        .attribute_definitions(string_attribute(COLLECTION)?)
        .attribute_definitions(string_attribute(KEY)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(table, "created the DynamoDB table"),
        Err(e) if e.code() == Some("ResourceInUseException") => {}
        Err(e) => return Err(from_sdk("CreateTable", e)),
    }
    wait_until_active(client, table).await
}

/// Waits until the table leaves the CREATING state (up to [`CREATE_TIMEOUT`]).
async fn wait_until_active(client: &Client, table: &str) -> Result<TableDescription> {
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(20);
    loop {
        if let Some(description) = describe(client, table).await?
            && description.table_status() == Some(&TableStatus::Active)
        {
            return Ok(description);
        }
        if started.elapsed() > CREATE_TIMEOUT {
            return Err(Error::new(
                ErrorKind::Setup,
                format!(
                    "the DynamoDB table {table:?} did not become active within {} s",
                    CREATE_TIMEOUT.as_secs()
                ),
            ));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

/// Refuses a table whose primary key is not `collection` (hash) + `key` (range).
fn check_schema(table: &str, description: &TableDescription) -> Result<()> {
    let schema = description.key_schema();
    let has = |name: &str, key_type: KeyType| {
        schema
            .iter()
            .any(|element| element.attribute_name() == name && *element.key_type() == key_type)
    };
    if schema.is_empty()
        || (schema.len() == 2 && has(COLLECTION, KeyType::Hash) && has(KEY, KeyType::Range))
    {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Setup,
        format!(
            "the DynamoDB table {table:?} exists with another primary key; this store needs \
             `{COLLECTION}` (partition key, string) and `{KEY}` (sort key, string)"
        ),
    ))
}

/// Enables DynamoDB's expiry on `ttl`. Reads check expiry themselves, so a service
/// without TTL support (such as dynalite) or without permission only gets a warning.
async fn enable_ttl(client: &Client, table: &str) {
    let status = match client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
    {
        Ok(out) => out
            .time_to_live_description
            .and_then(|description| description.time_to_live_status().cloned()),
        Err(e) => {
            let e = from_sdk("DescribeTimeToLive", e);
            tracing::warn!(table, error = %e, "could not read the table's TTL setting; expired items stay until overwritten or deleted");
            return;
        }
    };
    if !matches!(status, None | Some(TimeToLiveStatus::Disabled)) {
        return; // enabled, enabling, or being disabled by someone on purpose
    }
    let specification = match TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL)
        .build()
    {
        Ok(specification) => specification,
        Err(e) => {
            tracing::warn!(table, error = %e, "could not build the TTL setting");
            return;
        }
    };
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
    {
        Ok(_) => tracing::info!(table, attribute = TTL, "enabled DynamoDB TTL"),
        Err(e) => {
            let e = from_sdk("UpdateTimeToLive", e);
            tracing::warn!(table, error = %e, "could not enable DynamoDB TTL; expired items stay until overwritten or deleted (reads still hide them)");
        }
    }
}
