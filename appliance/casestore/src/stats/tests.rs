use super::{BOUNDS, bucket, oldest_open_sql, percentile};
use crate::testkit::{self, agent, message, new_case};
use crate::{
    ConsulateId, Direction, Expect, Priority, Sensitivities, Sensitivity, StatMetric, Status,
    Timestamp, Visibility,
};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

#[test]
fn buckets_grow_by_a_quarter_from_a_minute_to_most_of_a_year() {
    assert_eq!(bucket(-5), 0, "a clock step counts as under a minute");
    assert_eq!(bucket(MINUTE - 1), 0);
    assert_eq!(bucket(MINUTE), 1);
    assert_eq!(bucket(75_000), 2);
    assert_eq!(bucket(i64::MAX), 59);
    for w in BOUNDS.windows(2) {
        let growth = w[1] as f64 / w[0] as f64;
        assert!((1.24..=1.25).contains(&growth), "{w:?}");
    }
    let last_days = BOUNDS[BOUNDS.len() - 1] / DAY;
    assert!((200..400).contains(&last_days), "{last_days} days");
    // Nearest rank: of 10 values, the median is the 5th, the 90th percentile the 9th.
    let mut counts = [0; super::BUCKETS];
    for minutes in 1..=10 {
        counts[usize::from(bucket(minutes * MINUTE))] += 1;
    }
    let reported = |rank_value: i64| BOUNDS[usize::from(bucket(rank_value))];
    assert_eq!(percentile(&counts, 10, 50), Some(reported(5 * MINUTE)));
    assert_eq!(percentile(&counts, 10, 90), Some(reported(9 * MINUTE)));
    assert_eq!(percentile(&counts, 0, 50), None);
}

#[test]
fn response_times_per_consulate_and_day_from_the_counters() {
    let t = testkit::store();
    let reply = message(Direction::Out, Visibility::External, "răspuns");
    // Paris answers its ten cases after 1…10 minutes; Madrid its one after a day.
    let mut cases = Vec::new();
    for _ in 0..10 {
        cases.push(t.store.create_case(&new_case("cerere")).unwrap().case_id);
    }
    let mut madrid = new_case("cerere");
    madrid.consulate = testkit::consulate("RO-MAD");
    let slow = t.store.create_case(&madrid).unwrap().case_id;
    for case in &cases {
        t.clock.advance_ms(MINUTE);
        t.store.add_message(*case, &reply, Expect::Any).unwrap();
    }
    let day0 = Timestamp::from_unix_ms(testkit::T0);
    let paris = testkit::consulate("RO-PAR");
    let stats = t
        .store
        .response_stats(
            Some(&paris),
            Sensitivities::ALL,
            StatMetric::FirstResponse,
            day0,
            day0,
        )
        .unwrap();
    assert_eq!(stats.count, 10);
    let (median, p90) = (stats.median_ms.unwrap(), stats.p90_ms.unwrap());
    assert!(
        (5 * MINUTE..=5 * MINUTE * 5 / 4).contains(&median),
        "{median}"
    );
    assert!((9 * MINUTE..=9 * MINUTE * 5 / 4).contains(&p90), "{p90}");

    t.clock.set(Timestamp::from_unix_ms(testkit::T0 + DAY));
    t.store.add_message(slow, &reply, Expect::Any).unwrap();
    let next_day = day0.plus_ms(DAY);
    let everywhere = |since, until| {
        t.store
            .response_stats(
                None,
                Sensitivities::ALL,
                StatMetric::FirstResponse,
                since,
                until,
            )
            .unwrap()
            .count
    };
    assert_eq!(everywhere(day0, next_day), 11);
    assert_eq!(everywhere(next_day, next_day), 1, "only the day asked for");
    assert_eq!(everywhere(day0.plus_ms(-DAY), day0.plus_ms(-DAY)), 0);
    let madrid = t
        .store
        .response_stats(
            Some(&testkit::consulate("RO-MAD")),
            Sensitivities::ALL,
            StatMetric::FirstResponse,
            day0,
            next_day,
        )
        .unwrap();
    assert!(madrid.median_ms.unwrap() >= DAY);
    let none = t
        .store
        .response_stats(
            Some(&paris),
            Sensitivities::ALL,
            StatMetric::Resolution,
            day0,
            next_day,
        )
        .unwrap();
    assert_eq!((none.count, none.median_ms, none.p90_ms), (0, None, None));
}

#[test]
fn the_oldest_open_case_the_unacknowledged_emergencies_and_the_consulates() {
    let t = testkit::store();
    assert!(t.store.consulates().unwrap().is_empty());
    let mut restricted = new_case("arestat");
    restricted.sensitivity = Sensitivity::Restricted;
    restricted.priority = Priority::P0;
    let oldest = t.store.create_case(&restricted).unwrap();
    t.clock.advance_ms(1000);
    let mut london = new_case("pașaport");
    london.consulate = testkit::consulate("RO-LON");
    london.priority = Priority::P1;
    let next = t.store.create_case(&london).unwrap();
    t.clock.advance_ms(1000);
    t.store.create_case(&new_case("altceva")).unwrap();

    let normal = Sensitivities::only(Sensitivity::Normal);
    let paris = testkit::consulate("RO-PAR");
    let first = |c: Option<&ConsulateId>, s| t.store.oldest_open(c, s).unwrap().map(|o| o.0);
    assert_eq!(first(None, Sensitivities::ALL), Some(oldest.case_id));
    let (_, no, at) = t
        .store
        .oldest_open(None, Sensitivities::ALL)
        .unwrap()
        .unwrap();
    assert_eq!((no, at.unix_ms()), (oldest.case_no, testkit::T0));
    assert_eq!(
        first(None, normal),
        Some(next.case_id),
        "restricted is not shown"
    );
    assert_eq!(first(Some(&paris), Sensitivities::NONE), None);

    assert_eq!(
        t.store
            .unacknowledged_emergencies(None, Sensitivities::ALL)
            .unwrap(),
        2
    );
    assert_eq!(t.store.unacknowledged_emergencies(None, normal).unwrap(), 1);
    assert_eq!(
        t.store
            .unacknowledged_emergencies(Some(&paris), Sensitivities::ALL)
            .unwrap(),
        1
    );
    let ana = crate::AgentId::new("ana").unwrap();
    t.store
        .assign(oldest.case_id, Some(&ana), &agent("ana"), Expect::Any)
        .unwrap();
    assert_eq!(
        t.store
            .unacknowledged_emergencies(None, Sensitivities::ALL)
            .unwrap(),
        1
    );
    assert_eq!(t.store.assigned_count(&ana).unwrap(), 1);
    t.store
        .change_status(
            oldest.case_id,
            Status::Closed,
            &agent("ana"),
            None,
            Expect::Any,
        )
        .unwrap();
    assert_eq!(first(None, Sensitivities::ALL), Some(next.case_id));
    assert_eq!(
        t.store.consulates().unwrap(),
        vec![testkit::consulate("RO-LON"), paris]
    );
}

#[test]
fn the_oldest_open_case_is_read_from_five_index_ranges_without_a_sort() {
    let t = testkit::store();
    for i in 0..30 {
        let mut new = new_case("cerere");
        new.sensitivity = Sensitivity::ALL[i % 3];
        t.store.create_case(&new).unwrap();
    }
    t.store.optimize().unwrap();
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    let paris = testkit::consulate("RO-PAR");
    for consulate in [Some(&paris), None] {
        for set in [Sensitivities::ALL, Sensitivities::only(Sensitivity::Normal)] {
            let (sql, args) = oldest_open_sql(consulate, set);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join("\n");
            let index = if consulate.is_some() {
                "PRIMARY KEY"
            } else {
                "queue_entries_all"
            };
            // One range per priority in the urgency order, merged: no scan, no sort.
            assert_eq!(
                plan.matches(&format!("SEARCH q USING COVERING INDEX {index}"))
                    .count()
                    + plan.matches(&format!("SEARCH q USING {index}")).count(),
                5,
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
    // The histogram read is a range of its primary key, not a scan.
    let mut stmt = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT bucket, sum(n) FROM response_histogram
             WHERE consulate = ?1 AND metric = ?2 AND day BETWEEN ?3 AND ?4 GROUP BY bucket",
        )
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(rusqlite::params!["*", "first_response", 1, 2], |r| r.get(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .any(|p| p.starts_with("SEARCH response_histogram")),
        "{plan:?}"
    );
}
