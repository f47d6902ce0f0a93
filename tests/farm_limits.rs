//! Capacity, idle timeout and lifetime (docs/PROTOCOL.md, lifecycle), each with its error,
//! and no other session disturbed.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use mlops_debug_env::config::{FarmSettings, Settings};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn wait_until(mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_refuses_new_sessions_and_frees_slots() {
    let server =
        start(Settings { farm: FarmSettings { max_sessions: 2, ..settings().farm }, ..settings() }).await;
    let http = Http::new(&server);
    let mut a = server.ws().await;
    request(&mut a, json!({"type": "reset", "data": {"seed": 1}})).await;
    let (_, _, b) = http.post("/reset", None, json!({"seed": 2})).await;
    let b_id = b["session_id"].as_str().unwrap().to_string();

    let (s, h, e) = http.post("/reset", None, json!({})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (503, Some("CAPACITY_REACHED")));
    assert_eq!(h["retry-after"], "1");
    assert_eq!(e["error"]["details"]["max_sessions"], 2);
    let mut c = server.ws().await;
    let frame = recv(&mut c).await;
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["data"]["code"], "CAPACITY_REACHED");
    assert_eq!(
        (frame["data"]["active_sessions"].clone(), frame["data"]["max_sessions"].clone()),
        (json!(2), json!(2))
    );
    assert!(frame["data"]["retry_after_s"].is_number());
    c.send(Message::Text(r#"{"type": "reset"}"#.into())).await.unwrap();
    assert_eq!(closed(&mut c).await.0, 1013);
    // resets of live sessions are never refused for capacity
    let (s, _, _) = http.post("/reset", Some(&b_id), json!({"seed": 3})).await;
    assert_eq!(s, 200);
    assert_eq!(
        request(&mut a, json!({"type": "step", "data": {"action_type": "read_config"}})).await["type"],
        "observation"
    );
    let m = server.metrics().await;
    assert_eq!(metric(&m, r#"mlops_sessions_rejected_total{reason="capacity"}"#), Some(2.0));
    // closing a session frees its slot
    send(&mut a, json!({"type": "close"})).await;
    closed(&mut a).await;
    wait_until(async || http.post("/reset", None, json!({})).await.0 == 200).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_without_touching_active_ones() {
    let server =
        start(Settings { farm: FarmSettings { idle_timeout_secs: 1, ..settings().farm }, ..settings() })
            .await;
    let http = Http::new(&server);
    let (_, _, idle) = http.post("/reset", None, json!({"seed": 1})).await;
    let idle_id = idle["session_id"].as_str().unwrap().to_string();
    let (_, _, busy) = http.post("/reset", None, json!({"seed": 2})).await;
    let busy_id = busy["session_id"].as_str().unwrap().to_string();
    let mut ws = server.ws().await;
    request(&mut ws, json!({"type": "reset", "data": {"seed": 3}})).await;
    // keep one session busy for 2.5 s while the others idle
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (s, _) = http.get("/state", Some(&busy_id)).await;
        assert_eq!(s, 200, "an active session is never reaped");
    }
    let (s, e) = http.get("/state", Some(&idle_id)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (410, Some("SESSION_EXPIRED")));
    let (s, _, e) = http.post("/step", Some(&idle_id), json!({"action_type": "read_config"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (410, Some("SESSION_EXPIRED")));
    assert_eq!(closed(&mut ws).await, (4001, "idle_timeout".to_string()));
    // an expired id can start a new session, and /reset says so
    let (s, _, again) = http.post("/reset", Some(&idle_id), json!({})).await;
    assert_eq!(s, 200);
    assert!(again["observation"]["messages"].to_string().contains("had expired"));
    let m = server.metrics().await;
    assert_eq!(metric(&m, r#"mlops_sessions_closed_total{reason="idle_timeout"}"#), Some(2.0));
    assert_eq!(metric(&m, r#"mlops_episodes_total{task="easy",outcome="abandoned"}"#), Some(2.0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_their_lifetime_end_after_their_episode() {
    let server = start(Settings {
        farm: FarmSettings { max_session_lifetime_secs: 1, ..settings().farm },
        ..settings()
    })
    .await;
    let http = Http::new(&server);
    let (_, _, r) = http.post("/reset", None, json!({"task_id": "easy", "seed": 4})).await;
    let id = r["session_id"].as_str().unwrap().to_string();
    let mut ws = server.ws().await;
    request(&mut ws, json!({"type": "reset", "data": {"task_id": "easy", "seed": 5}})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // episodes still open: the sessions live on
    let (s, _) = http.get("/state", Some(&id)).await;
    assert_eq!(s, 200);
    assert_eq!(request(&mut ws, json!({"type": "state"})).await["type"], "state");
    let submit = json!({"action_type": "submit_diagnosis", "failure_category": "config_error", "root_cause_file": "config.yaml",
                        "root_cause_field": "x", "diagnosis": "", "proposed_fix": ""});
    let (s, _, end) = http.post("/step", Some(&id), json!({"action": submit})).await;
    assert_eq!((s, end["done"].clone()), (200, json!(true)));
    request(&mut ws, json!({"type": "step", "data": submit})).await;
    assert_eq!(closed(&mut ws).await, (4002, "max_lifetime".to_string()));
    let check = async || http.get("/state", Some(&id)).await.0 == 410;
    for _ in 0..40 {
        if check().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, e) = http.get("/state", Some(&id)).await;
    assert_eq!((s, e["error"]["code"].clone()), (410, Value::from("SESSION_EXPIRED")));
    server.stop().await;
}
