//! `casestore-bench`, run by `cargo xtask bench casestore`: the case store with 1,000,000
//! synthetic cases (corpus.rs: Romanian and English requests with diacritics typed three
//! ways), measured against plain rusqlite inserts of the same rows in the same run.
//!
//! Parts, in order:
//! - **bulk**: all but the intake sample through [`casestore::Store::bulk_import`], 10,000
//!   cases per transaction, generated on a second thread;
//! - **intake**: the sample through [`casestore::Store::create_case`] (case, first message and
//!   one attachment's metadata, one transaction each) and through
//!   [`casestore::baseline::PlainInserts`] (the same rows, plain rusqlite, same durability),
//!   alternating in blocks; `intake_ratio_vs_raw_sqlite` is the store's rate over the
//!   baseline's; `intake_pages_per_case` and `raw_sqlite_pages_per_case` are the pages each
//!   side wrote per case (write-ahead log frames over its first 150 cases), what most of an
//!   intake's time goes to;
//! - **search**: the 50 most recent cases for common words, and scoped to one consulate;
//! - **queues**: agents' queue pages with filters and cursors;
//! - **size**: bytes on disk per case after a checkpoint, and a full recount of the counters.
//!
//! Output: a table, `target/bench/casestore.json` (flat numbers and booleans; full-size runs
//! only) and, last, `casestore: key=value …`. Targets are reported, never enforced.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

mod corpus;
mod measure;
mod portal;
mod report;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use casestore::baseline::PlainInserts;
use casestore::{Options, Store};

use crate::report::Report;

/// The size the targets are stated for.
const FULL: u64 = 1_000_000;
/// Cases timed through intake, on each side.
const SAMPLE: u64 = 10_000;

/// Progress on stderr, so stdout holds only the results.
macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("casestore-bench: {}", format_args!($($arg)*)) };
}
pub(crate) use progress;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Some((cases, sample))) => run(cases, sample),
        Ok(None) => {
            println!("usage: casestore-bench [--cases N] [--sample N]");
            println!(
                "       defaults: {FULL} cases (the only size that writes the JSON), {SAMPLE} timed intakes"
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("casestore-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Option<(u64, u64)>> {
    let (mut cases, mut sample) = (FULL, SAMPLE);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            let v = it
                .next()
                .with_context(|| format!("{name} takes a number"))?;
            v.replace('_', "")
                .parse()
                .with_context(|| format!("{name} {v}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--cases" => cases = value("--cases")?,
            "--sample" => sample = value("--sample")?,
            other => bail!("unknown argument `{other}`; see --help"),
        }
    }
    if sample == 0 || sample >= cases {
        bail!("--sample must be between 1 and --cases");
    }
    Ok(Some((cases, sample)))
}

fn run(cases: u64, sample: u64) -> Result<()> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("casestore-bench-")
        .tempdir()?;
    let store = std::sync::Arc::new(Store::open(
        dir.path().join("cases.db"),
        Options::default(),
    )?);
    let mut report = Report::default();
    report.num("cases", cases as f64);

    progress!("bulk import of {} cases", cases - sample);
    measure::bulk(&store, cases - sample, &mut report)?;
    store.optimize()?;
    progress!("intake: {sample} cases through the store and {sample} through plain rusqlite");
    let mut raw = PlainInserts::create(&dir.path().join("baseline.db"))?;
    measure::intake(&store, &mut raw, cases - sample, sample, &mut report)?;
    progress!("search");
    measure::search(&store, &mut report)?;
    progress!("queue pages");
    measure::queues(&store, &mut report)?;

    progress!(
        "portal: {} clients submitting requests with a PDF over HTTP",
        16
    );
    let submitted = portal::submit(store.clone(), dir.path(), &mut report)?;

    store.checkpoint()?;
    let count = store.case_count()?;
    report.num(
        "db_bytes_per_case",
        (store.storage_bytes()? / count.max(1)) as f64,
    );
    progress!("recounting every counter from the cases");
    let t = Instant::now();
    let mismatches = store.check_counters()?;
    report.num("counters_check_s", t.elapsed().as_secs_f64());
    report.flag(
        "counters_consistent",
        mismatches.is_empty() && count == cases + submitted,
    );
    report.num("total_s", started.elapsed().as_secs_f64());
    report.finish(cases == FULL)
}
