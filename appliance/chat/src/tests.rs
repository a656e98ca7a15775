use super::*;

fn case(n: i64) -> CaseId {
    CaseId::from_raw(n)
}

#[tokio::test]
async fn a_message_reaches_the_citizen_only_while_connected() {
    let hub = Hub::new(Settings::default());
    assert!(!hub.to_citizen(case(1), ToCitizen::Typing));
    let mut link = hub.connect_citizen(case(1)).unwrap();
    assert!(hub.is_live(case(1)));
    assert!(hub.to_citizen(case(1), ToCitizen::Typing));
    assert_eq!(link.rx.recv().await, Some(ToCitizen::Typing));
    drop(link);
    assert!(!hub.is_live(case(1)));
    assert!(hub.is_empty());
}

#[tokio::test]
async fn agents_hear_presence_messages_and_pickups() {
    let hub = Hub::new(Settings::default());
    let mut watch = hub.watch(case(2)).unwrap();
    let link = hub.connect_citizen(case(2)).unwrap();
    hub.to_agents(case(2), ToAgent::Typing);
    hub.picked_up(case(2), "Ana");
    assert_eq!(
        watch.rx.recv().await.unwrap(),
        ToAgent::Presence { online: true }
    );
    assert_eq!(watch.rx.recv().await.unwrap(), ToAgent::Typing);
    assert_eq!(
        watch.rx.recv().await.unwrap(),
        ToAgent::Joined { name: "Ana".into() }
    );
    drop(link);
    assert_eq!(
        watch.rx.recv().await.unwrap(),
        ToAgent::Presence { online: false }
    );
    drop(watch);
    assert!(hub.is_empty());
}

#[tokio::test]
async fn a_full_hub_refuses_a_new_chat_and_keeps_the_others() {
    let hub = Hub::new(Settings {
        max_chats: 2,
        ..Settings::default()
    });
    let a = hub.connect_citizen(case(1)).unwrap();
    let _b = hub.connect_citizen(case(2)).unwrap();
    assert_eq!(hub.connect_citizen(case(3)).err(), Some(Full));
    assert!(hub.to_citizen(case(1), ToCitizen::Typing));
    drop(a);
    assert!(hub.connect_citizen(case(3)).is_ok());
}

#[tokio::test]
async fn a_full_citizen_queue_reports_not_delivered_and_never_blocks() {
    let hub = Hub::new(Settings {
        citizen_queue: 2,
        ..Settings::default()
    });
    let _link = hub.connect_citizen(case(1)).unwrap();
    assert!(hub.to_citizen(case(1), ToCitizen::Typing));
    assert!(hub.to_citizen(case(1), ToCitizen::Typing));
    assert!(!hub.to_citizen(case(1), ToCitizen::Typing));
}

#[tokio::test]
async fn a_replaced_window_does_not_unregister_its_successor() {
    let hub = Hub::new(Settings::default());
    let old = hub.connect_citizen(case(1)).unwrap();
    let _new = hub.connect_citizen(case(1)).unwrap();
    drop(old);
    assert!(hub.is_live(case(1)));
}

#[tokio::test(start_paused = true)]
async fn the_no_agent_wait_ends_on_pickup_or_timeout() {
    let hub = Hub::new(Settings::default());
    let _link = hub.connect_citizen(case(1)).unwrap();
    assert!(!hub.wait_for_agent(case(1), Duration::from_secs(2)).await);
    let waiter = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.wait_for_agent(case(1), Duration::from_secs(60)).await })
    };
    tokio::task::yield_now().await;
    hub.picked_up(case(1), "Ana");
    assert!(waiter.await.unwrap());
}
