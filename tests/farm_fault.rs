//! A panicking session (cargo feature `fault-injection`): its client gets
//! SESSION_CRASHED, every other session goes on, the panic is counted and the
//! slot is freed. Run with `cargo test --features fault-injection --test farm_fault`.
#![cfg(feature = "fault-injection")]

mod common;

use std::time::Duration;

use common::*;
use mlops_debug_env::config::{FarmSettings, Settings};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_panicking_session_harms_no_other() {
    let server =
        start(Settings { farm: FarmSettings { max_sessions: 3, ..settings().farm }, ..settings() }).await;
    let http = Http::new(&server);
    let mut ws = server.ws().await;
    request(&mut ws, json!({"type": "reset", "data": {"task_id": "hard", "seed": 1}})).await;
    let (_, _, b) = http.post("/reset", None, json!({"seed": 2})).await;
    let b = b["session_id"].as_str().unwrap().to_string();
    let (_, _, c) = http.post("/reset", None, json!({"seed": 3})).await;
    let c = c["session_id"].as_str().unwrap().to_string();

    let (s, _, e) = http.post("/step", Some(&c), json!({"action_type": "__panic__"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (500, Some("SESSION_CRASHED")));
    let (s, e) = http.get("/state", Some(&c)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (410, Some("SESSION_EXPIRED")));

    // the others carry on
    let (s, _, _) = http.post("/step", Some(&b), json!({"action_type": "read_config"})).await;
    assert_eq!(s, 200);
    assert_eq!(
        request(&mut ws, json!({"type": "step", "data": {"action_type": "read_config"}})).await["type"],
        "observation"
    );

    // the slot is freed: a new session fits beside the two live ones
    let mut admitted = false;
    for _ in 0..50 {
        if http.post("/reset", None, json!({})).await.0 == 200 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted, "the crashed session's slot was not freed");

    let m = server.metrics().await;
    assert_eq!(metric(&m, "mlops_actor_panics_total"), Some(1.0));
    assert_eq!(metric(&m, r#"mlops_sessions_closed_total{reason="panic"}"#), Some(1.0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_sees_the_crash_and_a_1011_close() {
    let server = start(settings()).await;
    let mut other = server.ws().await;
    request(&mut other, json!({"type": "reset", "data": {"seed": 1}})).await;
    let mut ws = server.ws().await;
    request(&mut ws, json!({"type": "reset", "data": {"seed": 2}})).await;
    let r = request(&mut ws, json!({"type": "step", "data": {"action_type": "__panic__"}})).await;
    assert_eq!(r["data"]["code"], "SESSION_CRASHED");
    assert_eq!(closed(&mut ws).await.0, 1011);
    assert_eq!(
        request(&mut other, json!({"type": "step", "data": {"action_type": "read_config"}})).await["data"]["reward"],
        0.02
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_steps_hit_the_deadline_and_block_concurrent_steps() {
    let server =
        start(Settings { farm: FarmSettings { request_deadline_secs: 1, ..settings().farm }, ..settings() })
            .await;
    // Shared: the slow step presents the session's secret, which this client learned.
    let http = std::sync::Arc::new(Http::new(&server));
    let (_, _, r) = http.post("/reset", None, json!({"seed": 1})).await;
    let id = r["session_id"].as_str().unwrap().to_string();
    let (_, _, other) = http.post("/reset", None, json!({"seed": 2})).await;
    let other = other["session_id"].as_str().unwrap().to_string();
    let slow = {
        let http = http.clone();
        let id = id.clone();
        tokio::spawn(async move {
            http.post("/step", Some(&id), json!({"action_type": "__sleep__", "ms": 1500})).await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, _, e) = http.post("/step", Some(&id), json!({"action_type": "read_config"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("STEP_IN_PROGRESS")));
    let (s, _, _) = http.post("/step", Some(&other), json!({"action_type": "read_config"})).await;
    assert_eq!(s, 200, "other sessions are served meanwhile");
    let (s, _, e) = slow.await.unwrap();
    assert_eq!((s, e["error"]["code"].as_str()), (504, Some("DEADLINE_EXCEEDED")));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (s, _, _) = http.post("/step", Some(&id), json!({"action_type": "read_config"})).await;
    assert_eq!(s, 200, "the session recovers after the slow step");
    server.stop().await;
}
