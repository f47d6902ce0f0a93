//! Test helpers: a farm on 127.0.0.1:0 in this process, and WebSocket/HTTP clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mlops_debug_env::config::{ServerSettings, Settings};
use mlops_debug_env::server::{ServeError, serve};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), ServeError>>,
}

pub fn settings() -> Settings {
    Settings {
        server: ServerSettings {
            host: [127, 0, 0, 1].into(),
            port: 0,
            drain_timeout_secs: 1,
            ..ServerSettings::default()
        },
        ..Settings::default()
    }
}

pub async fn start(settings: Settings) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve(settings, listener, async {
        let _ = rx.await;
    }));
    Server { addr, stop: Some(tx), handle }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
    pub async fn ws(&self) -> Ws {
        tokio_tungstenite::connect_async(self.ws_url()).await.expect("ws connects").0
    }
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.handle).await;
    }
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics")).await.unwrap().text().await.unwrap()
    }
}

/// The value of a metric series in an exposition (`name{labels}` exactly as rendered, or a bare name).
pub fn metric(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.rsplit_once(' ').filter(|(k, _)| *k == series).and_then(|(_, v)| v.parse().ok()))
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next text frame as JSON (pings and pongs skipped).
pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a reply in time");
        match msg.expect("socket open").expect("no socket error") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub async fn request(ws: &mut Ws, v: Value) -> Value {
    send(ws, v).await;
    recv(ws).await
}

/// Waits for the server's close frame and returns its code and reason.
pub async fn closed(ws: &mut Ws) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next()).await.expect("a close in time");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error before close: {e}"),
        }
    }
}

/// An HTTP client that sends a session header, and the secret of every
/// session it created (learned from the X-Session-Secret of its /reset replies).
pub struct Http {
    pub client: reqwest::Client,
    pub server: String,
    pub secrets: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Http {
    pub fn new(server: &Server) -> Http {
        Http::at(server.url(""))
    }
    pub fn at(server: String) -> Http {
        Http { client: reqwest::Client::new(), server, secrets: Default::default() }
    }
    fn with_secret(&self, mut r: reqwest::RequestBuilder, session: &str) -> reqwest::RequestBuilder {
        r = r.header("X-Session-Id", session);
        if let Some(secret) = self.secrets.lock().unwrap().get(session) {
            r = r.header("X-Session-Secret", secret);
        }
        r
    }
    fn learn(&self, headers: &reqwest::header::HeaderMap) {
        let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        if let (Some(id), Some(secret)) = (get("x-session-id"), get("x-session-secret")) {
            self.secrets.lock().unwrap().insert(id, secret);
        }
    }
    pub async fn post(
        &self,
        path: &str,
        session: Option<&str>,
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut r = self.client.post(format!("{}{path}", self.server)).json(&body);
        if let Some(s) = session {
            r = self.with_secret(r, s);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.learn(&headers);
        let text = resp.text().await.unwrap();
        (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    pub async fn get(&self, path: &str, session: Option<&str>) -> (u16, Value) {
        let mut r = self.client.get(format!("{}{path}", self.server));
        if let Some(s) = session {
            r = self.with_secret(r, s);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// A JSON file of tests/data; where the shared contract's copy of it sits
/// beside the checkout (testdata/), the two must be the same.
pub fn test_data(name: &str) -> Value {
    let here = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let ours: Value = serde_json::from_str(&std::fs::read_to_string(here).unwrap()).unwrap();
    let shared = format!("{}/../shared/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    if let Ok(text) = std::fs::read_to_string(shared) {
        assert_eq!(
            ours,
            serde_json::from_str::<Value>(&text).unwrap(),
            "tests/data/{name} differs from shared/"
        );
    }
    ours
}
