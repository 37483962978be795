use std::collections::HashMap;

use vod_sim::FaultRule;
use vod_upload::Event;

use crate::common::*;

/// 5% resets and 5% 503s on parts (plus two certain 503s so the retry path always runs):
/// every file arrives byte-identical and retry / retry_resume come in pairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_part_failures_and_resets_are_retried() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    h.sim.set_faults(vec![
        FaultRule::status("UploadPart", 503).with_count(2),
        FaultRule::reset("UploadPart").with_probability(0.05),
        FaultRule::status("UploadPart", 503).with_probability(0.05),
        FaultRule::status("CompleteMultipartUpload", 500).with_count(1),
    ]);
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            let (p, d) = h.file(&format!("noisy{i}.mp4"), 1024 * 1024 + i * 7777);
            (h.add(&p), d)
        })
        .collect();
    h.engine.start();
    h.events
        .wait_for("all_done", |ev| {
            ev.iter().any(|e| matches!(e, Event::AllDone))
        })
        .await;
    for (id, data) in &files {
        h.events.wait_succeeded(id).await;
        assert_eq!(&h.read_back(&h.engine.file(id).unwrap()).await, data);
        assert_progress_sane(&h.events.all(), id);
    }
    assert!(h.sim.stats().faults_injected >= 3);
    // Per file: retry, retry_resume, retry, retry_resume, ... and never two retries in a row.
    let mut open: HashMap<String, bool> = HashMap::new();
    let mut retries = 0;
    for e in h.events.all() {
        match e {
            Event::Retry { file, code, .. } => {
                assert!(!code.is_empty());
                assert!(
                    !open.insert(file.id.clone(), true).unwrap_or(false),
                    "two retry events without a resume"
                );
                retries += 1;
            }
            Event::RetryResume { file } => {
                assert!(
                    open.insert(file.id.clone(), false).unwrap_or(false),
                    "retry_resume without retry"
                );
            }
            Event::Succeeded { file, .. } => {
                assert!(
                    !open.get(&file.id).copied().unwrap_or(false),
                    "succeeded while still in retry"
                );
            }
            _ => {}
        }
    }
    assert!(retries >= 1, "the certain faults caused at least one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_fails_the_file_with_its_code() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    h.sim.set_faults(vec![
        FaultRule::status_code("InitiateMultipartUpload", 403, "AccessDenied").with_count(1),
    ]);
    let (p, _) = h.file("denied.mp4", 300 * 1024);
    let id = h.add(&p);
    h.engine.start();
    h.events
        .wait_for("failed", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Failed { file, .. } if file.id == id))
        })
        .await;
    let failed = h.events.all().into_iter().find_map(|e| match e {
        Event::Failed { code, message, .. } => Some((code, message)),
        _ => None,
    });
    let (code, message) = failed.unwrap();
    assert_eq!(code, "AccessDenied");
    assert!(message.contains("AccessDenied"), "{message}");
    let info = h.engine.file(&id).unwrap();
    assert_eq!(info.last_error.unwrap().code, "AccessDenied");
    // resume_file puts it back in the queue and it succeeds now.
    h.engine.resume_file(&id).unwrap();
    h.events
        .wait_for("success after resume_file", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Succeeded { file, .. } if file.id == id))
        })
        .await;
}
