//! SDK configuration with this crate's HTTP stack: hyper 1 and rustls on the `ring`
//! provider (the SDK's default stack is left out to avoid building aws-lc).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The region [`emulator_config`] uses.
pub const EMULATOR_REGION: &str = "us-east-1";

/// The HTTPS client this crate gives the SDK: rustls with the `ring` provider and the
/// platform's root certificates. Use it in an `SdkConfig` you build yourself.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration from the environment, as the AWS tools read it (region,
/// credentials chain, `AWS_ENDPOINT_URL`, profiles), with [`https_client`].
pub async fn config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK configuration for a local emulator (dynalite, moto, DynamoDB Local) at
/// `endpoint`, such as `http://127.0.0.1:4567`: region [`EMULATOR_REGION`] and fixed
/// dummy credentials, which emulators accept and never check.
pub async fn emulator_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .endpoint_url(endpoint)
        .region(Region::new(EMULATOR_REGION))
        .credentials_provider(Credentials::new(
            "keyvalue-emulator",
            "keyvalue-emulator",
            None,
            None,
            "keyvalue-emulator",
        ))
        .load()
        .await
}
