//! The case store the console is measured on, built once and kept in
//! `target/bench-data/console-{cases}-s{schema}-g{generator}/`.
//!
//! Cases come from casestore-bench's corpus (Romanian and English requests, the taxonomy's
//! types and priorities, channels, statuses by age), then `mix` moves each onto a consulate
//! of the demo circumscription table (half to the mission owning the corpus's city, half
//! anywhere in that country, the fallback centre for countries the table lacks), gives
//! protection cases and some assistance cases the `sensitive` level, and lets one citizen in
//! eight write again with an address seen before (so related-case suggestions find
//! something). All are loaded with [`Store::bulk_import`], 10,000 per transaction.
//!
//! Then [`casework`] replays the recent months as agents would have lived them, on a manual
//! clock, through the store's ordinary calls (one transaction each, as in production): a
//! first reply for every case someone took up, answers from citizens, internal notes, and
//! resolutions, each at its own time, so that case views show timelines and the dashboard's
//! response-time histograms hold real distributions.
//!
//! The directory name carries everything the content depends on: the case count, the store's
//! schema version, and a hash of the corpus's source and of [`GENERATOR`]. A build goes to a
//! `.partial` directory renamed when complete; other builds of the same size are removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use casestore::{
    Actor, AgentId, Body, CaseId, Channel, ConsulateId, ContactValue, Direction, Expect, Family,
    ImportedCase, Language, ManualClock, NewMessage, Options, Sensitivity, Status, Store,
    Timestamp, Visibility,
};

use crate::casestore_bench::corpus::{AGENTS, CONSULATES, Corpus, Rng};
use crate::progress;

/// Changes whenever `mix` or `casework` would produce different data.
const GENERATOR: &str = "console-bench dataset 1";
/// Cases per bulk-import transaction.
const BATCH: u64 = 10_000;
/// 2023-12-01T00:00:00Z: the first historical case (as in casestore-bench).
const HISTORY_START_MS: i64 = 1_701_388_800_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A store ready to be opened.
#[derive(Debug)]
pub(crate) struct Dataset {
    pub(crate) db: PathBuf,
    pub(crate) build_s: f64,
    pub(crate) reused: bool,
    /// The database file's size after its last checkpoint.
    pub(crate) bytes: u64,
}

/// The cached store for `cases`, built first if it is missing (or `rebuild`).
pub(crate) fn prepare(cases: u64, rebuild: bool) -> Result<Dataset> {
    let schema = schema_version()?;
    let root = benchkit::target_dir()?.join("bench-data");
    let name = format!("console-{cases}-s{schema}-g{:016x}", generator_hash());
    let dir = root.join(&name);
    let marker = dir.join("built.json");
    if !rebuild && marker.is_file() {
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&marker).with_context(|| format!("reading {}", marker.display()))?,
        )
        .with_context(|| format!("parsing {}", marker.display()))?;
        let build_s = meta["build_s"].as_f64().unwrap_or(f64::NAN);
        let db = dir.join("cases.db");
        progress!(
            "reusing the store in {} (built in {build_s:.0} s)",
            dir.display()
        );
        let bytes = std::fs::metadata(&db)
            .with_context(|| format!("{} is gone; run with --rebuild", db.display()))?
            .len();
        return Ok(Dataset {
            db,
            build_s,
            reused: true,
            bytes,
        });
    }
    std::fs::create_dir_all(&root)?;
    remove_other_builds(&root, cases, &name)?;
    let partial = root.join(format!("{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial)?;
    let started = Instant::now();
    build(&partial.join("cases.db"), cases)?;
    let build_s = started.elapsed().as_secs_f64();
    let meta = serde_json::json!({
        "cases": cases,
        "schema": schema,
        "generator": GENERATOR,
        "build_s": build_s,
    });
    std::fs::write(partial.join("built.json"), format!("{meta:#}\n"))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::rename(&partial, &dir)
        .with_context(|| format!("renaming {} to {}", partial.display(), dir.display()))?;
    let db = dir.join("cases.db");
    let bytes = std::fs::metadata(&db)?.len();
    progress!("store built in {build_s:.0} s: {}", dir.display());
    Ok(Dataset {
        db,
        build_s,
        reused: false,
        bytes,
    })
}

/// Reads the database file once, so the measurement sees the console and not the disk (the
/// store of a deployed hub is hot too).
pub(crate) fn warm_page_cache(db: &Path) -> Result<()> {
    let started = Instant::now();
    let mut file = std::fs::File::open(db).with_context(|| format!("opening {}", db.display()))?;
    let bytes = std::io::copy(&mut file, &mut std::io::sink())?;
    progress!(
        "read {} MB of the store into the page cache in {:.1} s",
        bytes / 1_000_000,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The schema version this build of the store writes: the migrations it applies to an empty
/// file.
fn schema_version() -> Result<i64> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("probe.db"), Options::default())?;
    Ok(store.schema_version()?)
}

/// FNV-1a over the corpus's source and [`GENERATOR`]: a different generator, a different
/// directory.
fn generator_hash() -> u64 {
    let parts: [&str; 3] = [
        include_str!("../../casestore-bench/src/corpus.rs"),
        include_str!("../../casestore-bench/src/corpus/data.rs"),
        GENERATOR,
    ];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Removes stores of the same size built by another schema or generator: each takes about a
/// gigabyte at full size.
fn remove_other_builds(root: &Path, cases: u64, keep: &str) -> Result<()> {
    let prefix = format!("console-{cases}-");
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name != keep {
            progress!("removing an outdated store: {name}");
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// What happens to a case after it arrived, all relative to its arrival.
#[derive(Debug, Clone)]
struct Plan {
    received: i64,
    consulate: String,
    language: Language,
    channel: Channel,
    agent: AgentId,
    /// The agent's first external reply.
    reply_after: i64,
    /// The citizen's answer, after the reply.
    citizen_after: Option<i64>,
    /// An internal note, after the reply.
    note_after: Option<i64>,
    /// Resolution, after the reply; then closed, or left resolved.
    resolve_after: Option<(i64, bool)>,
}

fn build(db: &Path, n: u64) -> Result<()> {
    let now = casestore::Clock::now(&casestore::SystemClock).unix_ms();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(now)));
    let store = Store::open(
        db,
        Options {
            clock: clock.clone(),
            ..Options::default()
        },
    )?;
    progress!("building a store of {n} cases in {}", db.display());
    let t = Instant::now();
    let plans = import(&store, n, now)?;
    progress!(
        "bulk import: {n} cases in {:.0} s; casework on {} recent cases",
        t.elapsed().as_secs_f64(),
        plans.len()
    );
    let t = Instant::now();
    let writes = casework(&store, &clock, &plans, now)?;
    progress!(
        "casework: {writes} changes in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    clock.set(Timestamp::from_unix_ms(now));
    store.optimize()?;
    store.checkpoint()?;
    Ok(())
}

/// Loads `n` cases, generated on a second thread; returns the casework to replay.
fn import(store: &Store, n: u64, now: i64) -> Result<Vec<(CaseId, Plan)>> {
    let end = now - DAY_MS;
    let step = (end - HISTORY_START_MS) / i64::try_from(n)?;
    let (tx, rx) = mpsc::sync_channel::<Vec<(ImportedCase, Option<Plan>)>>(2);
    let generator = std::thread::spawn(move || -> Result<()> {
        let mut corpus = Corpus::new(1);
        let mut mixer = Mixer::new()?;
        let mut i = 0;
        while i < n {
            let upto = (i + BATCH).min(n);
            let mut batch = Vec::with_capacity(usize::try_from(upto - i)?);
            for k in i..upto {
                let at = Timestamp::from_unix_ms(HISTORY_START_MS + i64::try_from(k)? * step);
                let case = corpus.imported(k, n, at)?;
                batch.push(mixer.mix(case, k * 10 >= n * 9)?);
            }
            if tx.send(batch).is_err() {
                break; // the importer failed; it reports why
            }
            i = upto;
        }
        Ok(())
    });
    let started = Instant::now();
    let mut plans = Vec::new();
    let mut done = 0u64;
    for batch in rx {
        let cases: Vec<ImportedCase> = batch.iter().map(|(c, _)| c.clone()).collect();
        let created = store.bulk_import(&cases).context("bulk import")?;
        for (made, (_, plan)) in created.iter().zip(batch) {
            if let Some(plan) = plan {
                plans.push((made.case_id, plan));
            }
        }
        done += cases.len() as u64;
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
    Ok(plans)
}

/// Country of each corpus consulate (casestore-bench names them `RO-PAR` …); the table gives
/// their cities. A corpus consulate missing here goes to the fallback centre.
const COUNTRIES: &[(&str, &str)] = &[
    ("RO-PAR", "FR"),
    ("RO-LYO", "FR"),
    ("RO-LON", "GB"),
    ("RO-MAN", "GB"),
    ("RO-MAD", "ES"),
    ("RO-BCN", "ES"),
    ("RO-ROM", "IT"),
    ("RO-MIL", "IT"),
    ("RO-TUR", "IT"),
    ("RO-BER", "DE"),
    ("RO-MUN", "DE"),
    ("RO-STU", "DE"),
    ("RO-VIE", "AT"),
    ("RO-BRU", "BE"),
    ("RO-DUB", "IE"),
    ("RO-LIS", "PT"),
    ("RO-ATH", "GR"),
    ("RO-CHI", "MD"),
    ("RO-NYC", "US"),
    ("RO-TOR", "CA"),
];

/// Where a corpus consulate's cases go: the owner of its city, and every mission in its
/// country.
#[derive(Debug)]
struct Route {
    owner: ConsulateId,
    country: Vec<ConsulateId>,
}

/// Turns corpus cases into this benchmark's: see the module documentation.
#[derive(Debug)]
struct Mixer {
    rng: Rng,
    routes: HashMap<&'static str, Route>,
    fallback: ConsulateId,
    /// E-mail addresses seen lately, for citizens who write again.
    seen: Vec<ContactValue>,
}

/// How many recent addresses a returning citizen is drawn from.
const SEEN: usize = 4096;

impl Mixer {
    fn new() -> Result<Self> {
        let table = intake::Circumscriptions::default_demo();
        let fallback = ConsulateId::new(table.fallback().id.as_str())?;
        let mut routes = HashMap::new();
        for &(id, city, _) in CONSULATES {
            let Some(&(_, country)) = COUNTRIES.iter().find(|(c, _)| *c == id) else {
                continue;
            };
            let route = table.resolve(country, city);
            if route.basis == intake::RouteBasis::Fallback {
                continue;
            }
            let country = table
                .consulates()
                .iter()
                .filter(|c| c.country == country && c.kind != intake::MissionKind::ContactCentre)
                .map(|c| ConsulateId::new(c.id.as_str()))
                .collect::<Result<Vec<_>, _>>()?;
            let owner = ConsulateId::new(route.consulate.id.as_str())?;
            routes.insert(id, Route { owner, country });
        }
        Ok(Self {
            rng: Rng::new(7),
            routes,
            fallback,
            seen: Vec::with_capacity(SEEN),
        })
    }

    fn mix(
        &mut self,
        mut item: ImportedCase,
        recent: bool,
    ) -> Result<(ImportedCase, Option<Plan>)> {
        let r = &mut self.rng;
        let case = &mut item.case;
        case.consulate = match self.routes.get(case.consulate.as_str()) {
            Some(route) if !route.country.is_empty() && !r.chance(50) => {
                r.pick(&route.country).clone()
            }
            Some(route) => route.owner.clone(),
            None => self.fallback.clone(),
        };
        let consulate = case.consulate.as_str().to_owned();
        case.sensitivity = match case.case_type.family {
            Family::Protection if r.chance(50) => Sensitivity::Sensitive,
            Family::Protection => Sensitivity::Restricted,
            Family::Assistance if r.chance(15) => Sensitivity::Sensitive,
            _ if r.chance(2) => Sensitivity::Sensitive,
            _ => Sensitivity::Normal,
        };
        let agent = |r: &mut Rng| AgentId::new(format!("{consulate}.agent{}", r.next() % AGENTS));
        if item.assignee.is_some() {
            item.assignee = Some(agent(r)?);
        }
        if let Some(email) = case.subject.contacts.first_mut() {
            if !self.seen.is_empty() && r.chance(12) {
                email.value = r.pick(&self.seen).clone();
            } else if self.seen.len() < SEEN {
                self.seen.push(email.value.clone());
            } else {
                let slot = r.below(SEEN);
                self.seen[slot] = email.value.clone();
            }
        }
        // Someone took the case up: it has a history worth replaying.
        let worked = !matches!(item.status, Status::New | Status::Triage);
        if !recent || !worked {
            return Ok((item, None));
        }
        let resolve_after = match item.status {
            Status::Resolved | Status::Closed => {
                let closed = item.status == Status::Closed;
                // Resolved by the replayed casework, at its own time.
                item.status = Status::InProgress;
                Some((spread(r, HOUR_MS, 14 * DAY_MS), closed))
            }
            _ => None,
        };
        let reply_after = match r.below(100) {
            0..=49 => spread(r, 10 * MINUTE_MS, 8 * HOUR_MS),
            50..=84 => spread(r, 8 * HOUR_MS, 3 * DAY_MS),
            _ => spread(r, 3 * DAY_MS, 10 * DAY_MS),
        };
        // A citizen's answer would move a case waiting for them back to work.
        let citizen_after = (item.status != Status::WaitingCitizen && r.chance(35))
            .then(|| spread(r, 30 * MINUTE_MS, 4 * DAY_MS));
        let note_after = r.chance(25).then(|| spread(r, 5 * MINUTE_MS, 2 * DAY_MS));
        let plan = Plan {
            received: item.received_at.unix_ms(),
            consulate: consulate.clone(),
            language: case.language.clone(),
            channel: case.channel,
            agent: match &item.assignee {
                Some(a) => a.clone(),
                None => agent(r)?,
            },
            reply_after,
            citizen_after,
            note_after,
            resolve_after,
        };
        Ok((item, Some(plan)))
    }
}

/// A duration between `lo` and `hi`, most of them near `lo` (the square of a uniform draw).
fn spread(r: &mut Rng, lo: i64, hi: i64) -> i64 {
    let u = (r.next() % 10_000) as f64 / 10_000.0;
    lo + ((hi - lo) as f64 * u * u) as i64
}

const REPLIES_RO: &[&str] = &[
    "Bună ziua, am primit solicitarea dumneavoastră și o analizăm. Vă rugăm să ne transmiteți o copie a actului de identitate.",
    "Vă mulțumim pentru mesaj. Programarea dumneavoastră a fost confirmată; vă rugăm să aduceți documentele originale.",
    "Am verificat situația și am contactat autoritățile locale. Revenim cu detalii cât mai curând.",
];
const REPLIES_EN: &[&str] = &[
    "Hello, we have received your request and are looking into it. Please send us a copy of your identity document.",
    "Thank you for your message. Your appointment is confirmed; please bring the original documents.",
    "We have checked with the local authorities and will come back to you shortly.",
];
const ANSWERS: &[&str] = &[
    "Vă mulțumesc, am atașat documentele cerute.",
    "Mulțumesc pentru răspuns. Când pot veni la consulat?",
    "Thank you, I have attached the documents you asked for.",
];
const NOTES: &[&str] = &[
    "Verificat în registru; actele sunt în regulă.",
    "Called the family; they will send the documents this week.",
    "De discutat cu consulul înainte de răspuns.",
];

/// Replays the casework of `plans` through the store's ordinary calls at their own times;
/// steps that would fall after `now` have not happened yet. Returns the changes written.
fn casework(store: &Store, clock: &ManualClock, plans: &[(CaseId, Plan)], now: i64) -> Result<u64> {
    let mut r = Rng::new(11);
    let mut writes = 0u64;
    let started = Instant::now();
    for (i, (id, plan)) in plans.iter().enumerate() {
        let agent = Actor::Agent(plan.agent.clone());
        let replied = plan.received + plan.reply_after;
        if replied > now {
            continue;
        }
        let english = plan.language.as_str() == "en";
        let mut steps: Vec<(i64, Step)> = vec![(replied, Step::Reply)];
        if let Some(after) = plan.citizen_after {
            steps.push((replied + after, Step::Answer));
        }
        if let Some(after) = plan.note_after {
            steps.push((replied + after, Step::Note));
        }
        if let Some((after, closed)) = plan.resolve_after {
            // Nothing is said on a case after it is resolved.
            let at = replied + after;
            steps.retain(|(t, _)| *t < at);
            steps.push((at, Step::Resolve));
            if closed {
                steps.push((at + spread(&mut r, HOUR_MS, 3 * DAY_MS), Step::Close));
            }
        }
        steps.sort_by_key(|(t, _)| *t);
        for (at, step) in steps {
            if at > now {
                break;
            }
            clock.set(Timestamp::from_unix_ms(at));
            let message =
                |direction, author: &Actor, visibility, text: &str| -> Result<NewMessage> {
                    Ok(NewMessage {
                        direction,
                        channel: if plan.channel == Channel::Phone {
                            Channel::Email
                        } else {
                            plan.channel
                        },
                        author: author.clone(),
                        visibility,
                        language: plan.language.clone(),
                        body: Body::new(text)?,
                        attachments: Vec::new(),
                    })
                };
            match step {
                Step::Reply => {
                    let text = *r.pick(if english { REPLIES_EN } else { REPLIES_RO });
                    let msg = message(Direction::Out, &agent, Visibility::External, text)?;
                    store.add_message(*id, &msg, Expect::Any)?;
                }
                Step::Answer => {
                    let text = *r.pick(ANSWERS);
                    let msg = message(Direction::In, &Actor::Citizen, Visibility::External, text)?;
                    store.add_message(*id, &msg, Expect::Any)?;
                }
                Step::Note => {
                    let text = *r.pick(NOTES);
                    let msg = message(Direction::Out, &agent, Visibility::Internal, text)?;
                    store.add_message(*id, &msg, Expect::Any)?;
                }
                Step::Resolve => {
                    store.change_status(*id, Status::Resolved, &agent, None, Expect::Any)?;
                }
                Step::Close => {
                    store.change_status(*id, Status::Closed, &agent, None, Expect::Any)?;
                }
            }
            writes += 1;
        }
        if (i + 1) % 20_000 == 0 {
            progress!(
                "casework: {} of {} cases, {writes} changes, {:.0} s ({})",
                i + 1,
                plans.len(),
                started.elapsed().as_secs_f64(),
                plan.consulate
            );
        }
    }
    Ok(writes)
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Reply,
    Answer,
    Note,
    Resolve,
    Close,
}
