//! The whole conformance suite against dynalite (strict validation, no TTL support),
//! a fresh table per case.

mod common;

key_value_conformance::suite!(|| common::fixture(
    key_value_test_support::dynamodb::Emulator::Dynalite
));
