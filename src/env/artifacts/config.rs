//! config.yaml: the world's configuration tree, rendered as YAML. Queries
//! resolve against the same tree (no YAML parser is involved).

use super::tree::Node;
use crate::env::catalogue::Modality;
use crate::env::world::{OptimizerKind, World};

pub fn tree(w: &World) -> Node {
    let c = w.config();
    let mut model = vec![
        ("name", Node::str(c.model)),
        ("architecture", Node::str(c.architecture)),
        ("num_labels", Node::Int(c.num_classes() as i64)),
        ("dropout", Node::Float(w.dropout)),
    ];
    if let (true, Some((encoder, _))) = (c.frozen_encoder, c.tokenizer) {
        model.push(("encoder", Node::str(encoder)));
        model.push(("freeze_encoder", Node::Bool(true)));
    }
    let model = Node::map(model);
    let training = Node::map([
        ("epochs", Node::Int(w.epochs as i64)),
        ("batch_size", Node::Int(w.batch_size as i64)),
        ("micro_batch_size", Node::Int(w.micro_batch_size as i64)),
        ("gradient_accumulation_steps", Node::Int((w.batch_size / w.micro_batch_size) as i64)),
        ("precision", Node::str(if w.bf16 { "bf16" } else { "fp32" })),
        ("seed", Node::Int(w.train_seed as i64)),
        ("eval_every_n_epochs", Node::Int(1)),
    ]);
    let mut optimizer = vec![
        ("name", Node::str(w.optimizer.config_name())),
        ("learning_rate", Node::Sci(w.lr)),
        ("weight_decay", Node::Float(w.weight_decay)),
    ];
    match w.optimizer {
        OptimizerKind::Sgd => {
            optimizer.push(("momentum", Node::Float(w.momentum)));
            optimizer.push(("nesterov", Node::Bool(w.nesterov)));
        }
        _ => {
            optimizer.push(("betas", Node::List(vec![Node::Float(0.9), Node::Float(0.999)])));
            optimizer.push(("eps", Node::Sci(crate::env::num::Sci2 { digits: 10, exp: -8 })));
        }
    }
    let mut scheduler =
        vec![("name", Node::str(w.scheduler.name())), ("warmup_steps", Node::Int(w.warmup_steps as i64))];
    if w.scheduler == crate::env::world::SchedulerKind::Step {
        // torch StepLR: x gamma every step_size epochs (curves.rs, lr_at_step)
        scheduler.push(("step_size", Node::Int(crate::env::curves::step_size_epochs(w) as i64)));
        scheduler.push(("gamma", Node::Float(0.1)));
    }
    let scheduler = Node::map(scheduler);
    let mut data =
        vec![("dataset", Node::str(c.dataset)), ("path", Node::str(format!("data/{}", c.dataset)))];
    if c.subset.is_some() {
        data.push(("max_samples", Node::Int(w.n_total as i64)));
    }
    match c.modality {
        Modality::Text => data.push(("max_seq_length", Node::Int(c.input_size as i64))),
        Modality::Image => data.push(("image_size", Node::Int(c.input_size as i64))),
        Modality::Tabular => data.push(("num_features", Node::Int(c.input_size as i64))),
    }
    data.push(("num_workers", Node::Int(w.num_workers as i64)));
    data.push(("shuffle", Node::Bool(true)));
    let logging = Node::map([
        ("log_every_n_steps", Node::Int(50)),
        ("output_dir", Node::str(format!("runs/{}", w.run_id_hex()))),
        ("checkpoint_dir", Node::str("checkpoints")),
    ]);
    Node::map([
        ("model", model),
        ("training", training),
        ("optimizer", Node::map(optimizer)),
        ("scheduler", scheduler),
        ("data", Node::map(data)),
        ("logging", logging),
    ])
}

pub fn render(w: &World) -> String {
    tree(w).to_yaml()
}
