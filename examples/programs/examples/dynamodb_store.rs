//! The DynamoDB store. Needs DynamoDB or an emulator: set `DYNAMODB_ENDPOINT` (e.g.
//! `http://127.0.0.1:4567` for dynalite) to run it; without it the example says so and
//! exits 0.
//!
//! Run with `DYNAMODB_ENDPOINT=http://127.0.0.1:4567 cargo run -p examples --example dynamodb_store`.

#[cfg(feature = "dynamodb")]
async fn run(endpoint: &str) -> Result<(), Box<dyn std::error::Error>> {
    use key_value::dynamodb::{DynamoDbStore, emulator_config};
    use key_value::prelude::*;

    let config = emulator_config(endpoint).await;
    // The table is created on first use.
    let store = DynamoDbStore::builder("keyvalue-example")
        .sdk_config(&config)
        .build()
        .await?;
    let mut value = JsonObject::new();
    value.insert("region".into(), "eu-west-1".into());
    store.put("settings", value, None, Some("example")).await?;
    println!(
        "1. stored a value in table keyvalue-example: {:?}",
        store.get("settings", Some("example")).await?
    );
    println!(
        "2. deleted it again: {}",
        store.delete("settings", Some("example")).await?
    );
    Ok(())
}

#[cfg(not(feature = "dynamodb"))]
async fn run(_endpoint: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("this build has no DynamoDB support: build the examples with the `dynamodb` feature");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => run(&endpoint).await,
        _ => {
            println!("set DYNAMODB_ENDPOINT (e.g. http://127.0.0.1:4567) to run this example");
            Ok(())
        }
    }
}
