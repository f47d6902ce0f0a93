//! What `eval` prints: the per-task table or JSON summary, trace lines, and
//! the trajectory lines a trainer consumes.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use super::{EpisodeRecord, EvalArgs};

/// A solved episode scores at least this.
pub const SOLVED: f64 = 0.8;
const COMPONENTS: [&str; 4] = ["failure_category", "root_cause_file", "root_cause_field", "proposed_fix"];

#[derive(Debug, Serialize)]
pub struct TaskSummary {
    /// Episodes that finished (scored).
    pub episodes: usize,
    pub mean_score: f64,
    pub solve_rate: f64,
    pub mean_steps: f64,
    /// Episodes lost to infrastructure (not scored).
    pub failures: usize,
    /// Mean awarded value of each terminal component.
    pub components: BTreeMap<&'static str, f64>,
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub episodes_per_s: f64,
    pub steps_per_s: f64,
    pub step_latency_p50_ms: f64,
    pub step_latency_p99_ms: f64,
    pub wall_s: f64,
    pub concurrency: u64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub agent: &'static str,
    pub env_version: &'static str,
    pub seed_start: u64,
    pub tasks: BTreeMap<&'static str, TaskSummary>,
    pub mean_score: f64,
    pub throughput: Throughput,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Summary {
    pub fn new(args: &EvalArgs, records: &[EpisodeRecord], wall_s: f64) -> Summary {
        let mut tasks = BTreeMap::new();
        for &task in &args.tasks {
            let of_task: Vec<&EpisodeRecord> = records.iter().filter(|r| r.task == task).collect();
            let scored: Vec<&&EpisodeRecord> = of_task.iter().filter(|r| r.infra_error.is_none()).collect();
            let components = COMPONENTS
                .iter()
                .map(|c| (*c, mean(scored.iter().map(|r| r.breakdown[c]["awarded"].as_f64().unwrap_or(0.0)))))
                .collect();
            tasks.insert(
                task.as_str(),
                TaskSummary {
                    episodes: scored.len(),
                    mean_score: mean(scored.iter().map(|r| r.score.unwrap_or(0.0))),
                    solve_rate: mean(
                        scored.iter().map(|r| f64::from(u8::from(r.score.unwrap_or(0.0) >= SOLVED))),
                    ),
                    mean_steps: mean(
                        scored.iter().map(|r| r.steps.iter().filter(|s| s.error.is_none()).count() as f64),
                    ),
                    failures: of_task.len() - scored.len(),
                    components,
                },
            );
        }
        let mut latencies: Vec<f64> =
            records.iter().flat_map(|r| r.steps.iter().map(|s| s.latency_s)).collect();
        latencies.sort_by(f64::total_cmp);
        let steps = latencies.len() as f64;
        Summary {
            agent: args.agent.as_str(),
            env_version: crate::env::ENV_VERSION,
            seed_start: args.seed_start,
            mean_score: mean(tasks.values().map(|t| t.mean_score)),
            tasks,
            throughput: Throughput {
                episodes_per_s: records.len() as f64 / wall_s.max(1e-9),
                steps_per_s: steps / wall_s.max(1e-9),
                step_latency_p50_ms: percentile(&latencies, 0.50) * 1e3,
                step_latency_p99_ms: percentile(&latencies, 0.99) * 1e3,
                wall_s,
                concurrency: args.concurrency,
            },
        }
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "agent {} | env_version {} | seeds from {}\n",
            self.agent, self.env_version, self.seed_start
        );
        let _ = writeln!(
            out,
            "{:<8} {:>9} {:>11} {:>11} {:>11} {:>9}",
            "task", "episodes", "mean score", "solve rate", "mean steps", "failures"
        );
        let in_task_order = crate::env::TaskId::ALL
            .iter()
            .filter_map(|t| self.tasks.get(t.as_str()).map(|s| (t.as_str(), s)));
        for (task, t) in in_task_order {
            let _ = writeln!(
                out,
                "{:<8} {:>9} {:>11.4} {:>10.1}% {:>11.1} {:>9}",
                task,
                t.episodes,
                t.mean_score,
                t.solve_rate * 100.0,
                t.mean_steps,
                t.failures
            );
        }
        let _ = writeln!(out, "{:<8} {:>9} {:>11.4}", "mean", "", self.mean_score);
        let t = &self.throughput;
        let _ = writeln!(
            out,
            "throughput: {:.1} episodes/s, {:.0} steps/s, step latency p50 {:.3} ms, p99 {:.3} ms ({:.1} s, concurrency {})",
            t.episodes_per_s,
            t.steps_per_s,
            t.step_latency_p50_ms,
            t.step_latency_p99_ms,
            t.wall_s,
            t.concurrency
        );
        out
    }
}

fn compact(v: &Value) -> String {
    v.to_string()
}

/// `[START]`, `[STEP]` and `[END]` lines of one episode.
pub fn trace(record: &EpisodeRecord) -> String {
    let mut out =
        format!("[START] task={} env=mlops-debug-env model={}\n", record.task.as_str(), record.agent);
    let mut rewards = Vec::new();
    let mut n = 0;
    for s in &record.steps {
        let reward = s.reward.unwrap_or(0.0);
        let error = match (&s.error, s.reward) {
            (Some(e), _) => e["message"].as_str().unwrap_or("error").to_string(),
            _ => "null".to_string(),
        };
        if s.error.is_none() {
            n += 1;
            rewards.push(format!("{reward:.2}"));
        }
        let _ = writeln!(
            out,
            "[STEP] step={n} action={} reward={reward:.2} done={} error={error}",
            compact(&s.action),
            s.done
        );
    }
    if let Some(e) = &record.infra_error {
        let _ = writeln!(out, "[STEP] step={n} action=null reward=0.00 done=false error={e}");
    }
    let score = record.score.unwrap_or(0.0);
    let _ = writeln!(
        out,
        "[END] success={} steps={n} score={score:.4} rewards={}",
        record.infra_error.is_none() && score >= SOLVED,
        rewards.join(",")
    );
    out
}

/// One trajectory line (artifact contents truncated when asked).
pub fn trajectory_line(record: &EpisodeRecord, max_content_chars: Option<usize>) -> String {
    let mut value = serde_json::to_value(record).expect("records serialise");
    if let Some(max) = max_content_chars
        && let Some(steps) = value["steps"].as_array_mut()
    {
        for step in steps {
            if let Some(Value::String(content)) = step.pointer_mut("/observation/last_action_result/content")
                && content.chars().count() > max
            {
                *content = content.chars().take(max).collect();
            }
        }
    }
    value.to_string()
}

/// A one-line progress bar (for a terminal).
pub fn progress(done: usize, total: usize) -> String {
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    format!("\r[{}{}] {done}/{total} episodes", "#".repeat(filled), ".".repeat(width - filled))
}
