//! The whole conformance suite against dynalite (strict validation, no TTL support),
//! a fresh table per case.

mod common;

keyvalue_conformance::suite!(|| common::fixture(
    keyvalue_test_support::dynamodb::Emulator::Dynalite
));
