//! model_card.json: architecture, dataset, classes, training summary and
//! preprocessing versions.

use serde::Serialize;

use crate::env::num::Num;
use crate::env::world::{Normaliser, OptimizerKind, World};

#[derive(Serialize)]
struct Architecture {
    class: &'static str,
    family: &'static str,
    layers: u32,
    hidden_size: u32,
}

#[derive(Serialize)]
struct Optimizer {
    name: &'static str,
    lr: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    momentum: Option<f64>,
    weight_decay: f64,
}

#[derive(Serialize)]
struct Training {
    optimizer: Optimizer,
    batch_size: u32,
    epochs: u16,
    scheduler: &'static str,
    precision: &'static str,
}

#[derive(Serialize)]
struct LabelEncoderCard {
    #[serde(rename = "type")]
    kind: &'static str,
    library_version: String,
    num_classes: usize,
}

#[derive(Serialize)]
struct NormalizerCard {
    #[serde(rename = "type")]
    kind: &'static str,
    library_version: Option<String>,
}

#[derive(Serialize)]
struct Preprocessing {
    label_encoder: LabelEncoderCard,
    normalizer: NormalizerCard,
}

#[derive(Serialize)]
struct TokenizerCard {
    name: &'static str,
    version: String,
    vocab_size: u32,
    previous_version: String,
    tokens_added_since_previous: u32,
    unk_rate_train: Num,
}

#[derive(Serialize)]
struct Evaluation {
    splits: [&'static str; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    tokenizer_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens_unknown_to_eval_tokenizer: Option<u32>,
}

#[derive(Serialize)]
struct ModelCard {
    model_name: &'static str,
    architecture: Architecture,
    parameters: u64,
    dataset: &'static str,
    task: &'static str,
    classes: &'static [&'static str],
    training: Training,
    preprocessing: Preprocessing,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokenizer: Option<TokenizerCard>,
    evaluation: Evaluation,
    license: &'static str,
}

fn normaliser_card(w: &World) -> NormalizerCard {
    let sklearn = Some(format!("sklearn {}", w.sklearn_version.text()));
    match w.normaliser {
        Normaliser::None => NormalizerCard { kind: "none", library_version: None },
        Normaliser::FixedConstants => NormalizerCard { kind: "imagenet_mean_std", library_version: None },
        Normaliser::StandardScaler => NormalizerCard { kind: "StandardScaler", library_version: sklearn },
        Normaliser::ChannelStats => NormalizerCard { kind: "ChannelNormalizer", library_version: None },
    }
}

fn document(w: &World) -> ModelCard {
    let c = w.config();
    ModelCard {
        model_name: c.model,
        architecture: Architecture {
            class: c.architecture,
            family: c.family,
            layers: c.layers,
            hidden_size: c.hidden_size,
        },
        parameters: w.parameters(),
        dataset: c.dataset,
        task: c.task_type,
        classes: c.classes,
        training: Training {
            optimizer: Optimizer {
                name: w.optimizer.display(),
                lr: w.lr.value(),
                momentum: (w.optimizer == OptimizerKind::Sgd).then_some(w.momentum),
                weight_decay: w.weight_decay,
            },
            batch_size: w.batch_size,
            epochs: w.epochs,
            scheduler: w.scheduler.name(),
            precision: if w.bf16 { "bf16" } else { "fp32" },
        },
        preprocessing: Preprocessing {
            label_encoder: LabelEncoderCard {
                kind: "LabelEncoder",
                library_version: format!("sklearn {}", w.sklearn_version.text()),
                num_classes: c.num_classes(),
            },
            normalizer: normaliser_card(w),
        },
        tokenizer: w.tokenizer.zip(c.tokenizer).map(|(t, (name, _))| TokenizerCard {
            name,
            version: t.train_version.text(),
            vocab_size: t.vocab_size,
            previous_version: t.previous_version.text(),
            tokens_added_since_previous: t.tokens_added,
            unk_rate_train: Num(t.train_unk_rate),
        }),
        evaluation: Evaluation {
            splits: ["val", "test"],
            tokenizer_version: w.tokenizer.map(|t| t.eval_version.text()),
            tokens_unknown_to_eval_tokenizer: w.tokenizer.map(|t| t.tokens_missing_in_eval()),
        },
        license: "apache-2.0",
    }
}

pub fn render(w: &World) -> String {
    serde_json::to_string_pretty(&document(w)).expect("model card serialises")
}

pub fn value(w: &World) -> serde_json::Value {
    serde_json::to_value(document(w)).expect("model card serialises")
}
