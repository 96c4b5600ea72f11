//! The Redis store. Needs a Redis server: set `REDIS_URL` (e.g.
//! `redis://127.0.0.1:6379/0`) to run it; without it the example says so and exits 0.
//!
//! Run with `REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p examples --example redis_store`.

#[cfg(feature = "redis")]
async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    use std::time::Duration;

    use key_value::prelude::*;
    use key_value::redis::RedisStore;

    let store = RedisStore::connect(url).await?;
    let collection = "keyvalue-example";
    let mut token = JsonObject::new();
    token.insert("access_token".into(), "example-only".into());
    store
        .put(
            "github",
            token,
            Some(Duration::from_secs(60)),
            Some(collection),
        )
        .await?;
    if let Some((_, Some(left))) = store.ttl("github", Some(collection)).await? {
        println!(
            "1. stored a value with a 60 s expiry in Redis; {} ms left",
            left.as_millis()
        );
    }
    println!(
        "2. keys in the collection: {:?}",
        store.keys(Some(collection), None).await?
    );
    store.destroy_collection(collection).await?;
    println!("3. removed the example's collection again");
    Ok(())
}

#[cfg(not(feature = "redis"))]
async fn run(_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("this build has no Redis support: build the examples with the `redis` feature");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => run(&url).await,
        _ => {
            println!("set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run this example");
            Ok(())
        }
    }
}
