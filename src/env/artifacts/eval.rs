//! eval_results.json: what the evaluation code reported.

use serde::Serialize;

use crate::env::curves::curves;
use crate::env::num::{Num, iso_time};
use crate::env::timeline::timeline;
use crate::env::world::World;

#[derive(Serialize)]
struct Metrics {
    val_loss: Num,
    val_accuracy: Num,
    test_loss: Num,
    test_accuracy: Num,
}

#[derive(Serialize)]
struct Samples {
    val: u32,
    test: u32,
}

#[derive(Serialize)]
struct Hardware {
    device: &'static str,
    gpu: &'static str,
    num_gpus: u32,
}

#[derive(Serialize)]
struct EvalResults {
    run_id: String,
    model: &'static str,
    checkpoint: String,
    final_epoch: u16,
    metrics: Metrics,
    num_samples: Samples,
    timestamp: String,
    hardware: Hardware,
}

/// Unix seconds at the end of the evaluation job (timeline.rs).
fn finished_at(w: &World) -> u64 {
    timeline(w, &curves(w)).eval_end_ms / 1000
}

fn document(w: &World) -> EvalResults {
    let o = &w.outcome;
    EvalResults {
        run_id: w.run_id_hex(),
        model: w.config().model,
        checkpoint: w.checkpoint(),
        final_epoch: w.final_epoch(),
        metrics: Metrics {
            val_loss: Num(o.eval_val_loss),
            val_accuracy: Num(o.eval_val_acc),
            test_loss: Num(o.eval_test_loss),
            test_accuracy: Num(o.eval_test_acc),
        },
        num_samples: Samples { val: w.n_val, test: w.n_test },
        timestamp: iso_time(finished_at(w)),
        hardware: Hardware { device: "cuda:0", gpu: w.gpu_name(), num_gpus: 1 },
    }
}

pub fn render(w: &World) -> String {
    serde_json::to_string_pretty(&document(w)).expect("eval results serialise")
}

pub fn value(w: &World) -> serde_json::Value {
    serde_json::to_value(document(w)).expect("eval results serialise")
}
