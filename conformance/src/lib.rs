//! The conformance suite of the key-value store contract.
//!
//! Every store of the family passes it, and so should yours: add this crate as a
//! dev-dependency and call [`suite!`] once with a function that makes a fresh store.
//! Each case becomes its own `#[test]`, named after the case, so `cargo test` and
//! `cargo nextest` list, filter and run them in parallel:
//!
//! ```
//! // tests/conformance.rs
//! async fn new_store() -> key_value_memory::MemoryStore {
//!     key_value_memory::MemoryStore::new()
//! }
//!
//! key_value_conformance::suite!(new_store);
//! # fn main() {}
//! ```
//!
//! The cases cover py-key-value's shared store tests and the stricter rules of the
//! contract: names (a corpus of nasty keys and collections), TTL rules, exact value
//! round trips, batch semantics, collection isolation, enumeration and destruction,
//! corrupted and Python-written stored data, bounded stores, and concurrency. Cases for
//! optional capabilities run only when the store declares them
//! ([`Capabilities`](key_value_core::Capabilities)); otherwise they report "not
//! applicable" on standard error and in the file named by `KEYVALUE_NOT_APPLICABLE_LOG`
//! (see [`record_skip`]), and they check that the undeclared operations fail
//! with `Unsupported` rather than panic.
//!
//! Each case works in collections of its own, with a random tag in their names, and
//! removes them afterwards, so cases can run at once against one shared server. For
//! such a server, return `Fixture::new(store).shared()` so that the case which wipes
//! the whole store is not run. To check how your store reads raw stored documents
//! (corrupted entries, entries written by Python), give the fixture a [`RawAccess`].
//!
//! Without the macro, [`CASES`] lists every case, [`run_case`] runs one and
//! [`run_all`] runs them all.

mod cases;
pub mod corpus;
mod fixture;
mod harness;
mod processes;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use fixture::{Fixture, Hostile, IntoFixture, RawAccess};
pub use harness::{CaseError, Ctx, Outcome};
pub use processes::lease_race_across_processes;

#[doc(hidden)]
pub use tokio as __tokio;

use fixture::Setup;

/// The future a case returns.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One case of the suite.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name, also the name of its generated test.
    pub name: &'static str,
    run: for<'a> fn(&'a Ctx) -> CaseFuture<'a>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// The one list of cases; [`suite!`] and [`CASES`] are both made from it.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_cases {
    ($callback:ident $args:tt) => {
        $crate::$callback! { $args
            // basic operations
            get_missing_is_none, ttl_missing_is_none, delete_missing_is_false, put_then_get,
            get_put_get, put_overwrites, put_delete_get, delete_twice,
            default_collection_round_trip, unsupported_operations_are_errors,
            // batches
            get_many_missing, get_many_empty_list, put_many_then_get_many,
            put_many_then_get_each, put_each_then_get_many, get_many_keeps_order_and_gaps,
            put_many_empty_is_ok, put_many_mismatched_lengths_write_nothing,
            put_many_duplicate_keys_last_wins, put_many_overwrites, delete_many_counts_existing,
            delete_many_then_get_many, delete_many_empty_is_zero,
            delete_many_duplicate_keys_count_once, ttl_many_reports_each,
            put_many_with_ttl_sets_each, put_many_invalid_key_writes_nothing,
            // time to live
            put_without_ttl_has_no_expiry, put_with_ttl_reports_remaining,
            ttl_has_millisecond_precision, put_without_ttl_clears_expiry,
            put_with_new_ttl_replaces_old, expired_entry_reads_as_missing,
            expired_entry_is_replaced_by_put, long_ttl_is_kept, zero_ttl_is_invalid,
            huge_ttl_is_invalid, invalid_ttl_writes_nothing, put_many_invalid_ttl_writes_nothing,
            // names
            empty_key_is_invalid, empty_collection_is_invalid, oversized_key_is_invalid,
            oversized_collection_is_invalid, nul_in_names_is_invalid, longest_key_works,
            longest_collection_works, special_keys_round_trip, special_collections_round_trip,
            similar_keys_stay_distinct, similar_collections_stay_distinct,
            separator_lookalikes_stay_distinct, special_keys_are_listed_as_written,
            special_collections_are_listed_as_written,
            // values
            nested_values_round_trip, unicode_values_round_trip, integer_edges_round_trip,
            float_values_round_trip, null_and_booleans_round_trip, empty_object_round_trips,
            string_escapes_round_trip, large_value_round_trips, oversized_value_is_refused,
            reserved_looking_fields_round_trip, typed_values_round_trip,
            // isolation
            same_key_in_two_collections, delete_in_one_collection_keeps_other,
            default_and_named_collections_are_separate, put_many_is_isolated,
            destroy_collection_keeps_others, listing_is_per_collection,
            // enumeration and destruction
            keys_of_empty_collection, keys_lists_written_keys, keys_respects_limit,
            keys_skips_deleted, keys_skips_expired, collections_lists_written,
            collections_respects_limit, destroy_collection_removes_entries,
            destroy_removes_everything, cull_keeps_live_entries,
            store_usable_after_destroy_collection,
            // concurrency
            concurrent_writers_distinct_keys, concurrent_readers_see_whole_values,
            concurrent_mixed_operations, concurrent_collections, concurrent_batches,
            // the lease primitive
            put_if_absent_creates_only_once, put_if_absent_keeps_its_ttl,
            put_if_absent_takes_over_an_expired_entry, put_if_absent_race_has_one_winner,
            put_if_absent_invalid_input_writes_nothing,
            // bounded stores
            bounded_store_stays_within_bound, bounded_store_keeps_latest_write,
            bounded_store_bound_is_per_collection,
            // stored data
            corrupted_entry_is_a_clear_error, truncated_entry_is_a_clear_error,
            corrupted_entry_does_not_break_listing, corrupted_entry_can_be_replaced,
            newer_version_is_refused, python_documents_are_read,
            wrong_typed_fields_are_an_error_for_that_key_alone,
            special_file_in_place_of_an_entry_is_an_error_for_that_key_alone,
            link_out_of_the_root_is_never_followed, foreign_files_are_never_listed,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __case_registry {
    (() $($name:ident),* $(,)?) => {
        /// Every case of the suite, in a stable order.
        pub static CASES: &[Case] = &[
            $( Case { name: stringify!($name), run: |ctx| Box::pin(cases::$name(ctx)) } ),*
        ];
    };
}

__with_cases!(__case_registry());

#[doc(hidden)]
#[macro_export]
macro_rules! __case_tests {
    (($factory:expr) $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::__run_test(stringify!($name), || async { ($factory)().await });
            }
        )*
    };
}

/// Generates one `#[test]` per case, each running against a fresh fixture from
/// `factory`: a function or closure returning a future of a store or a [`Fixture`].
///
/// Call it at module level, for example in `tests/conformance.rs`. The generated
/// tests go in a module named `conformance`.
///
/// ```
/// use key_value_conformance::Fixture;
///
/// key_value_conformance::suite!(|| async {
///     match std::env::var("MY_SERVER_URL") {
///         Ok(_url) => Fixture::new(key_value_memory::MemoryStore::new()).shared(),
///         Err(_) => Fixture::skip("MY_SERVER_URL is not set"),
///     }
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! suite {
    ($factory:expr $(,)?) => {
        #[cfg(test)]
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__with_cases!(__case_tests($factory));
        }
    };
}

/// Records a skipped test in the file named by the `KEYVALUE_SKIP_LOG` environment
/// variable, if it is set. Test runners hide the standard error of passing tests, so a
/// test script can list every skip from this file at the end of a run.
///
/// Conformance cases that do not apply to a store (it does not declare a capability
/// they need) are not skips: the tests [`suite!`] generates record each of them, one
/// line with the case, the test binary and the reason, in the file named by the
/// `KEYVALUE_NOT_APPLICABLE_LOG` environment variable instead, when it is set.
pub fn record_skip(line: &str) {
    append_line("KEYVALUE_SKIP_LOG", line);
}

/// Appends `line` to the file named by environment variable `variable`, if it is set.
/// Best effort: a log that cannot be written must not fail the test.
fn append_line(variable: &str, line: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os(variable) else {
        return;
    };
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write call per line, so lines of concurrent test processes do not mix.
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

/// Records that case `name` did not apply, in `KEYVALUE_NOT_APPLICABLE_LOG` (see
/// [`record_skip`]), with the test binary that ran it.
fn record_not_applicable(name: &str, why: &str) {
    append_line(
        "KEYVALUE_NOT_APPLICABLE_LOG",
        &format!("conformance case `{name}` in {}: {why}", test_binary()),
    );
}

/// The test binary running this case: nextest's binary id (such as
/// `key-value-dynamodb::conformance_dynalite`), else the executable's name without the
/// hash Cargo adds, else `unknown test binary`.
fn test_binary() -> String {
    if let Ok(id) = std::env::var("NEXTEST_BINARY_ID")
        && !id.is_empty()
    {
        return id;
    }
    let stem = std::env::current_exe().ok().and_then(|exe| {
        exe.file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
    });
    let Some(stem) = stem else {
        return "unknown test binary".to_owned();
    };
    // `conformance_dynalite-0123456789abcdef` -> `conformance_dynalite`.
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => stem,
    }
}

/// How one run of a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Every check held.
    Passed,
    /// A check failed; the message says which.
    Failed(String),
    /// The store does not declare what the case needs.
    NotApplicable(String),
    /// The fixture was a [`Fixture::skip`].
    Skipped(String),
}

/// How long one case may take before it fails as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one case against `fixture`, then removes what it wrote.
pub async fn run_case(case: &Case, fixture: impl IntoFixture) -> Report {
    let (store, raw, exclusive, compound_keys, guards) = match fixture.into_fixture().setup {
        Setup::Skip(reason) => return Report::Skipped(reason),
        Setup::Ready {
            store,
            raw,
            exclusive,
            compound_keys,
            guards,
        } => (store, raw, exclusive, compound_keys, guards),
    };
    let ctx = Ctx::new(case.name, store, raw, exclusive).with_compound_keys(compound_keys);
    let outcome = tokio::time::timeout(CASE_TIMEOUT, (case.run)(&ctx)).await;
    ctx.cleanup().await;
    // The store goes before what it depends on (a directory, a server).
    drop(ctx);
    drop(guards);
    match outcome {
        Err(_) => Report::Failed(format!(
            "the case did not finish within {} seconds",
            CASE_TIMEOUT.as_secs()
        )),
        Ok(Ok(())) => Report::Passed,
        Ok(Err(CaseError::Failed(why))) => Report::Failed(why),
        Ok(Err(CaseError::NotApplicable(why))) => Report::NotApplicable(why),
    }
}

/// Runs every case, one after another, each against a fresh fixture from `factory`,
/// and returns each case's name with its report. For harnesses other than
/// `cargo test`; [`suite!`] is the usual way.
pub async fn run_all<F, Fut>(factory: F) -> Vec<(&'static str, Report)>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: IntoFixture,
{
    let mut reports = Vec::with_capacity(CASES.len());
    for case in CASES {
        reports.push((case.name, run_case(case, factory().await).await));
    }
    reports
}

/// The case named `name`, if the suite has one.
pub fn case(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|case| case.name == name)
}

/// Runs the case `name` on its own runtime and turns its report into a test result.
/// Called by the tests [`suite!`] generates.
#[doc(hidden)]
#[allow(clippy::panic)]
pub fn __run_test<F, Fut>(name: &str, factory: F)
where
    F: FnOnce() -> Fut,
    Fut: Future,
    Fut::Output: IntoFixture,
{
    let Some(case) = case(name) else {
        panic!("the conformance suite has no case named {name}");
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("could not start a tokio runtime for {name}: {e}"),
    };
    let report = runtime.block_on(async { run_case(case, factory().await).await });
    match report {
        Report::Passed => {}
        Report::Failed(why) => panic!("conformance case `{name}` failed: {why}"),
        Report::NotApplicable(why) => {
            eprintln!("NOT APPLICABLE: conformance case `{name}`: {why}");
            record_not_applicable(name, &why);
        }
        Report::Skipped(why) => {
            if std::env::var("KEYVALUE_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!(
                    "conformance case `{name}` could not run ({why}) and KEYVALUE_REQUIRE_SERVERS=1"
                );
            }
            eprintln!(
                "\n!!! SKIPPED: conformance case `{name}` did not run: {why}\n\
                 !!! (set KEYVALUE_REQUIRE_SERVERS=1 to make this a failure)\n"
            );
            record_skip(&format!("conformance case `{name}`: {why}"));
        }
    }
}

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

    use std::process::Command;

    /// Marks the child process of the test below.
    const CHILD: &str = "KEYVALUE_CONFORMANCE_TEST_CHILD";

    /// The child process's part of the test below (elsewhere it does nothing): a case
    /// that does not apply to an unbounded store, through the same path as the tests
    /// `suite!` generates.
    #[test]
    fn not_applicable_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        super::__run_test("bounded_store_stays_within_bound", || async {
            key_value_memory::MemoryStore::new()
        });
    }

    #[test]
    fn not_applicable_cases_are_logged_apart_from_skips() {
        let dir = std::env::temp_dir();
        let tag = format!("{}-{:?}", std::process::id(), std::thread::current().id());
        let not_applicable = dir.join(format!("keyvalue-na-{tag}.log"));
        let skips = dir.join(format!("keyvalue-skips-{tag}.log"));
        let _ = std::fs::remove_file(&not_applicable);
        let _ = std::fs::remove_file(&skips);
        // A child process, so that the variables are set for it alone.
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::not_applicable_child"])
            .env(CHILD, "1")
            .env("KEYVALUE_NOT_APPLICABLE_LOG", &not_applicable)
            .env("KEYVALUE_SKIP_LOG", &skips)
            .status()
            .unwrap();
        assert!(status.success(), "{status}");
        let logged = std::fs::read_to_string(&not_applicable).unwrap_or_default();
        let _ = std::fs::remove_file(&not_applicable);
        let skipped = std::fs::read_to_string(&skips).unwrap_or_default();
        let _ = std::fs::remove_file(&skips);
        let lines: Vec<&str> = logged.lines().collect();
        assert_eq!(lines.len(), 1, "{logged:?}");
        let line = lines[0];
        assert!(
            line.contains("`bounded_store_stays_within_bound`"),
            "{line}"
        );
        assert!(line.contains("max_entries_per_collection"), "{line}");
        // nextest names the binary `key-value-conformance`, cargo test's file
        // `key_value_conformance-HASH`.
        let binary = line
            .split_once(" in ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map(|(binary, _)| binary.replace('-', "_"));
        assert_eq!(binary.as_deref(), Some("key_value_conformance"), "{line}");
        assert!(
            skipped.is_empty(),
            "a not-applicable case is no skip: {skipped}"
        );
    }
}
