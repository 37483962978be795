use std::time::Duration;

use vod_sim::ThrottleSettings;
use vod_upload::{Event, FileStatus, NetworkPolicy, NetworkState, NetworkType, WaitingReason};

use crate::common::*;

fn net(network_type: NetworkType, metered: bool) -> NetworkState {
    NetworkState {
        network_type,
        metered,
        roaming: false,
        validated: true,
    }
}

/// Wi-Fi only (the default): cellular stops traffic at once, Wi-Fi resumes by itself, and
/// neither is counted as a failure or a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cellular_stops_traffic_and_wifi_resumes_it() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    h.engine.set_network_state(net(NetworkType::Wifi, false));
    // A link so slow that no 100 KiB part can finish for 1.5 s even alone on it: around the
    // cut, nothing completes and so no new part may begin. Every request that reaches the
    // server after the cut is then one the engine began after it: a leak. (Cutting while
    // parts finish would race with requests already handed to the socket, which no client
    // can take back.)
    h.sim.throttle(ThrottleSettings {
        bandwidth: Some(64 * 1024),
        latency_ms: 0,
    });
    let (path, data) = h.file("commute.mp4", 2 * 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.wait_until("three parts in flight at the server", |h| {
        h.sim.stats().ops.get("UploadPart") == Some(&3)
    })
    .await;
    h.events.wait_progress(&id, 1).await;

    h.engine.set_network_state(net(NetworkType::Cellular, true));
    let info = h.engine.file(&id).unwrap();
    assert_eq!(
        (info.status, info.waiting),
        (FileStatus::Waiting, Some(WaitingReason::Network))
    );
    h.events
        .wait_for("waiting(network)", |ev| {
            ev.iter().any(|e| {
                matches!(
                    e,
                    Event::Waiting {
                        reason: WaitingReason::Network,
                        ..
                    }
                )
            })
        })
        .await;
    // From here on the engine sends nothing new, even on a fast link again (where a part it
    // failed to cancel would finish at once and the next ones start): no request arrives, and
    // the server reads at most what was already in flight (the three parts' bodies, which may
    // sit whole in socket buffers and so still be stored).
    let before = h.sim.stats();
    h.sim.throttle(ThrottleSettings::default());
    let window = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < window {
        let now = h.sim.stats();
        assert_eq!(
            now.requests, before.requests,
            "a request was sent on cellular: {:?} then {:?}",
            before.ops, now.ops
        );
        assert!(
            now.object_bytes_received - before.object_bytes_received <= 3 * 100 * 1024,
            "bytes beyond what was in flight"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    h.engine.set_network_state(net(NetworkType::Wifi, false));
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(
        h.events
            .count(|e| matches!(e, Event::Retry { .. } | Event::Failed { .. })),
        0
    );
    assert_progress_sane(&h.events.all(), &id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_starts_while_the_network_is_disallowed_and_policy_changes_apply() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    h.engine.set_network_state(net(NetworkType::Cellular, true));
    let (path, data) = h.file("later.mp4", 300 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events
        .wait_for("waiting(network)", |ev| {
            ev.iter().any(|e| matches!(e, Event::Waiting { file, reason: WaitingReason::Network } if file.id == id))
        })
        .await;
    assert_eq!(h.sim.stats().requests, 0, "nothing was sent on cellular");
    assert_eq!(
        h.engine.file(&id).unwrap().waiting,
        Some(WaitingReason::Network)
    );
    // Switching the policy to "any network" lets it go on cellular.
    h.engine.set_network_policy(NetworkPolicy::Any);
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cellular_budget_pauses_when_spent() {
    let h =
        Harness::new(|c| c.network_policy = NetworkPolicy::CellularBudget { bytes: 250 * 1024 })
            .await;
    h.use_account_key();
    h.engine.set_network_state(net(NetworkType::Cellular, true));
    let (path, data) = h.file("budget.mp4", 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events
        .wait_for("waiting(network) after the budget", |ev| {
            ev.iter().any(|e| {
                matches!(
                    e,
                    Event::Waiting {
                        reason: WaitingReason::Network,
                        ..
                    }
                )
            })
        })
        .await;
    let info = h.engine.file(&id).unwrap();
    assert!(info.bytes_uploaded < data.len() as u64);
    h.engine.set_network_state(net(NetworkType::Wifi, false));
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}
