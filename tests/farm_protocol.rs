//! The farm's protocol over real sockets on 127.0.0.1 (docs/PROTOCOL.md).

mod common;

use common::*;
use futures_util::SinkExt;
use mlops_debug_env::env::TaskId;
use mlops_debug_env::env::grader::ground_truth;
use mlops_debug_env::env::world::World;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn submit_canonical(task: TaskId, seed: u64) -> Value {
    let gt = ground_truth(&World::generate(task, seed));
    json!({"action_type": "submit_diagnosis", "failure_category": gt.category.as_str(), "root_cause_file": gt.file.as_str(),
           "root_cause_field": gt.field, "diagnosis": "test", "proposed_fix": gt.fix})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_plays_an_episode_and_resets_again() {
    let server = start(settings()).await;
    let mut ws = server.ws().await;
    let state = request(&mut ws, json!({"type": "state"})).await;
    assert_eq!(state["type"], "state");
    assert!(state["data"]["episode_id"].is_null() && state["data"]["score"].is_null());
    assert_eq!(state["data"]["step_count"], 0);
    assert_eq!(state["data"]["env_version"], mlops_debug_env::env::ENV_VERSION);
    let early = request(&mut ws, json!({"type": "step", "data": {"action_type": "read_config"}})).await;
    assert_eq!(early["data"]["code"], "NO_EPISODE");

    let reset = request(
        &mut ws,
        json!({"type": "reset", "data": {"task_id": "medium", "seed": 11, "episode_id": "ep-1"}}),
    )
    .await;
    assert_eq!(reset["type"], "observation");
    assert_eq!(reset["data"]["reward"], Value::Null);
    assert_eq!(reset["data"]["done"], false);
    assert_eq!(reset["data"]["observation"]["episode_id"], "ep-1");
    assert_eq!(reset["data"]["observation"]["seed"], 11);
    for action in ["read_config", "check_dataset_stats", "inspect_preprocessing"] {
        let r = request(&mut ws, json!({"type": "step", "data": {"action_type": action}})).await;
        assert_eq!(r["data"]["reward"], 0.02);
    }
    let end = request(&mut ws, json!({"type": "step", "data": submit_canonical(TaskId::Medium, 11)})).await;
    assert_eq!(end["data"]["done"], true);
    assert_eq!(end["data"]["reward"], 1.0);
    assert_eq!(end["data"]["observation"]["last_action_result"]["status"], "submitted");
    let after = request(&mut ws, json!({"type": "step", "data": {"action_type": "read_config"}})).await;
    assert_eq!(after["data"]["code"], "EPISODE_DONE");
    let state = request(&mut ws, json!({"type": "state"})).await;
    assert_eq!(state["data"]["score"], 1.0);
    // done does not end the session: reset again on the same socket (no seed: the farm draws one >= 2^32)
    let again = request(&mut ws, json!({"type": "reset", "data": {"task": "hard"}})).await;
    assert_eq!(again["data"]["observation"]["task_id"], "hard");
    assert!(again["data"]["observation"]["seed"].as_u64().unwrap() >= 1 << 32);
    send(&mut ws, json!({"type": "close"})).await;
    assert_eq!(closed(&mut ws).await.0, 1000);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_episodes_over_websocket_and_http() {
    let server = start(settings()).await;
    let mut ws = server.ws().await;
    let reset =
        request(&mut ws, json!({"type": "reset", "data": {"task_id": "easy", "seed": 3, "compact": true}}))
            .await;
    let obs = &reset["data"]["observation"];
    assert!(obs["task_description"].is_string() && obs["available_artifacts"].as_array().unwrap().len() == 6);
    assert_eq!(obs["messages"], json!([]), "compact is a known key, not an ignored one");
    let step = request(&mut ws, json!({"type": "step", "data": {"action_type": "read_config"}})).await;
    let obs = step["data"]["observation"].as_object().unwrap();
    assert!(!obs.contains_key("task_description") && !obs.contains_key("available_artifacts"));
    assert_eq!(obs["last_action_result"]["artifact"], "config.yaml");
    // a reset without it is whole again
    request(&mut ws, json!({"type": "reset", "data": {"task_id": "easy", "seed": 3}})).await;
    let step = request(&mut ws, json!({"type": "step", "data": {"action_type": "read_config"}})).await;
    assert!(step["data"]["observation"]["task_description"].is_string());

    let http = Http::new(&server);
    let (_, headers, _) =
        http.post("/reset", None, json!({"task_id": "hard", "seed": 4, "compact": true})).await;
    let id = headers["x-session-id"].to_str().unwrap().to_string();
    let (status, _, body) =
        http.post("/step", Some(&id), json!({"action": {"action_type": "read_config"}})).await;
    assert_eq!(status, 200);
    assert!(
        body["observation"].get("task_description").is_none()
            && body["observation"].get("available_artifacts").is_none()
    );
    let (status, _, body) = http.post("/reset", None, json!({"compact": "yes"})).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("compact")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_pins_the_env_version_over_websocket_and_http() {
    let server = start(settings()).await;
    let version = mlops_debug_env::env::ENV_VERSION;
    let mut ws = server.ws().await;
    let ok = request(
        &mut ws,
        json!({"type": "reset", "data": {"task_id": "easy", "seed": 3, "env_version": version}}),
    )
    .await;
    assert_eq!(ok["type"], "observation", "{ok}");
    let bad =
        request(&mut ws, json!({"type": "reset", "data": {"task_id": "easy", "env_version": "1.0.0"}})).await;
    assert_eq!(
        (bad["data"]["code"].clone(), bad["data"]["details"]["field"].clone()),
        (json!("VALIDATION_ERROR"), json!("env_version"))
    );
    let http = Http::new(&server);
    let major = version.split('.').next().unwrap();
    let (status, _, _) = http.post("/reset", None, json!({"task_id": "hard", "env_version": major})).await;
    assert_eq!(status, 200);
    let (status, _, body) = http.post("/reset", None, json!({"env_version": "9"})).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("env_version")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_bad_input_gets_error_frames_and_the_socket_stays_open() {
    let server = start(settings()).await;
    let mut ws = server.ws().await;
    request(&mut ws, json!({"type": "reset", "data": {"seed": 1}})).await;
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("{not json".into()), "INVALID_JSON"),
        (Message::Text(deep.into()), "INVALID_JSON"),
        (Message::Text("[1, 2]".into()), "UNKNOWN_TYPE"),
        (Message::Text(r#"{"data": {}}"#.into()), "UNKNOWN_TYPE"),
        (Message::Text(r#"{"type": "foo"}"#.into()), "UNKNOWN_TYPE"),
        (
            Message::Text(
                r#"{"type": "mcp", "data": {"jsonrpc": "2.0", "method": "tools/list", "id": 1}}"#.into(),
            ),
            "UNKNOWN_TYPE",
        ),
        (Message::Text(r#"{"type": "state", "data": {}}"#.into()), "VALIDATION_ERROR"),
        (Message::Text(r#"{"type": "reset", "id": 7}"#.into()), "VALIDATION_ERROR"),
        (Message::Text(r#"{"type": "step"}"#.into()), "VALIDATION_ERROR"),
        (
            Message::Text(r#"{"type": "step", "data": {"type": "call_tool", "tool_name": "x"}}"#.into()),
            "VALIDATION_ERROR",
        ),
        (
            Message::Text(r#"{"type": "step", "data": {"action_type": "read_config", "bogus": 1}}"#.into()),
            "VALIDATION_ERROR",
        ),
        (Message::Text(r#"{"type": "reset", "data": {"seed": -1}}"#.into()), "VALIDATION_ERROR"),
        (Message::Binary(vec![0xff, 0xfe, 0x00].into()), "INVALID_JSON"),
    ];
    for (msg, code) in cases {
        ws.send(msg.clone()).await.unwrap();
        let reply = recv(&mut ws).await;
        assert_eq!(reply["type"], "error", "{msg:?}");
        assert_eq!(reply["data"]["code"], code, "{msg:?}: {reply}");
        assert!(reply["data"]["message"].is_string());
    }
    let r = request(
        &mut ws,
        json!({"type": "step", "data": {"action_type": "read_logs", "log_filter": "x".repeat(201)}}),
    )
    .await;
    assert_eq!(r["data"]["details"]["field"], "log_filter");
    // a binary frame holding UTF-8 JSON is read like a text frame
    ws.send(Message::Binary(br#"{"type": "state"}"#.to_vec().into())).await.unwrap();
    let state = recv(&mut ws).await;
    assert_eq!(state["type"], "state");
    assert_eq!(state["data"]["invalid_actions"], 2, "only the two invalid steps counted");
    assert_eq!(state["data"]["step_count"], 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_invalid_utf8_and_oversize_messages_close_the_socket() {
    let server = start(mlops_debug_env::config::Settings {
        server: mlops_debug_env::config::ServerSettings { max_ws_message_bytes: 1024, ..settings().server },
        ..settings()
    })
    .await;
    let mut ws = server.ws().await;
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    let raw = Frame::message(vec![b'"', 0xc3, 0x28, b'"'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(raw)).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, 1007);

    let mut ws = server.ws().await;
    ws.send(Message::Text(format!("{{\"type\": \"state\", \"pad\": \"{}\"}}", "x".repeat(2000)).into()))
        .await
        .unwrap();
    assert_eq!(closed(&mut ws).await.0, 1009);
    // the server is unharmed
    let mut ws = server.ws().await;
    assert_eq!(request(&mut ws, json!({"type": "state"})).await["type"], "state");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sessions_by_header_query_and_cookie() {
    let server = start(settings()).await;
    let http = Http::new(&server);
    let (status, headers, body) = http.post("/reset", None, json!({"task_id": "easy", "seed": 5})).await;
    assert_eq!(status, 200);
    let id = body["session_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(headers["x-session-id"], id.as_str());
    assert_eq!(headers["x-step-count"], "0");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert_eq!(cookie, format!("mlops_session={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800"));
    assert_eq!(body["reward"], Value::Null);
    // the secret: in the body, a header and a cookie, once, at creation
    let secret = body["session_secret"].as_str().unwrap().to_string();
    assert_eq!((secret.len(), headers["x-session-secret"].to_str().unwrap()), (32, secret.as_str()));
    let cookies: Vec<&str> = headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(
        cookies[1],
        format!("mlops_session_secret={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800")
    );

    let (s, h, b) = http
        .post("/step", Some(&id), json!({"action": {"action_type": "read_config"}, "request_id": "r1"}))
        .await;
    assert_eq!((s, b["reward"].clone()), (200, json!(0.02)));
    assert_eq!(h["x-step-count"], "1");
    // a retried request id is not applied again
    let (s, h, b2) = http
        .post("/step", Some(&id), json!({"action": {"action_type": "read_config"}, "request_id": "r1"}))
        .await;
    assert_eq!((s, &h["x-replayed"]), (200, &reqwest::header::HeaderValue::from_static("true")));
    assert_eq!(b, b2);
    // query parameter and cookie name the session too; the bare action shape works
    let resp = http
        .client
        .post(server.url(&format!("/step?session_id={id}")))
        .header("X-Session-Secret", &secret)
        .json(&json!({"action_type": "read_eval_results"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .client
        .get(server.url("/state"))
        .header("Cookie", format!("mlops_session={id}; mlops_session_secret={secret}"))
        .send()
        .await
        .unwrap();
    let state: Value = resp.json().await.unwrap();
    assert_eq!(state["step_count"], 2);
    // the header wins over the query and the cookie
    let resp = http
        .client
        .get(server.url("/state?session_id=ffffffffffffffffffffffffffffffff"))
        .header("X-Session-Id", &id)
        .header("X-Session-Secret", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let (s, _, _) =
        http.post("/step", Some(&id), json!({"action": {"action_type": "check_dataset_stats"}})).await;
    assert_eq!(s, 200);
    let (s, _, end) =
        http.post("/step", Some(&id), json!({"action": submit_canonical(TaskId::Easy, 5)})).await;
    assert_eq!((s, end["done"].clone(), end["reward"].clone()), (200, json!(true), json!(1.0)));
    let (s, _, e) = http.post("/step", Some(&id), json!({"action": {"action_type": "read_config"}})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("EPISODE_DONE")));
    assert_eq!(e["error"]["details"]["step_count"], 4);
    // reset again under the same id
    let (s, _, again) = http.post("/reset", Some(&id), json!({"task_id": "hard", "seed": 2})).await;
    assert_eq!((s, again["session_id"].as_str()), (200, Some(id.as_str())));
    assert!(again.get("session_secret").is_none(), "the secret is given once");
    let resp = http
        .client
        .delete(server.url("/session"))
        .header("X-Session-Id", &id)
        .header("X-Session-Secret", &secret)
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"session_id": id, "closed": true}));
    let (s, b) = http.get("/state", Some(&id)).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("SESSION_NOT_FOUND")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_have_one_shape_and_never_5xx_for_client_input() {
    let server = start(mlops_debug_env::config::Settings {
        server: mlops_debug_env::config::ServerSettings { max_body_bytes: 2048, ..settings().server },
        ..settings()
    })
    .await;
    let http = Http::new(&server);
    let (_, _, body) = http.post("/reset", None, json!({})).await;
    let id = body["session_id"].as_str().unwrap().to_string();
    let secret = body["session_secret"].as_str().unwrap().to_string();
    assert!(body["observation"]["messages"][0].as_str().unwrap().contains("defaulting to easy"));
    let raw = |path: &str, body: Vec<u8>| {
        let req = http
            .client
            .post(server.url(path))
            .header("X-Session-Id", &id)
            .header("X-Session-Secret", &secret)
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    for (path, body, status, code) in [
        ("/step", b"{bad".to_vec(), 400, "INVALID_JSON"),
        ("/step", vec![0xff, 0xfe], 400, "INVALID_JSON"),
        ("/step", format!("{}{}", "[".repeat(64), "]".repeat(64)).into_bytes(), 400, "INVALID_JSON"),
        ("/step", vec![b' '; 4096], 413, "PAYLOAD_TOO_LARGE"),
        ("/step", b"[1]".to_vec(), 422, "VALIDATION_ERROR"),
        ("/step", br#"{"action": {"action_type": 5}}"#.to_vec(), 422, "VALIDATION_ERROR"),
        (
            "/step",
            br#"{"action": {"action_type": "read_config"}, "extra": 1}"#.to_vec(),
            422,
            "VALIDATION_ERROR",
        ),
        (
            "/step",
            br#"{"action": {"action_type": "read_config"}, "request_id": 5}"#.to_vec(),
            422,
            "VALIDATION_ERROR",
        ),
        ("/reset", br#"{"seed": "x"}"#.to_vec(), 422, "VALIDATION_ERROR"),
        ("/reset", br#"{"task_id": "easy", "task": "hard"}"#.to_vec(), 422, "VALIDATION_ERROR"),
        ("/nowhere", b"{}".to_vec(), 404, "NOT_FOUND"),
    ] {
        let (s, b) = raw(path, body.clone()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {:?}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
        assert!(b["error"]["message"].is_string());
    }
    // a malformed session id on /reset is a validation error; an unknown one starts a session under it
    let (s, _, b) = http.post("/reset", Some("NOT-HEX"), json!({})).await;
    assert_eq!((s, b["error"]["details"]["field"].as_str()), (422, Some("session_id")));
    let proposed = "0123456789abcdef0123456789abcdef";
    let (s, _, b) = http.post("/reset", Some(proposed), json!({"seed": 3})).await;
    assert_eq!((s, b["session_id"].as_str()), (200, Some(proposed)));
    assert!(b["observation"]["messages"].to_string().contains("was unknown"));
    // wrong method: 405 with Allow
    let r = http.client.get(server.url("/reset")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "METHOD_NOT_ALLOWED");
    // naming no session, or an unknown one
    let (s, b) = http.get("/state", None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("SESSION_NOT_FOUND")));
    let (s, _, b) = http
        .post("/step", Some("ffffffffffffffffffffffffffffffff"), json!({"action_type": "read_config"}))
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("SESSION_NOT_FOUND")));
    // the first session is untouched by all of this
    let (s, state) = http.get("/state", Some(&id)).await;
    assert_eq!((s, state["step_count"].clone()), (200, json!(0)));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_routes_describe_the_environment() {
    let server = start(settings()).await;
    let http = Http::new(&server);
    assert_eq!(http.get("/health", None).await, (200, json!({"status": "healthy"})));
    assert_eq!(http.get("/ready", None).await.0, 200);
    let (_, tasks) = http.get("/tasks", None).await;
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(tasks["tasks"][2]["bug_pool"][0], "label_encoder_mismatch");
    assert!(tasks["seed_policy"]["training_seeds"].as_str().unwrap().contains("4294967296"));
    let (_, meta) = http.get("/metadata", None).await;
    assert_eq!(meta["version"], mlops_debug_env::env::ENV_VERSION);
    assert!(meta["name"].is_string() && meta["description"].is_string());
    let (_, schema) = http.get("/schema", None).await;
    for key in ["action", "observation", "state"] {
        assert!(schema[key].is_object(), "{key}");
    }
    assert_eq!(schema["action"]["oneOf"].as_array().unwrap().len(), 8);
    let (_, openapi) = http.get("/openapi.json", None).await;
    assert!(openapi["info"]["version"].is_string());
    for path in ["/reset", "/step", "/state", "/health", "/metadata", "/schema", "/mcp"] {
        assert!(openapi["paths"][path].is_object(), "{path}");
    }
    assert!(openapi["paths"]["/reset"]["post"]["responses"]["200"].to_string().contains("session_id"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_drives_a_session_with_tools() {
    let server = start(settings()).await;
    let http = Http::new(&server);
    let rpc =
        |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (s, _, init) =
        http.post("/mcp", None, rpc("initialize", json!({"protocolVersion": "2025-03-26"}))).await;
    assert_eq!((s, init["result"]["protocolVersion"].as_str()), (200, Some("2025-03-26")));
    let (s, _, _) =
        http.post("/mcp", None, json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    assert_eq!(s, 202);
    assert_eq!(http.post("/mcp", None, rpc("ping", json!({}))).await.2["result"], json!({}));
    let (_, _, tools) = http.post("/mcp", None, rpc("tools/list", json!({}))).await;
    assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 8);
    let (_, _, created) =
        http.post("/mcp", None, rpc("openenv/session/create", json!({"task_id": "hard", "seed": 4}))).await;
    let sid = created["result"]["session_id"].as_str().unwrap().to_string();
    assert_eq!(created["result"]["observation"]["task_id"], "hard");
    let call = |name: &str, args: Value| {
        rpc("tools/call", json!({"name": name, "arguments": args, "session_id": sid}))
    };
    let (_, _, r) = http
        .post("/mcp", None, call("run_sanity_check", json!({"sanity_check_type": "metric_gap_analysis"})))
        .await;
    assert_eq!(r["result"]["isError"], false);
    assert_eq!(r["result"]["structuredContent"]["reward"], 0.01);
    assert_eq!(r["result"]["data"], r["result"]["structuredContent"]);
    let text: Value = serde_json::from_str(r["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, r["result"]["structuredContent"]);
    let (_, _, bad) =
        http.post("/mcp", None, call("run_sanity_check", json!({"sanity_check_type": "vibes"}))).await;
    assert_eq!(bad["result"]["isError"], true);
    assert_eq!(bad["result"]["structuredContent"]["error"]["code"], "VALIDATION_ERROR");
    // the capability is the id and the secret; with them the HTTP API drives the same session
    assert_eq!(sid.len(), 64);
    let r = http
        .client
        .get(server.url("/state"))
        .header("X-Session-Id", &sid[..32])
        .header("X-Session-Secret", &sid[32..])
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()["step_count"].clone()),
        (200, json!(1))
    );
    // the id alone names no session
    let (_, _, r) = http
        .post("/mcp", None, rpc("tools/call", json!({"name": "read_config", "session_id": &sid[..32]})))
        .await;
    assert_eq!(r["result"]["structuredContent"]["error"]["code"], "SESSION_NOT_FOUND");
    for (body, code) in [
        (rpc("tools/call", json!({"name": "nope", "session_id": sid})), -32602),
        (rpc("tools/call", json!({"name": "read_config"})), -32602),
        (rpc("frobnicate", json!({})), -32601),
        (json!({}), -32600),
    ] {
        let (s, _, r) = http.post("/mcp", None, body).await;
        assert_eq!((s, r["error"]["code"].as_i64()), (200, Some(code)));
        assert_eq!(r["jsonrpc"], "2.0");
    }
    let resp = http.client.post(server.url("/mcp")).body("{bad").send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], -32700);
    let (_, _, closed) =
        http.post("/mcp", None, rpc("openenv/session/close", json!({"session_id": sid}))).await;
    assert_eq!(closed["result"]["closed"], true);
    let (_, _, gone) = http.post("/mcp", None, call("read_config", json!({}))).await;
    assert_eq!(gone["result"]["isError"], true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_exists_from_the_first_scrape_and_counts_episodes() {
    let server = start(settings()).await;
    let first = server.metrics().await;
    for name in mlops_debug_env::metrics::ALL {
        assert!(first.contains(&format!("# TYPE {name} ")), "{name} missing from the first scrape");
    }
    assert_eq!(metric(&first, "mlops_sessions_capacity"), Some(10000.0));
    assert_eq!(metric(&first, r#"mlops_episodes_total{task="easy",outcome="submitted"}"#), Some(0.0));
    let mut ws = server.ws().await;
    request(&mut ws, json!({"type": "reset", "data": {"task_id": "easy", "seed": 9}})).await;
    request(&mut ws, json!({"type": "step", "data": submit_canonical(TaskId::Easy, 9)})).await;
    let after = server.metrics().await;
    assert_eq!(metric(&after, r#"mlops_episodes_total{task="easy",outcome="submitted"}"#), Some(1.0));
    assert_eq!(
        metric(&after, r#"mlops_steps_total{task="easy",action="submit_diagnosis",outcome="ok"}"#),
        Some(1.0)
    );
    assert_eq!(metric(&after, r#"mlops_sessions_active{task="easy"}"#), Some(1.0));
    assert_eq!(metric(&after, r#"mlops_sessions_created_total{transport="ws"}"#), Some(1.0));
    assert_eq!(metric(&after, "mlops_ws_connections_active"), Some(1.0));
    assert!(!after.contains("session_id=") && !after.contains("episode_id="), "no id labels");
    server.stop().await;
}

/// spec/environment.md §10.1: nothing agent-facing carries the answer before the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_reveals_the_ground_truth_before_the_end() {
    let server = start(mlops_debug_env::config::Settings {
        farm: mlops_debug_env::config::FarmSettings { reveal_ground_truth: true, ..settings().farm },
        ..settings()
    })
    .await;
    let http = Http::new(&server);
    let briefs: Vec<String> = TaskId::ALL.iter().map(|t| t.brief().to_string()).collect();
    for task in TaskId::ALL {
        for seed in 0..12u64 {
            let gt = ground_truth(&World::generate(task, seed));
            let mut responses = Vec::new();
            let (_, _, reset) =
                http.post("/reset", None, json!({"task_id": task.as_str(), "seed": seed})).await;
            let id = reset["session_id"].as_str().unwrap().to_string();
            responses.push(reset);
            let mut actions: Vec<Value> = [
                "read_config",
                "read_logs",
                "check_dataset_stats",
                "inspect_preprocessing",
                "read_eval_results",
            ]
            .iter()
            .map(|a| json!({"action_type": a}))
            .collect();
            actions.push(json!({"action_type": "query_artifact", "artifact_name": "model_card.json"}));
            for c in mlops_debug_env::env::CheckKind::ALL {
                actions.push(json!({"action_type": "run_sanity_check", "sanity_check_type": c.as_str()}));
            }
            actions.push(json!({"action_type": "nonsense"}));
            for a in actions {
                responses.push(http.post("/step", Some(&id), json!({"action": a})).await.2);
            }
            responses.push(http.get("/state", Some(&id)).await.1);
            for mut r in responses {
                if let Some(d) = r.pointer_mut("/observation/task_description") {
                    assert!(
                        briefs.contains(&d.as_str().unwrap().to_string()),
                        "briefs are constant per task"
                    );
                    *d = Value::Null;
                }
                let text = r.to_string();
                for needle in [gt.bug_type.as_str(), gt.fix.as_str()] {
                    assert!(!text.contains(needle), "task {} seed {seed}: {needle:?} leaked", task.as_str());
                }
            }
            let (_, _, end) =
                http.post("/step", Some(&id), json!({"action": submit_canonical(task, seed)})).await;
            assert_eq!(
                end["observation"]["last_action_result"]["ground_truth"]["bug_type"],
                gt.bug_type.as_str()
            );
        }
    }
    server.stop().await;
    // hidden by default; --hide-ground-truth is accepted and beats --reveal-ground-truth
    use mlops_debug_env::config::{FarmSettings, Settings};
    for hidden in [
        settings(),
        Settings { farm: FarmSettings { hide_ground_truth: true, ..settings().farm }, ..settings() },
        Settings {
            farm: FarmSettings { hide_ground_truth: true, reveal_ground_truth: true, ..settings().farm },
            ..settings()
        },
    ] {
        let hidden = start(hidden).await;
        let http = Http::new(&hidden);
        let (_, _, reset) = http.post("/reset", None, json!({"task_id": "easy", "seed": 1})).await;
        let id = reset["session_id"].as_str().unwrap();
        let (_, _, end) =
            http.post("/step", Some(id), json!({"action": submit_canonical(TaskId::Easy, 1)})).await;
        assert!(end["observation"]["last_action_result"].get("ground_truth").is_none());
        assert_eq!(end["observation"]["last_action_result"]["score"].as_f64().map(|s| s > 0.9), Some(true));
        hidden.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_the_agent_and_operator_routes() {
    let server = start(mlops_debug_env::config::Settings {
        server: mlops_debug_env::config::ServerSettings {
            api_token: Some("s3cret".into()),
            operator_token: Some("op".into()),
            ..settings().server
        },
        ..settings()
    })
    .await;
    let c = reqwest::Client::new();
    let r = c.post(server.url("/reset")).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "UNAUTHORIZED");
    let r = c.post(server.url("/reset")).bearer_auth("wrong").json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r =
        c.post(server.url("/reset")).bearer_auth("s3cret").json(&json!({"seed": 1})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = r.json::<Value>().await.unwrap();
    let id = r["session_id"].as_str().unwrap().to_string();
    let secret = r["session_secret"].as_str().unwrap().to_string();
    let r = c
        .get(server.url("/state"))
        .basic_auth("anyone", Some("s3cret"))
        .header("X-Session-Id", &id)
        .header("X-Session-Secret", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for public in ["/health", "/ready", "/metrics", "/openapi.json", "/metadata", "/schema", "/tasks"] {
        assert_eq!(c.get(server.url(public)).send().await.unwrap().status(), 200, "{public}");
    }
    let r = c
        .post(server.url("/mcp"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["jsonrpc"], "2.0");
    // WS handshake: 401 without the token, accepted with it
    let err = tokio_tungstenite::connect_async(server.ws_url()).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let url = format!("ws://t:s3cret@{}/ws", server.addr);
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.as_str().into_client_request().unwrap();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("t:s3cret");
    req.headers_mut().insert("authorization", format!("Basic {basic}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(request(&mut ws, json!({"type": "state"})).await["type"], "state");
    // operator routes
    let r = c.get(server.url("/operator/sessions")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let list: Value =
        c.get(server.url("/operator/sessions")).bearer_auth("op").send().await.unwrap().json().await.unwrap();
    assert!(list["sessions"].as_array().unwrap().iter().any(|s| s["session_id"] == id.as_str()));
    let truth: Value = c
        .get(server.url(&format!("/operator/sessions/{id}/ground_truth")))
        .bearer_auth("op")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(truth["ground_truth"]["bug_type"].is_string());
    let r = c.delete(server.url(&format!("/operator/sessions/{id}"))).bearer_auth("op").send().await.unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
    let plain = start(settings()).await;
    let r = reqwest::get(plain.url("/operator/sessions")).await.unwrap();
    assert_eq!(r.status(), 404, "operator routes are off without --operator-token");
    plain.stop().await;
}
