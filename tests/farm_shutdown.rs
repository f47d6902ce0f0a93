//! SIGTERM to a running server with sessions mid-episode (docs/PROTOCOL.md, lifecycle):
//! /ready turns 503, new sessions are refused with DRAINING, steps on
//! existing sessions are served, WebSocket clients get close 1001, and the
//! process exits 0 within the drain timeout.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const DRAIN_SECS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops-debug-env"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--drain-timeout-secs",
            &DRAIN_SECS.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = first.rsplit("http://").next().unwrap().trim().to_string();
    let url = |p: &str| format!("http://{addr}{p}");
    let http = Http::at(url(""));

    let (_, _, a) = http.post("/reset", None, json!({"task_id": "easy", "seed": 1})).await;
    let a = a["session_id"].as_str().unwrap().to_string();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
    request(&mut ws, json!({"type": "reset", "data": {"task_id": "hard", "seed": 2}})).await;

    let sent = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let mut ready = 200;
    for _ in 0..100 {
        ready = http.get("/ready", None).await.0;
        if ready == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready, 503, "/ready turns 503 while draining");
    assert_eq!(http.get("/health", None).await.0, 200);
    let (s, h, e) = http.post("/reset", None, json!({})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (503, Some("DRAINING")));
    assert!(h.contains_key("retry-after"));
    let (s, _, e) = http.post("/reset", Some(&a), json!({})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (503, Some("DRAINING")), "resets of existing sessions too");
    let (mut late, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
    assert_eq!(recv(&mut late).await["data"]["code"], "DRAINING");
    late.send(Message::Text(r#"{"type": "state"}"#.into())).await.unwrap();
    assert_eq!(closed(&mut late).await.0, 1001);

    // existing sessions are still served while their episodes are open
    let (s, _, _) = http.post("/step", Some(&a), json!({"action_type": "read_config"})).await;
    assert_eq!(s, 200);
    let submit = json!({"action_type": "submit_diagnosis", "failure_category": "config_error", "root_cause_file": "config.yaml",
                        "root_cause_field": "lr", "diagnosis": "", "proposed_fix": ""});
    let (s, _, end) = http.post("/step", Some(&a), json!({"action": submit})).await;
    assert_eq!((s, end["done"].clone()), (200, json!(true)));
    assert_eq!(
        request(&mut ws, json!({"type": "step", "data": {"action_type": "read_config"}})).await["type"],
        "observation"
    );

    // the WS episode stays open: after the drain timeout the socket closes with 1001
    assert_eq!(closed(&mut ws).await, (1001, "draining".to_string()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(DRAIN_SECS + 10), "the process did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert!(sent.elapsed() >= Duration::from_secs(DRAIN_SECS - 1), "open episodes get the drain timeout");
}
