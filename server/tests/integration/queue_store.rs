//! The queue's store on both engines: what a fetch hands over, repeated
//! results within one batch, and the timeline kept partly in the command's
//! row.

use app::api::{Mode, Transport};
use server::db::Db;
use server::products::store as products;
use server::queue::store::{self as queue, Ack, ClaimRules, Completion, Released};
use server::queue::{fate, CommandState, NewCommand, Routing};

const RULES: ClaimRules = ClaimRules {
    routing: Routing::Affinity,
    affinity_ms: 3_000,
    node_offline_after_ms: 5_000,
    lease_ms: 30_000,
};

async fn product(db: &Db, name: &str) -> String {
    testkit::two_way_product(db, name).await
}

/// The product of `command` answered its wake-up just now.
fn notice(command: &str) -> queue::Notice {
    queue::Notice {
        command: command.to_owned(),
        how: "callback answered".into(),
        answered: std::time::Instant::now(),
    }
}

/// A ping for `product`, queued by "tester".
fn ping(product: &str) -> NewCommand {
    NewCommand {
        product_id: product.into(),
        kind: "ping".into(),
        args: "{}".into(),
        created_by: "tester".into(),
    }
}

/// `product`'s successful result for `command`.
fn pong(product: &str, command: &str) -> Ack {
    Ack {
        product: product.into(),
        command: command.into(),
        outcome: CommandState::Succeeded,
        output: "pong".into(),
    }
}

/// Queues `n` pings for `product`, one statement each (distinct times).
async fn queue_pings(db: &Db, product: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = uuid::Uuid::new_v4().to_string();
        queue::enqueue(db, "node-a", &[(id.clone(), ping(product))], 3_600_000, 5)
            .await
            .unwrap();
        ids.push(id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    ids
}

fn ids(list: &[queue::Deliverable]) -> Vec<String> {
    list.iter().map(|c| c.id.clone()).collect()
}

#[tokio::test]
async fn a_fetch_hands_each_product_its_oldest_commands_once_up_to_the_limit() {
    for test in testkit::databases().await {
        let db = Db::connect(&test.url).await.unwrap();
        let (p1, p2) = (product(&db, "p1").await, product(&db, "p2").await);
        let one = queue_pings(&db, &p1, 5).await;
        let two = queue_pings(&db, &p2, 2).await;
        let both = [p1.clone(), p2.clone()];
        let first = queue::deliver_many(&db, "node-b", &both, 30_000, 3)
            .await
            .unwrap();
        assert_eq!(ids(&first[0]), one[..3], "{}", test.engine);
        assert_eq!(ids(&first[1]), two, "{}", test.engine);
        let again = queue::deliver_many(&db, "node-b", &both, 30_000, 3)
            .await
            .unwrap();
        assert_eq!(ids(&again[0]), one[3..], "{}", test.engine);
        assert!(again[1].is_empty(), "{}", test.engine);
        let (c, _, _) = queue::get(&db, &one[0]).await.unwrap().unwrap();
        assert_eq!((c.state.as_str(), c.attempts), ("delivered", 1));
        assert_eq!(c.holder.as_deref(), Some("node-b"));
        db.close().await;
    }
}

/// A result is taken only for a command handed to its product: one still
/// queued (or only dispatched) was never seen by the product, so a result
/// for it is refused and the command keeps waiting.
#[tokio::test]
async fn a_result_for_a_command_never_delivered_is_refused() {
    for test in testkit::databases().await {
        let db = Db::connect(&test.url).await.unwrap();
        let (p1, p2) = (product(&db, "p1").await, product(&db, "p2").await);
        let cid = queue_pings(&db, &p1, 1).await.remove(0);
        let answers = queue::complete_many(&db, "node-a", &[pong(&p1, &cid), pong(&p2, &cid)])
            .await
            .unwrap();
        assert_eq!(
            answers,
            [Some(Completion::NotDelivered), None],
            "{}",
            test.engine
        );
        let claimed = queue::claim(&db, "node-a", RULES, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{}", test.engine);
        let answers = queue::complete_many(&db, "node-a", &[pong(&p1, &cid)])
            .await
            .unwrap();
        assert_eq!(answers, [Some(Completion::NotDelivered)], "dispatched");
        let (c, _, _) = queue::get(&db, &cid).await.unwrap().unwrap();
        assert_eq!(c.state, "dispatched", "{}", test.engine);
        queue::deliver_many(&db, "node-a", std::slice::from_ref(&p1), 30_000, 100)
            .await
            .unwrap();
        let answers = queue::complete_many(&db, "node-a", &[pong(&p1, &cid)])
            .await
            .unwrap();
        assert_eq!(answers, [Some(Completion::Recorded)], "{}", test.engine);
        db.close().await;
    }
}

#[tokio::test]
async fn repeated_results_in_one_batch_count_once_and_strangers_get_nothing() {
    for test in testkit::databases().await {
        let db = Db::connect(&test.url).await.unwrap();
        let (p1, p2) = (product(&db, "p1").await, product(&db, "p2").await);
        let cid = queue_pings(&db, &p1, 1).await.remove(0);
        queue::deliver_many(&db, "node-a", std::slice::from_ref(&p1), 30_000, 100)
            .await
            .unwrap();
        let ack = |product: &str, outcome| Ack {
            product: product.into(),
            command: cid.clone(),
            outcome,
            output: "out".into(),
        };
        let acks = [
            ack(&p2, CommandState::Failed),
            ack(&p1, CommandState::Succeeded),
            ack(&p1, CommandState::Failed),
        ];
        let answers = queue::complete_many(&db, "node-a", &acks).await.unwrap();
        assert_eq!(
            answers,
            [
                None,
                Some(Completion::Recorded),
                Some(Completion::AlreadyFinal(CommandState::Succeeded))
            ],
            "{}",
            test.engine
        );
        let later = queue::complete_many(&db, "node-b", &acks[2..])
            .await
            .unwrap();
        assert_eq!(
            later,
            [Some(Completion::AlreadyFinal(CommandState::Succeeded))]
        );
        let (c, _, output) = queue::get(&db, &cid).await.unwrap().unwrap();
        assert_eq!(
            (c.state.as_str(), output.as_deref()),
            ("succeeded", Some("out"))
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_released_attempt_stays_on_the_timeline_before_the_next_one() {
    for test in testkit::databases().await {
        let db = Db::connect(&test.url).await.unwrap();
        let p = product(&db, "p").await;
        let cid = queue_pings(&db, &p, 1).await.remove(0);
        let claimed = queue::claim(&db, "node-a", RULES, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{}", test.engine);
        queue::notified_many(&db, "node-a", &[notice(&cid)])
            .await
            .unwrap();
        // The timeline is in time order: the retry comes a little later.
        let decide = |attempts, max| fate::undelivered("callback failed", true, attempts, max, 5);
        let released = queue::release(&db, "node-a", &cid, decide).await.unwrap();
        assert_eq!(released, Released::Requeued);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            queue::claim(&db, "node-b", RULES, 10).await.unwrap().len(),
            1
        );
        queue::notified_many(&db, "node-b", &[notice(&cid)])
            .await
            .unwrap();
        queue::deliver_many(&db, "node-b", std::slice::from_ref(&p), 30_000, 5)
            .await
            .unwrap();
        queue::complete_many(&db, "node-b", &[pong(&p, &cid)])
            .await
            .unwrap();
        let timeline: Vec<String> = queue::events(&db, &cid)
            .await
            .unwrap()
            .iter()
            .map(|e| format!("{} {}: {}", e.node, e.state, e.note))
            .collect();
        assert_eq!(
            timeline,
            [
                "node-a queued: queued by tester",
                "node-a dispatched: claimed: the product has no home node yet",
                "node-a dispatched: product notified (callback answered)",
                "node-a queued: callback failed; released, retry in 0.0 s",
                "node-b dispatched: claimed: the product has no home node yet",
                "node-b dispatched: product notified (callback answered)",
                "node-b delivered: fetched by the product",
                "node-b succeeded: result posted: succeeded",
            ],
            "{}",
            test.engine
        );
        db.close().await;
    }
}

/// A node records its notifications while the woken products already fetch
/// and other results arrive: batches over the same rows, each listing them
/// in its own order, run at once and must all go through (on PostgreSQL a
/// circle of row locks would end one of them with a deadlock error).
#[tokio::test]
async fn overlapping_notifications_fetches_and_results_all_go_through() {
    for test in testkit::databases().await {
        let db = Db::connect(&test.url).await.unwrap();
        let mut products = Vec::new();
        for i in 0..20 {
            products.push(product(&db, &format!("p{i}")).await);
        }
        for round in 0..25 {
            let batch: Vec<(String, NewCommand)> = (0..100)
                .map(|i| {
                    let c = ping(&products[i % products.len()]);
                    (uuid::Uuid::new_v4().to_string(), c)
                })
                .collect();
            queue::enqueue(&db, "node-a", &batch, 3_600_000, 5)
                .await
                .unwrap();
            let claimed = queue::claim(&db, "node-a", RULES, 100).await.unwrap();
            assert_eq!(claimed.len(), 100, "{} round {round}", test.engine);
            // The notifications list the commands in the opposite order of
            // the products' fetch; the results cover both halves.
            let notices: Vec<queue::Notice> =
                batch.iter().rev().map(|(id, _)| notice(id)).collect();
            let mut reversed = products.clone();
            reversed.reverse();
            let early: Vec<Ack> = batch
                .iter()
                .rev()
                .step_by(2)
                .map(|(id, c)| pong(&c.product_id, id))
                .collect();
            let (notified, fetched, first, second) = tokio::join!(
                queue::notified_many(&db, "node-a", &notices),
                queue::deliver_many(&db, "node-a", &products, 30_000, 100),
                queue::complete_many(&db, "node-b", &early),
                queue::deliver_many(&db, "node-c", &reversed, 30_000, 100),
            );
            let engine = test.engine;
            notified.unwrap_or_else(|e| panic!("{engine} round {round}: notification: {e}"));
            let fetched = fetched.unwrap_or_else(|e| panic!("{engine} round {round}: fetch: {e}"));
            let second = second.unwrap_or_else(|e| panic!("{engine} round {round}: fetch: {e}"));
            first.unwrap_or_else(|e| panic!("{engine} round {round}: results: {e}"));
            // Every command was handed over once, by one of the two fetches
            // (or ended by a result before either reached it).
            let handed = fetched.iter().chain(&second).flatten().count();
            assert!(
                handed <= 100,
                "{engine} round {round}: {handed} handed over"
            );
            // What the racing fetches skipped (rows held by the others) is
            // handed over now: only delivered commands take results.
            queue::deliver_many(&db, "node-a", &products, 30_000, 100)
                .await
                .unwrap();
            let rest: Vec<Ack> = batch
                .iter()
                .map(|(id, c)| pong(&c.product_id, id))
                .collect();
            let answers = queue::complete_many(&db, "node-a", &rest).await.unwrap();
            assert!(
                answers.iter().all(|a| matches!(
                    a,
                    Some(Completion::Recorded | Completion::AlreadyFinal(CommandState::Succeeded))
                )),
                "{engine} round {round}: {answers:?}"
            );
            let (last, _, _) = queue::get(&db, &batch[99].0).await.unwrap().unwrap();
            assert_eq!(last.state, "succeeded", "{engine} round {round}");
        }
        db.close().await;
    }
}

/// A product that repeats its results through two nodes at once (its first
/// node answered too late): both batches go through, their commands listed
/// in opposite orders, and each command is recorded once.
#[tokio::test]
async fn the_same_results_through_two_nodes_at_once_are_recorded_once() {
    for test in testkit::databases().await {
        let engine = test.engine;
        let db = Db::connect(&test.url).await.unwrap();
        let mut products = Vec::new();
        for i in 0..10 {
            products.push(product(&db, &format!("p{i}")).await);
        }
        for round in 0..10 {
            let batch: Vec<(String, NewCommand)> = (0..200)
                .map(|i| {
                    let id = uuid::Uuid::new_v4().to_string();
                    (id, ping(&products[i % products.len()]))
                })
                .collect();
            queue::enqueue(&db, "node-a", &batch, 3_600_000, 5)
                .await
                .unwrap();
            let delivered = queue::deliver_many(&db, "node-a", &products, 30_000, 100)
                .await
                .unwrap();
            assert_eq!(delivered.iter().flatten().count(), 200, "{engine}");
            let acks: Vec<Ack> = batch
                .iter()
                .map(|(id, c)| pong(&c.product_id, id))
                .collect();
            let mut reversed = acks.clone();
            reversed.reverse();
            let (first, second) = tokio::join!(
                queue::complete_many(&db, "node-a", &acks),
                queue::complete_many(&db, "node-b", &reversed),
            );
            let first = first.unwrap_or_else(|e| panic!("{engine} round {round}: {e}"));
            let mut second = second.unwrap_or_else(|e| panic!("{engine} round {round}: {e}"));
            second.reverse();
            for (i, pair) in first.iter().zip(&second).enumerate() {
                let pair = [*pair.0, *pair.1];
                assert!(
                    pair.contains(&Some(Completion::Recorded))
                        && pair.contains(&Some(Completion::AlreadyFinal(CommandState::Succeeded))),
                    "{engine} round {round}, command {i}: {pair:?}"
                );
            }
        }
        db.close().await;
    }
}

/// Only two-way products' commands are claimed, and a product's queued
/// commands follow it when its handshake changes its mode.
#[tokio::test]
async fn queued_commands_follow_their_products_mode() {
    for test in testkit::databases().await {
        let engine = test.engine;
        let db = Db::connect(&test.url).await.unwrap();
        let p = product(&db, "p").await;
        products::set_handshake(&db, &p, Transport::Http, Mode::OneWay, None)
            .await
            .unwrap();
        let cid = queue_pings(&db, &p, 1).await.remove(0);
        assert!(
            queue::claim(&db, "node-a", RULES, 10)
                .await
                .unwrap()
                .is_empty(),
            "{engine}: a one-way product's command waits for its poll"
        );
        products::set_handshake(&db, &p, Transport::Http, Mode::TwoWay, None)
            .await
            .unwrap();
        let claimed = queue::claim(&db, "node-a", RULES, 10).await.unwrap();
        assert_eq!(
            claimed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            [cid.as_str()],
            "{engine}"
        );
        // Queued for a product that does not exist: nothing of the batch.
        let batch = [
            ("c1".to_owned(), ping(&p)),
            ("c2".to_owned(), ping("no-such-product")),
        ];
        assert!(
            queue::enqueue(&db, "node-a", &batch, 60_000, 5)
                .await
                .is_err(),
            "{engine}"
        );
        assert!(queue::get(&db, "c1").await.unwrap().is_none(), "{engine}");
        db.close().await;
    }
}

/// The time to live bounds a command's wait; once handed over, its lease
/// does: a result within the lease counts, and a lease that lapses past the
/// time to live ends the command as expired, not queued again.
#[tokio::test]
async fn a_handed_over_command_outlives_its_time_to_live_until_its_lease_ends() {
    use std::time::Duration;
    for test in testkit::databases().await {
        let engine = test.engine;
        let db = Db::connect(&test.url).await.unwrap();
        let (p, idle) = (product(&db, "p").await, product(&db, "idle").await);
        let batch: Vec<(String, NewCommand)> = [&p, &p, &idle]
            .iter()
            .enumerate()
            .map(|(i, product)| (format!("c{i}"), ping(product)))
            .collect();
        queue::enqueue(&db, "node-a", &batch, 200, 5).await.unwrap();
        let handed = queue::deliver_many(&db, "node-a", std::slice::from_ref(&p), 1_000, 5)
            .await
            .unwrap();
        assert_eq!(handed[0].len(), 2, "{engine}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Past the time to live: the queued command ends, the delivered ones
        // are within their lease.
        let rescued = queue::rescue(&db, "node-a", 100, |holder, attempts, max| {
            fate::lapsed(holder, attempts, max, 0)
        })
        .await
        .unwrap();
        assert_eq!(rescued.expired, 1, "{engine}: {rescued:?}");
        let state = |id: &'static str| {
            let db = db.clone();
            async move { queue::get(&db, id).await.unwrap().unwrap().0.state }
        };
        assert_eq!(state("c2").await, "expired", "{engine}");
        let answers = queue::complete_many(&db, "node-a", &[pong(&p, "c0")])
            .await
            .unwrap();
        assert_eq!(answers, [Some(Completion::Recorded)], "{engine}");
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let rescued = queue::rescue(&db, "node-a", 100, |holder, attempts, max| {
            fate::lapsed(holder, attempts, max, 0)
        })
        .await
        .unwrap();
        assert_eq!(rescued.expired, 1, "{engine}: {rescued:?}");
        assert_eq!(rescued.requeued, 0, "{engine}: {rescued:?}");
        assert_eq!(state("c0").await, "succeeded", "{engine}");
        assert_eq!(state("c1").await, "expired", "{engine}");
        db.close().await;
    }
}
