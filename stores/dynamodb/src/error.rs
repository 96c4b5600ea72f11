//! SDK errors as key-value errors: connection trouble and throttling are retryable
//! `Connection` errors, a missing table is `Setup`, everything else `Backend`.

use std::fmt::Debug;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use key_value_core::{Error, ErrorKind};

/// Error codes DynamoDB uses for "slow down" or "try again".
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
    "TransactionConflictException",
];

/// Converts a failed `operation` (such as `"GetItem"`) into a key-value error.
pub(crate) fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let kind = match (&err, code.as_deref()) {
        (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_), _) => ErrorKind::Connection,
        (SdkError::ResponseError(_), _) => ErrorKind::Connection,
        (_, Some(code)) if RETRYABLE_CODES.contains(&code) => ErrorKind::Connection,
        (_, Some("ResourceNotFoundException")) => ErrorKind::Setup,
        _ => ErrorKind::Backend,
    };
    let detail = match (code.as_deref(), err.message()) {
        (Some(code), Some(message)) if !message.is_empty() => format!("{code}: {message}"),
        (Some(code), _) => code.to_owned(),
        (None, _) => err.to_string(),
    };
    Error::new(kind, format!("DynamoDB {operation} failed ({detail})")).with_source(err)
}

/// A request the SDK refused to build (a required field missing: a bug here).
pub(crate) fn build_error(e: BuildError) -> Error {
    Error::new(ErrorKind::Backend, "could not build a DynamoDB request").with_source(e)
}
