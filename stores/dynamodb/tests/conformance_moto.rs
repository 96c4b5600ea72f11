//! The whole conformance suite against moto's server (TTL enabled, but expired items
//! are never deleted: the store's own expiry checks are what the TTL cases see), a
//! fresh table per case.

mod common;

key_value_conformance::suite!(|| common::fixture(key_value_test_support::dynamodb::Emulator::Moto));
