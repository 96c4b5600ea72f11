//! The cases, one `async fn` each, grouped by the rule they check.

mod basic;
mod batches;
mod bounded;
mod concurrency;
mod enumeration;
mod isolation;
mod lease;
mod names;
mod stored_data;
pub(crate) mod time_to_live;
mod values;

pub(crate) use basic::*;
pub(crate) use batches::*;
pub(crate) use bounded::*;
pub(crate) use concurrency::*;
pub(crate) use enumeration::*;
pub(crate) use isolation::*;
pub(crate) use lease::*;
pub(crate) use names::*;
pub(crate) use stored_data::*;
pub(crate) use time_to_live::*;
pub(crate) use values::*;
