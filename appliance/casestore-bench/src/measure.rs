//! The measured parts: bulk load, intake against plain rusqlite, search, queue pages.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use casestore::baseline::PlainInserts;
use casestore::{
    AgentId, Channel, Clock as _, ConsulateId, Language, PageSize, Priority, QueueFilter,
    QueueKind, QueueQuery, QueueSort, SearchQuery, Store, SystemClock, Timestamp, TypeCode,
};

use crate::corpus::{AGENTS, CONSULATES, Corpus, Rng};
use crate::progress;
use benchkit::percentile;

use crate::report::Report;

/// Cases per bulk-import transaction.
pub(crate) const BATCH: u64 = 10_000;
/// 2023-12-01T00:00:00Z: the first historical case.
const HISTORY_START_MS: i64 = 1_701_388_800_000;
/// Intake alternates between the store and the baseline in blocks of this many cases, so
/// that both see the same machine (other builds, page cache, disk) at the same moments.
const INTAKE_BLOCK: u64 = 250;

/// A baseline insert slower than this (p50) means fsync, not the work, sets both rates: on an
/// idle disk of the reference machine it is about 0.13 ms.
const SLOW_SYNC_MS: f64 = 1.0;

/// Cases over which the pages written per intake are counted: few enough that neither
/// write-ahead log reaches its checkpoint (8192 pages for the store, SQLite's 1000 for the
/// baseline) meanwhile.
const PAGES_SAMPLE: usize = 150;

/// Frames (pages written) in the write-ahead log of the database at `db`, read from the file's
/// size and the page size in its header (the WAL format: a 32-byte header, then frames of a
/// 24-byte header and one page).
fn wal_frames(db: &Path) -> Result<u64> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let mut header = [0u8; 32];
    let mut file = File::open(&wal).with_context(|| format!("opening {}", wal.display()))?;
    file.read_exact(&mut header)?;
    let page = u64::from(u32::from_be_bytes([
        header[8], header[9], header[10], header[11],
    ]));
    let len = file.metadata()?.len();
    Ok(len.saturating_sub(32) / (page + 24))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Loads `n` historical cases through [`Store::bulk_import`], generating them on a second
/// thread meanwhile.
pub(crate) fn bulk(store: &Store, n: u64, report: &mut Report) -> Result<()> {
    let end = SystemClock.now().unix_ms() - 86_400_000;
    let step = (end - HISTORY_START_MS) / i64::try_from(n.max(1))?;
    let (tx, rx) = mpsc::sync_channel(2);
    let generator = std::thread::spawn(move || -> Result<()> {
        let mut corpus = Corpus::new(1);
        let mut i = 0;
        while i < n {
            let upto = (i + BATCH).min(n);
            let mut batch = Vec::with_capacity(usize::try_from(upto - i)?);
            for k in i..upto {
                let at = Timestamp::from_unix_ms(HISTORY_START_MS + i64::try_from(k)? * step);
                batch.push(corpus.imported(k, n, at)?);
            }
            if tx.send(batch).is_err() {
                break; // the importer failed; it reports why
            }
            i = upto;
        }
        Ok(())
    });
    let started = Instant::now();
    let mut done = 0u64;
    for batch in rx {
        store.bulk_import(&batch).context("bulk import")?;
        done += batch.len() as u64;
        if done.is_multiple_of(100_000) {
            progress!(
                "bulk import: {done} cases, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    match generator.join() {
        Ok(result) => result?,
        Err(_) => bail!("the corpus generator panicked"),
    }
    let secs = started.elapsed().as_secs_f64();
    report.num("bulk_import_s", secs);
    report.num("bulk_import_cases_per_s", done as f64 / secs);
    Ok(())
}

/// `sample` new cases, each with its first message and one attachment's metadata, one
/// transaction each: through [`Store::create_case`] and through [`PlainInserts`], alternating.
pub(crate) fn intake(
    store: &Store,
    raw: &mut PlainInserts,
    first: u64,
    sample: u64,
    report: &mut Report,
) -> Result<()> {
    let mut corpus = Corpus::new(2);
    let (mut store_times, mut raw_times) = (Vec::new(), Vec::new());
    // Both write-ahead logs start empty (the baseline's database is new), so the frames in each
    // after the first PAGES_SAMPLE cases are the pages those cases wrote.
    store.checkpoint()?;
    let (mut store_pages, mut raw_pages) = (None, None);
    let mut i = first;
    while i < first + sample {
        let upto = (i + INTAKE_BLOCK).min(first + sample);
        let cases = (i..upto)
            .map(|k| corpus.case(k))
            .collect::<Result<Vec<_>>>()?;
        for case in &cases {
            let t = Instant::now();
            let created = store.create_case(case).context("create_case")?;
            store_times.push(ms(t.elapsed()));
            if created.is_duplicate() {
                bail!("intake case {} was taken for a duplicate", created.case_no);
            }
            if store_times.len() == PAGES_SAMPLE {
                store_pages = Some(wal_frames(store.path())?);
            }
        }
        for case in &cases {
            let t = Instant::now();
            raw.insert(case, SystemClock.now().unix_ms())
                .context("baseline insert")?;
            raw_times.push(ms(t.elapsed()));
            if raw_times.len() == PAGES_SAMPLE {
                raw_pages = Some(wal_frames(raw.path())?);
            }
        }
        i = upto;
    }
    let per_case =
        |frames: Option<u64>| frames.map_or(f64::NAN, |f| f as f64 / PAGES_SAMPLE as f64);
    report.num("intake_pages_per_case", per_case(store_pages));
    report.num("raw_sqlite_pages_per_case", per_case(raw_pages));
    let store_rate = store_times.len() as f64 / (store_times.iter().sum::<f64>() / 1000.0);
    let raw_rate = raw_times.len() as f64 / (raw_times.iter().sum::<f64>() / 1000.0);
    report.num("intake_sample", sample as f64);
    report.num("intake_per_s", store_rate);
    report.num("intake_p50_ms", percentile(&mut store_times, 50.0));
    report.num("intake_p99_ms", percentile(&mut store_times, 99.0));
    report.num("raw_sqlite_insert_per_s", raw_rate);
    let raw_p50 = percentile(&mut raw_times, 50.0);
    report.num("raw_sqlite_insert_p50_ms", raw_p50);
    report.num("raw_sqlite_insert_p99_ms", percentile(&mut raw_times, 99.0));
    if raw_p50 > SLOW_SYNC_MS {
        progress!(
            "plain rusqlite took {raw_p50:.2} ms per case (p50): the disk's fsync is slow or \
             shared, so both sides mostly measure it and the ratio says little about the store"
        );
    }
    report.num("intake_ratio_vs_raw_sqlite", store_rate / raw_rate);
    // Leave the outbox as a worker would.
    while !store
        .outbox_claim(1000, Duration::from_secs(60))?
        .is_empty()
    {}
    Ok(())
}

/// Common words (Romanian typed with and without diacritics, English), a phrase, and a rarer
/// word; every query asks for the 50 most recent matching cases.
const QUERIES: &[&str] = &[
    "pașaport",
    "pasaport",
    "și",
    "consulat",
    "ajutor",
    "passport",
    "documentele",
    "pierdut pașaportul",
    "spital",
];

pub(crate) fn search(store: &Store, report: &mut Report) -> Result<()> {
    for q in QUERIES {
        store.search(&SearchQuery::recent(*q))?; // warm the cache once
    }
    let mut times = Vec::new();
    let mut full = true;
    for _ in 0..40 {
        for q in QUERIES {
            let t = Instant::now();
            let hits = store.search(&SearchQuery::recent(*q))?;
            times.push(ms(t.elapsed()));
            let ordered = hits.windows(2).all(|w| w[0].message > w[1].message);
            if hits.len() != 50 || !ordered {
                progress!("search {q:?}: {} hits, newest first: {ordered}", hits.len());
                full = false;
            }
        }
    }
    report.num("search_queries", times.len() as f64);
    report.num("search_p50_ms", percentile(&mut times, 50.0));
    report.num("search_p99_ms", percentile(&mut times, 99.0));
    report.flag("search_pages_full_and_newest_first", full);
    let mut rng = Rng::new(3);
    let mut scoped = Vec::new();
    for _ in 0..200 {
        let (consulate, _, _) = CONSULATES[rng.weighted(CONSULATES.iter().map(|c| c.2))];
        let query = SearchQuery {
            consulate: Some(ConsulateId::new(consulate)?),
            ..SearchQuery::recent(*rng.pick(QUERIES))
        };
        let t = Instant::now();
        store.search(&query)?;
        scoped.push(ms(t.elapsed()));
    }
    report.num("search_one_consulate_p99_ms", percentile(&mut scoped, 99.0));
    Ok(())
}

/// An agent's queue pages: a random consulate's unassigned, emergency, waiting or own queue,
/// or all open cases newest first; a filter two times in five; the first page and up to two
/// more through the cursor, 50 rows each.
pub(crate) fn queues(store: &Store, report: &mut Report) -> Result<()> {
    let mut rng = Rng::new(4);
    let mut times = Vec::new();
    let mut rows = 0usize;
    for round in 0..400 {
        let (consulate, _, _) = CONSULATES[rng.weighted(CONSULATES.iter().map(|c| c.2))];
        let (queue, sort) = *rng.pick(&[
            (QueueKind::Unassigned, QueueSort::Urgency),
            (QueueKind::Emergency, QueueSort::Urgency),
            (QueueKind::WaitingCitizen, QueueSort::Oldest),
            (QueueKind::Assigned, QueueSort::Urgency),
            (QueueKind::Open, QueueSort::Newest),
        ]);
        let agent = match queue {
            QueueKind::Assigned => Some(AgentId::new(format!(
                "{consulate}-{}",
                rng.next() % AGENTS
            ))?),
            _ => None,
        };
        let filter = match rng.below(10) {
            0 => QueueFilter {
                priority: Some(*rng.pick(&[Priority::P1, Priority::P2, Priority::P3])),
                ..QueueFilter::default()
            },
            1 => QueueFilter {
                case_type: Some(TypeCode::new(*rng.pick(&["A1.1", "A4.1", "D1", "C3"]))?),
                ..QueueFilter::default()
            },
            2 => QueueFilter {
                language: Some(Language::new("en")?),
                ..QueueFilter::default()
            },
            3 => QueueFilter {
                channel: Some(*rng.pick(&[Channel::Email, Channel::Phone])),
                ..QueueFilter::default()
            },
            _ => QueueFilter::default(),
        };
        let mut query = QueueQuery {
            agent,
            filter,
            sort,
            page_size: PageSize::new(50)?,
            ..QueueQuery::first(Some(ConsulateId::new(consulate)?), queue)
        };
        for _ in 0..=round % 3 {
            let t = Instant::now();
            let page = store.queue(&query)?;
            times.push(ms(t.elapsed()));
            rows += page.cases.len();
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
    }
    report.num("queue_pages", times.len() as f64);
    report.num("queue_rows_per_page", rows as f64 / times.len() as f64);
    report.num("queue_page_p50_ms", percentile(&mut times, 50.0));
    report.num("queue_page_p99_ms", percentile(&mut times, 99.0));
    Ok(())
}
