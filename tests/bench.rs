//! `bench` runs end to end in a tiny configuration so it cannot rot. It
//! asserts only that the report is sane, never a speed.

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_produces_a_sane_report() {
    let out = Command::new(env!("CARGO_BIN_EXE_mlops-debug-env"))
        .args(["bench", "--connections", "2", "--duration", "0.5", "--sessions", "200", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    for phase in ["echo_ws", "farm_ws", "farm_http"] {
        let p = &r[phase];
        assert!(p["messages"].as_u64().unwrap() > 0, "{phase} sent nothing");
        assert!(p["messages_per_s"].as_f64().unwrap() > 0.0);
        assert!(p["p50_us"].as_f64().unwrap() <= p["p99_us"].as_f64().unwrap());
        assert!(p["p99_us"].as_f64().unwrap() <= p["p999_us"].as_f64().unwrap());
        assert!(
            p["server_cpu_us_per_message"].as_f64().unwrap()
                >= p["server_system_us_per_message"].as_f64().unwrap()
        );
        assert_eq!(p["errors"], 0, "{phase}: every reply was the one the in-process episode gave");
    }
    assert!(r["ws_ratio_to_echo"].as_f64().unwrap() > 0.0);
    assert!(r["reply_bytes"].as_u64().unwrap() > 100);
    let rss = r["memory"]["rss_bytes_at"].as_array().unwrap();
    assert_eq!(rss.len(), 3);
    assert_eq!(rss[2][0], 200);
    assert!(rss.iter().all(|p| p[1].as_u64().unwrap() > 0));
    assert!(r["memory"]["new_sessions_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["reaping"]["sessions"], 20);
    assert!(r["reaping"]["reaped_per_s"].as_f64().unwrap() > 0.0, "idle sessions were reaped");
    assert!(r["reaping"]["active_steps"].as_u64().unwrap() > 0, "the active session was served meanwhile");
}
