//! The load: keep-alive clients on both paths, the officer's request mix (queue walks and
//! case views) and the supervisor's dashboard, measured in alternating blocks.
//!
//! Both paths replay the same sequence of requests: one list of queue walks and one list of
//! case numbers, each path with its own cursor, so "the same mix" is literal. The work is cut
//! into [`ROUNDS`] rounds; within a round each (metric, path) block runs its share with every
//! client of that path at once, and the path that goes first alternates between rounds, so a
//! build starting elsewhere on the machine lands on both paths alike. A warm-up on other
//! walks and other cases comes first and is not recorded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use casestore::{CaseId, Sensitivity, Store};
use console_client::StatusCode;

use crate::casestore_bench::corpus::Rng;
use benchkit::percentile;
use console_client::{Account, Client, Page, excerpt};

use crate::report::Report;
use crate::stack::MISSION;
use crate::{Args, progress};

/// Rounds the measured work is cut into.
const ROUNDS: usize = 5;
/// Dashboards fetched in the warm-up.
const DASHBOARD_WARMUP: usize = 20;
/// The deepest a queue walk follows `next`.
const MAX_DEPTH: usize = 8;

/// Where the clients connect and who signs in.
#[derive(Debug)]
pub(crate) struct Endpoints {
    pub(crate) central: SocketAddr,
    pub(crate) gateway: SocketAddr,
    pub(crate) officer: Account,
    pub(crate) supervisor: Account,
}

/// A queue walk: the first page, and how many pages to follow at most.
#[derive(Debug, Clone)]
struct Walk {
    first: String,
    depth: usize,
}

/// What the requests ask for, drawn before the servers are measured.
#[derive(Debug)]
pub(crate) struct Targets {
    /// Numbers of cases the officer may read, in request order.
    pub(crate) cases: Vec<String>,
    /// How many different cases `cases` and the warm-up's hold between them.
    pub(crate) distinct_cases: usize,
    warm_cases: Vec<String>,
    walks: Vec<Walk>,
    warm_walks: Vec<Walk>,
}

impl Targets {
    /// Walks over every queue, sort and filter combination, and random cases of the officer's
    /// consulate that are not restricted, probed by id from the store (not through the
    /// console, so none of this is measured).
    pub(crate) fn pick(store: &Store, samples: usize) -> Result<Self> {
        let mut r = Rng::new(42);
        let warm = (samples / 10).max(50);
        let max_id = i64::try_from(store.case_count()?)?;
        let mut readable = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let want = samples + warm;
        let mut probes = 0;
        while readable.len() < want && probes < 40 * want {
            probes += 1;
            let id = 1 + i64::try_from(r.next() % u64::try_from(max_id)?)?;
            if !seen.insert(id) {
                continue;
            }
            let Some(case) = store.case(CaseId::from_raw(id))? else {
                continue;
            };
            if case.consulate.as_str() == MISSION && case.sensitivity != Sensitivity::Restricted {
                readable.push(case.case_no.to_string());
            }
        }
        if readable.len() < 10 {
            bail!(
                "found only {} cases of {MISSION} in the store",
                readable.len()
            );
        }
        progress!(
            "{} readable cases of {MISSION} drawn in {probes} probes",
            readable.len()
        );
        // Few cases in a small store: the same ones come round again.
        let split = readable.len() * warm / want;
        let warm_cases = cycle(&readable[..split.max(1)], warm);
        let cases = cycle(&readable[split.max(1)..], samples);
        let walks = walks(&mut r, samples);
        let warm_walks = walks_seeded(warm);
        Ok(Self {
            cases,
            distinct_cases: readable.len(),
            warm_cases,
            walks,
            warm_walks,
        })
    }
}

fn cycle(items: &[String], n: usize) -> Vec<String> {
    items.iter().cycle().take(n).cloned().collect()
}

/// Queue walks: both queues, three sorts, a few filters, up to [`MAX_DEPTH`] pages deep;
/// enough to yield `pages` pages if each went all the way.
fn walks(r: &mut Rng, pages: usize) -> Vec<Walk> {
    const QUEUES: [&str; 2] = ["consulate", "unassigned"];
    const SORTS: [&str; 3] = ["urgency", "oldest", "newest"];
    const FILTERS: [&str; 7] = [
        "",
        "",
        "&priority=P3",
        "&priority=P1",
        "&language=en",
        "&channel=email",
        "&type=D1",
    ];
    let mut out = Vec::new();
    let mut total = 0;
    while total < pages * 2 {
        let depth = 1 + r.below(MAX_DEPTH);
        out.push(Walk {
            first: format!(
                "/queues/{}?sort={}{}",
                r.pick(&QUEUES),
                r.pick(&SORTS),
                r.pick(&FILTERS)
            ),
            depth,
        });
        total += depth;
    }
    out
}

fn walks_seeded(pages: usize) -> Vec<Walk> {
    walks(&mut Rng::new(4242), pages)
}

/// The two ways to the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    Gateway,
}

/// What a block fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Queue,
    Case,
}

/// One unit of work: a walk is several pages.
#[derive(Debug, Clone)]
enum Work {
    Walk(Walk),
    Case(String),
    Dashboard,
}

/// Latencies and throughput of one (metric, path).
#[derive(Debug, Default)]
struct Series {
    ms: Vec<f64>,
    wall_s: f64,
    rows: usize,
    /// Pages that had rows, for queue pages; dashboard rows seen, for the dashboard.
    with_rows: usize,
}

impl Series {
    fn rps(&self) -> f64 {
        self.ms.len() as f64 / self.wall_s
    }
}

/// Everything measured.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    direct_queue: Series,
    gateway_queue: Series,
    direct_case: Series,
    gateway_case: Series,
    dashboard: Series,
}

/// Runs the load on this thread, with its own runtime.
pub(crate) fn run(args: &Args, endpoints: &Endpoints, targets: &Targets) -> Result<Measured> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("the load runtime")?;
    runtime.block_on(measure(args, endpoints, targets))
}

async fn measure(args: &Args, endpoints: &Endpoints, targets: &Targets) -> Result<Measured> {
    // The officer signs in through the gateway with the previous step's code, then centrally
    // with the current one (see Client::login).
    let mut probe = Client::connect(endpoints.gateway).await?;
    probe.login(&endpoints.officer, true).await?;
    let officer_tunnel = probe.session().context("officer session")?;
    let mut probe = Client::connect(endpoints.central).await?;
    probe.login(&endpoints.officer, false).await?;
    let officer_central = probe.session().context("officer session")?;
    let mut probe = Client::connect(endpoints.central).await?;
    probe.login(&endpoints.supervisor, false).await?;
    let supervisor = probe.session().context("supervisor session")?;
    progress!("signed in: officer through the gateway and centrally, supervisor centrally");

    let connect = |addr: SocketAddr, cookie: String| async move {
        let mut clients = Vec::new();
        for _ in 0..args.clients {
            let mut c = Client::connect(addr).await?;
            c.set_session(&cookie)?;
            clients.push(c);
        }
        Ok::<_, anyhow::Error>(clients)
    };
    let mut direct = connect(endpoints.central, officer_central).await?;
    let mut tunnel = connect(endpoints.gateway, officer_tunnel).await?;
    let mut central = connect(endpoints.central, supervisor).await?;

    let walks: Arc<[Work]> = targets.walks.iter().cloned().map(Work::Walk).collect();
    let cases: Arc<[Work]> = targets.cases.iter().cloned().map(Work::Case).collect();
    let dashboards: Arc<[Work]> = Arc::from(vec![Work::Dashboard]);
    let warm_walks: Arc<[Work]> = targets.warm_walks.iter().cloned().map(Work::Walk).collect();
    let warm_cases: Arc<[Work]> = targets.warm_cases.iter().cloned().map(Work::Case).collect();

    progress!("warm-up");
    let warm = targets.warm_cases.len();
    for clients in [&mut direct, &mut tunnel] {
        block(clients, &warm_walks, 0, warm).await?;
        block(clients, &warm_cases, 0, warm).await?;
    }
    block(&mut central, &dashboards, 0, DASHBOARD_WARMUP).await?;

    let mut m = Measured::default();
    let share = args.samples.div_ceil(ROUNDS);
    // Each path's position in each list.
    let (mut dq, mut gq, mut dc, mut gc) = (0, 0, 0, 0);
    for round in 0..ROUNDS {
        progress!(
            "round {} of {ROUNDS}: {share} queue pages and {share} case views per path, \
             {share} dashboards",
            round + 1
        );
        let order = if round % 2 == 0 {
            [Path::Direct, Path::Gateway]
        } else {
            [Path::Gateway, Path::Direct]
        };
        for metric in [Metric::Queue, Metric::Case] {
            for path in order {
                let (clients, series, cursor, work) = match (metric, path) {
                    (Metric::Queue, Path::Direct) => {
                        (&mut direct, &mut m.direct_queue, &mut dq, &walks)
                    }
                    (Metric::Queue, Path::Gateway) => {
                        (&mut tunnel, &mut m.gateway_queue, &mut gq, &walks)
                    }
                    (Metric::Case, Path::Direct) => {
                        (&mut direct, &mut m.direct_case, &mut dc, &cases)
                    }
                    (Metric::Case, Path::Gateway) => {
                        (&mut tunnel, &mut m.gateway_case, &mut gc, &cases)
                    }
                };
                let done = block(clients, work, *cursor, share).await?;
                *cursor = done.cursor;
                series.absorb(done);
            }
        }
        let done = block(&mut central, &dashboards, 0, share).await?;
        m.dashboard.absorb(done);
    }
    Ok(m)
}

/// What one block did.
#[derive(Debug, Default)]
struct Done {
    ms: Vec<f64>,
    wall_s: f64,
    cursor: usize,
    rows: usize,
    with_rows: usize,
}

impl Series {
    fn absorb(&mut self, done: Done) {
        self.ms.extend(done.ms);
        self.wall_s += done.wall_s;
        self.rows += done.rows;
        self.with_rows += done.with_rows;
    }
}

/// Every client of `clients` at once takes the next item of `work` (from `start`, wrapping)
/// until `want` requests are recorded between them; a walk under way is finished.
async fn block(
    clients: &mut Vec<Client>,
    work: &Arc<[Work]>,
    start: usize,
    want: usize,
) -> Result<Done> {
    let cursor = Arc::new(AtomicUsize::new(start));
    let recorded = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut client in std::mem::take(clients) {
        let (work, cursor, recorded) = (work.clone(), cursor.clone(), recorded.clone());
        tasks.spawn(async move {
            let mut done = Done::default();
            let result = async {
                while recorded.load(Ordering::Relaxed) < want {
                    let i = cursor.fetch_add(1, Ordering::Relaxed);
                    match &work[i % work.len()] {
                        Work::Walk(walk) => {
                            let mut path = walk.first.clone();
                            for _ in 0..walk.depth {
                                let page = timed(&mut client, &path, &mut done).await?;
                                recorded.fetch_add(1, Ordering::Relaxed);
                                let rows = page.text().matches("data-case=\"").count();
                                done.rows += rows;
                                done.with_rows += usize::from(rows > 0);
                                match next_link(page.text()) {
                                    Some(next) => path = next,
                                    None => break,
                                }
                            }
                        }
                        Work::Case(number) => {
                            let page =
                                timed(&mut client, &format!("/cases/{number}"), &mut done).await?;
                            recorded.fetch_add(1, Ordering::Relaxed);
                            if !page.text().contains(number.as_str()) {
                                bail!("the view of case {number} does not name it");
                            }
                        }
                        Work::Dashboard => {
                            let page = timed(&mut client, "/dashboard", &mut done).await?;
                            recorded.fetch_add(1, Ordering::Relaxed);
                            done.rows += dashboard_rows(page.text());
                            done.with_rows += 1;
                        }
                    }
                }
                Ok(())
            }
            .await;
            (client, done, result)
        });
    }
    let mut total = Done::default();
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let (client, done, result) = joined.context("a load task panicked")?;
        clients.push(client);
        total.ms.extend(done.ms);
        total.rows += done.rows;
        total.with_rows += done.with_rows;
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    total.wall_s = started.elapsed().as_secs_f64();
    total.cursor = cursor.load(Ordering::Relaxed);
    Ok(total)
}

/// One GET, timed from sending the request to the last byte of the body; anything but 200 is
/// an error.
async fn timed(client: &mut Client, path: &str, done: &mut Done) -> Result<Page> {
    let t = Instant::now();
    let page = client.get(path).await?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if page.status != StatusCode::OK {
        bail!(
            "GET {path} answered {}: {}",
            page.status,
            excerpt(page.body.as_ref())
        );
    }
    done.ms.push(ms);
    Ok(page)
}

/// The target of a queue page's `rel="next"` link, unescaped.
fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

/// Consulates in the dashboard's first table.
fn dashboard_rows(html: &str) -> usize {
    let Some(start) = html.find("<table id=\"dashboard\">") else {
        return 0;
    };
    let table = &html[start..];
    let table = &table[..table.find("</table>").unwrap_or(table.len())];
    table.matches("<tr><th scope=\"row\">").count()
}

impl Measured {
    pub(crate) fn into_report(mut self, report: &mut Report) {
        let mut put = |prefix: &str, s: &mut Series| {
            report.num(&format!("{prefix}_p50_ms"), percentile(&mut s.ms, 50.0));
            report.num(&format!("{prefix}_p99_ms"), percentile(&mut s.ms, 99.0));
            report.num(&format!("{prefix}_rps"), s.rps());
            report.num(&format!("{prefix}_samples"), s.ms.len() as f64);
        };
        put("direct_queue_page", &mut self.direct_queue);
        put("gateway_queue_page", &mut self.gateway_queue);
        put("direct_case_view", &mut self.direct_case);
        put("gateway_case_view", &mut self.gateway_case);
        put("dashboard", &mut self.dashboard);

        let q = &self.direct_queue;
        report.num("queue_rows_per_page", q.rows as f64 / q.ms.len() as f64);
        report.num(
            "queue_pages_with_rows_share",
            q.with_rows as f64 / q.ms.len() as f64,
        );
        let d = &self.dashboard;
        report.num(
            "dashboard_consulates",
            d.rows as f64 / d.with_rows.max(1) as f64,
        );

        // The targets are judged on the slower path.
        let worst = |a: &mut Series, b: &mut Series| {
            percentile(&mut a.ms, 99.0).max(percentile(&mut b.ms, 99.0))
        };
        let queue_p99 = worst(&mut self.direct_queue, &mut self.gateway_queue);
        let case_p99 = worst(&mut self.direct_case, &mut self.gateway_case);
        let dashboard_p99 = percentile(&mut self.dashboard.ms, 99.0);
        report.num("queue_page_p99_ms", queue_p99);
        report.num("case_view_p99_ms", case_p99);

        // The officer's mix, the same requests on both paths.
        let mut direct: Vec<f64> = [&self.direct_queue.ms[..], &self.direct_case.ms[..]].concat();
        let mut tunnel: Vec<f64> = [&self.gateway_queue.ms[..], &self.gateway_case.ms[..]].concat();
        let (d50, t50) = (percentile(&mut direct, 50.0), percentile(&mut tunnel, 50.0));
        let (d99, t99) = (percentile(&mut direct, 99.0), percentile(&mut tunnel, 99.0));
        let rps = |a: &Series, b: &Series| (a.ms.len() + b.ms.len()) as f64 / (a.wall_s + b.wall_s);
        report.num("direct_mix_p50_ms", d50);
        report.num("gateway_mix_p50_ms", t50);
        report.num("direct_mix_p99_ms", d99);
        report.num("gateway_mix_p99_ms", t99);
        report.num("direct_rps", rps(&self.direct_queue, &self.direct_case));
        report.num("gateway_rps", rps(&self.gateway_queue, &self.gateway_case));
        report.num("tunnel_overhead_ratio", t50 / d50);
        report.num("tunnel_overhead_p99_ratio", t99 / d99);
        report.num("tunnel_added_p50_ms", t50 - d50);

        report.flag("queue_page_p99_ok", queue_p99 < 50.0);
        report.flag("case_view_p99_ok", case_p99 < 50.0);
        report.flag("dashboard_p99_ok", dashboard_p99 < 200.0);
        report.flag("tunnel_overhead_ok", t50 / d50 < 1.5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_and_unescaped() {
        let html = "<p><a href=\"/queues/consulate?sort=oldest&amp;after=o3.17.42\" \
                    rel=\"next\">Next page</a></p>";
        assert_eq!(
            next_link(html).as_deref(),
            Some("/queues/consulate?sort=oldest&after=o3.17.42")
        );
        assert_eq!(next_link("<p>No cases here.</p>"), None);
    }

    #[test]
    fn dashboard_rows_count_the_first_table_only() {
        let html = "<table id=\"dashboard\"><tr><th scope=\"row\">a</th></tr>\
                    <tr><th scope=\"row\">b</th></tr></table>\
                    <table><tr><th scope=\"row\">new</th></tr></table>";
        assert_eq!(dashboard_rows(html), 2);
    }
}
