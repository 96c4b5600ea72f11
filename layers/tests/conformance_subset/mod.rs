//! The conformance suite minus a documented list of cases, for layers that change the
//! contract on purpose (a prefix that takes bytes of the name limit, a default value
//! that makes missing keys readable).
//!
//! Every other case must pass; every excluded case must exist and must *not* pass
//! against the layer, so the list names exactly the cases the change breaks.

use std::future::Future;

use key_value_conformance::{CASES, IntoFixture, Report, case, run_case};

/// Runs every case against a fresh store from `factory`, the cases in `excluded`
/// expected to fail (each with the reason given), and panics with every surprise.
#[allow(clippy::panic)] // a failed check fails the test
pub fn run_except<F, Fut>(factory: F, excluded: &[(&str, &str)])
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoFixture + Send,
{
    for (name, _) in excluded {
        assert!(case(name).is_some(), "the suite has no case named {name}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("no runtime: {e}"),
    };
    let surprises = runtime.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for case in CASES {
            let factory = factory.clone();
            let expected_to_fail = excluded.iter().any(|(name, _)| *name == case.name);
            tasks.spawn(async move {
                let report = run_case(case, factory().await).await;
                (case.name, expected_to_fail, report)
            });
        }
        let mut surprises = Vec::new();
        let mut passed = 0;
        while let Some(joined) = tasks.join_next().await {
            let (name, expected_to_fail, report) = match joined {
                Ok(done) => done,
                Err(e) => {
                    surprises.push(format!("a case panicked: {e}"));
                    continue;
                }
            };
            match (expected_to_fail, report) {
                (false, Report::Passed) => passed += 1,
                (false, Report::NotApplicable(why)) => {
                    eprintln!("not applicable: {name}: {why}");
                }
                (false, other) => surprises.push(format!("{name}: {other:?}")),
                (true, Report::Passed) => {
                    surprises.push(format!("{name} passes: it need not be excluded"));
                }
                (true, _) => {}
            }
        }
        eprintln!(
            "{passed} cases passed, {} excluded with a reason",
            excluded.len()
        );
        surprises
    });
    assert!(surprises.is_empty(), "{surprises:#?}");
}
