//! preprocessing.py: the data pipeline and the evaluation functions. Every
//! episode has both; helper names, comments, optional steps and block order
//! vary with the surface-form stream, so memorising a file fails.

use std::fmt::Write;

use super::tree::plain_float;
use crate::env::catalogue::{BugKind, Modality, TaskId};
use crate::env::world::{Normaliser, World};

const LOAD_FNS: [&str; 4] = ["load_raw_dataset", "read_dataset", "load_examples", "fetch_records"];
const SPLIT_FNS: [&str; 3] = ["make_splits", "split_dataset", "build_splits"];
const SCALE_FNS: [&str; 3] = ["scale_features", "standardize", "normalize_features"];
const SCALER_VARS: [&str; 3] = ["scaler", "feature_scaler", "std_scaler"];
const NORMALIZER_VARS: [&str; 3] = ["normalizer", "channel_norm", "pixel_norm"];
const ENCODER_VARS: [&str; 3] = ["encoder", "label_encoder", "le"];
const RESULTS_VARS: [&str; 3] = ["results", "scores", "report"];
const LABEL_MAP_VARS: [&str; 3] = ["label_map", "label_to_index", "class_index"];
const EVAL_TOKENIZER_VARS: [&str; 3] = ["eval_tokenizer", "test_tokenizer", "scoring_tokenizer"];
const EVAL_FNS: [&str; 3] = ["evaluate", "run_evaluation", "score_model"];

/// The identifiers this episode's code uses: one source for the renderer and the grader's field forms.
#[derive(Clone, Copy, Debug)]
pub struct CodeNames {
    pub load_fn: &'static str,
    pub split_fn: &'static str,
    pub scale_fn: &'static str,
    /// The normaliser variable (a StandardScaler, or a ChannelNormalizer for images).
    pub normaliser_var: &'static str,
    /// `StandardScaler` or `ChannelNormalizer`.
    pub normaliser_class: &'static str,
    pub encoder_var: &'static str,
    pub results_var: &'static str,
    pub label_map_var: &'static str,
    pub eval_tokenizer_var: &'static str,
    pub eval_fn: &'static str,
}

pub fn names(w: &World) -> CodeNames {
    let s = &w.surface;
    let image = w.config().modality == Modality::Image;
    CodeNames {
        load_fn: LOAD_FNS[s.load_fn as usize],
        split_fn: SPLIT_FNS[s.split_fn as usize],
        scale_fn: SCALE_FNS[s.scale_fn as usize],
        normaliser_var: if image {
            NORMALIZER_VARS[s.scaler_var as usize]
        } else {
            SCALER_VARS[s.scaler_var as usize]
        },
        normaliser_class: if image { "ChannelNormalizer" } else { "StandardScaler" },
        encoder_var: ENCODER_VARS[s.encoder_var as usize],
        results_var: RESULTS_VARS[s.results_var as usize],
        label_map_var: LABEL_MAP_VARS[s.label_map_var as usize],
        eval_tokenizer_var: EVAL_TOKENIZER_VARS[s.eval_tokenizer_var as usize],
        eval_fn: EVAL_FNS[s.eval_fn as usize],
    }
}

const OPT_DEDUPE: u8 = 1;
const OPT_CLEAN: u8 = 2;
const OPT_STRATIFY: u8 = crate::env::world::STRATIFY_BIT;
const OPT_PRINT_SIZES: u8 = 8;

fn has(w: &World, bit: u8) -> bool {
    w.surface.optional_steps & bit != 0
}

/// Images stored at another size than the model's input are resized (always,
/// not as an option); grayscale images get three channels.
fn resizes(w: &World) -> bool {
    w.config().data.image.is_some_and(|(side, _)| side != w.config().input_size)
        || (is_image(w) && has(w, OPT_CLEAN))
}

fn is_image(w: &World) -> bool {
    w.config().modality == Modality::Image
}

fn grayscale(w: &World) -> bool {
    w.config().data.image.is_some_and(|(_, channels)| channels == 1)
}

/// The pipeline's steps in the order the code runs them (dataset_stats.json lists them).
pub fn preprocessing_steps(w: &World) -> Vec<&'static str> {
    let modality = w.config().modality;
    let mut steps = vec!["load_records"];
    if has(w, OPT_DEDUPE) {
        steps.push("drop_duplicates");
    }
    if w.config().subset.is_some() {
        steps.push("sample_subset");
    }
    match modality {
        Modality::Text if has(w, OPT_CLEAN) => steps.push("strip_whitespace"),
        Modality::Tabular if has(w, OPT_CLEAN) => steps.push("fill_missing"),
        Modality::Image if resizes(w) => steps.push("resize_images"),
        _ => {}
    }
    if grayscale(w) {
        steps.push("grayscale_to_rgb");
    }
    steps.push("encode_labels");
    if modality == Modality::Text && w.task == TaskId::Medium {
        steps.push("embed_texts");
    }
    let normalise = match w.normaliser {
        Normaliser::StandardScaler => Some("standardize_features"),
        Normaliser::ChannelStats => Some("normalize_channels"),
        Normaliser::FixedConstants => Some("normalize_imagenet"),
        Normaliser::None => None,
    };
    if w.normaliser_fitted_before_split || w.normaliser == Normaliser::FixedConstants {
        steps.extend(normalise);
        steps.push("train_val_test_split");
    } else {
        steps.push("train_val_test_split");
        steps.extend(normalise);
    }
    steps
}

/// A function definition, with its description as a docstring (style 0), a
/// comment above it (style 1), or nothing (style 2).
fn def(w: &World, out: &mut String, signature: &str, text: &str) {
    if w.surface.comment_style == 1 {
        let _ = writeln!(out, "# {text}");
    }
    let _ = writeln!(out, "def {signature}:");
    if w.surface.comment_style == 0 {
        let _ = writeln!(out, "    \"\"\"{text}\"\"\"");
    }
}

fn header(w: &World, out: &mut String) {
    let c = w.config();
    match w.surface.comment_style {
        0 => {
            let _ =
                writeln!(out, "\"\"\"Data pipeline and evaluation for {} on {}.\"\"\"\n", c.model, c.dataset);
        }
        1 => {
            let _ = writeln!(out, "# {} pipeline and evaluation helpers for {}.\n", c.dataset, c.model);
        }
        _ => {}
    }
    let numpy = "import numpy as np";
    let split = "from sklearn.model_selection import train_test_split";
    let prep = if w.normaliser == Normaliser::StandardScaler {
        "from sklearn.preprocessing import LabelEncoder, StandardScaler"
    } else {
        "from sklearn.preprocessing import LabelEncoder"
    };
    let lines = if w.surface.import_order == 0 { [numpy, split, prep] } else { [split, prep, numpy] };
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let mut io = vec!["read_records"];
    if has(w, OPT_DEDUPE) {
        io.push("drop_duplicates");
    }
    match c.modality {
        Modality::Text => {
            io.push("load_tokenizer");
            if w.task == TaskId::Medium {
                io.push("sentence_embeddings");
            }
        }
        Modality::Image => {
            if resizes(w) {
                io.push("resize");
            }
            if grayscale(w) {
                io.push("to_rgb");
            }
        }
        _ => {}
    }
    let _ = writeln!(out, "\nfrom project.io import {}", io.join(", "));
    let _ = writeln!(out, "from project.metrics import cross_entropy\n");
    let _ = writeln!(out, "DATA_PATH = \"data/{}\"", c.dataset);
    let _ = writeln!(out, "MODEL_NAME = \"{}\"", c.model);
    if let (true, Some((encoder, _))) = (c.frozen_encoder, c.tokenizer) {
        let _ = writeln!(out, "ENCODER_NAME = \"{encoder}\"");
    }
    if c.subset.is_some() {
        let _ = writeln!(out, "MAX_SAMPLES = {}", w.n_total);
    }
    match c.modality {
        Modality::Text => {
            let _ = writeln!(out, "MAX_LENGTH = {}", c.input_size);
        }
        Modality::Image => {
            let _ = writeln!(out, "IMAGE_SIZE = {}", c.input_size);
        }
        Modality::Tabular => {
            let _ = writeln!(out, "NUM_FEATURES = {}", c.input_size);
        }
    }
    if w.normaliser == Normaliser::FixedConstants {
        let _ = writeln!(out, "IMAGENET_MEAN = (0.485, 0.456, 0.406)");
        let _ = writeln!(out, "IMAGENET_STD = (0.229, 0.224, 0.225)");
    }
    out.push_str("\n\n");
}

fn load_block(w: &World, n: &CodeNames, out: &mut String) {
    def(w, out, &format!("{}(path)", n.load_fn), "Read the raw records from disk.");
    out.push_str("    records = read_records(path)\n");
    if has(w, OPT_DEDUPE) {
        // the public datasets carry no id column: duplicates are identical records
        out.push_str("    records = drop_duplicates(records)\n");
    }
    if w.config().subset.is_some() {
        out.push_str(
            "    keep = np.random.default_rng(0).permutation(len(records))[:MAX_SAMPLES]\n    records = [records[i] for i in keep]\n",
        );
    }
    match w.config().modality {
        Modality::Text if has(w, OPT_CLEAN) => {
            out.push_str("    X = [r[\"text\"].strip() for r in records]\n")
        }
        Modality::Text => out.push_str("    X = [r[\"text\"] for r in records]\n"),
        Modality::Image => {
            let mut image = "r[\"image\"]".to_string();
            if resizes(w) {
                image = format!("resize({image}, IMAGE_SIZE)");
            }
            if grayscale(w) {
                image = format!("to_rgb({image})");
            }
            let _ = writeln!(out, "    X = np.stack([{image} for r in records]).astype(np.float32)");
        }
        Modality::Tabular => {
            out.push_str("    X = np.array([r[\"features\"] for r in records], dtype=np.float32)\n");
            if has(w, OPT_CLEAN) {
                out.push_str("    X = np.nan_to_num(X, nan=0.0)\n");
            }
        }
    }
    out.push_str("    labels = [r[\"label\"] for r in records]\n    return X, labels\n\n\n");
}

fn encode_block(w: &World, n: &CodeNames, out: &mut String) {
    let e = n.encoder_var;
    def(w, out, "encode_labels(labels)", "Map class names to integer ids.");
    let _ = write!(
        out,
        "    {e} = LabelEncoder()\n    {e}.fit(labels)\n    np.save(\"artifacts/classes.npy\", {e}.classes_)\n    return {e}.transform(labels), {e}\n\n\n"
    );
}

fn tokenizer_block(w: &World, out: &mut String) {
    let Some(tok) = w.tokenizer else { return };
    def(w, out, "load_training_tokenizer()", "Tokenizer used to build the training batches.");
    let _ = write!(
        out,
        "    tokenizer = load_tokenizer({}, version=\"{}\")\n    return tokenizer\n\n\n",
        if w.config().frozen_encoder { "ENCODER_NAME" } else { "MODEL_NAME" },
        tok.train_version.text()
    );
    if w.task == TaskId::Medium {
        def(w, out, "embed_texts(texts, tokenizer)", "Sentence embeddings from the frozen encoder.");
        out.push_str(
            "    encoded = tokenizer(texts, max_length=MAX_LENGTH, truncation=True, padding=\"max_length\")\n    return sentence_embeddings(ENCODER_NAME, encoded)\n\n\n",
        );
    }
}

fn split_block(w: &World, n: &CodeNames, out: &mut String, faults: &mut Vec<usize>) {
    let ts = plain_float(w.test_size());
    let stratify = |arg: &str| if has(w, OPT_STRATIFY) { format!(", stratify={arg}") } else { String::new() };
    def(w, out, &format!("{}(X, y)", n.split_fn), "Split into train, validation and test sets.");
    if w.bug == BugKind::DataLeakageOverlap {
        let vs = plain_float(w.val_draw_permille as f64 / 1000.0);
        let _ = write!(
            out,
            "    X_train, X_test, y_train, y_test = train_test_split(\n        X, y, test_size={ts}, random_state=None{}\n    )\n",
            stratify("y")
        );
        mark(out, faults);
        let _ = write!(
            out,
            "    _, X_val, _, y_val = train_test_split(\n        X, y, test_size={vs}, random_state=None{}\n    )\n",
            stratify("y")
        );
    } else {
        let rs = w.random_state.unwrap_or(0);
        if w.bug == BugKind::WrongSplitRatio {
            mark(out, faults);
        }
        let _ = write!(
            out,
            "    X_train, X_hold, y_train, y_hold = train_test_split(\n        X, y, test_size={ts}, random_state={rs}{}\n    )\n    X_val, X_test, y_val, y_test = train_test_split(\n        X_hold, y_hold, test_size=0.5, random_state={rs}{}\n    )\n",
            stratify("y"),
            stratify("y_hold")
        );
    }
    out.push_str("    return (X_train, y_train), (X_val, y_val), (X_test, y_test)\n\n\n");
}

fn normalise_block(w: &World, n: &CodeNames, out: &mut String, faults: &mut Vec<usize>) {
    let v = n.normaliser_var;
    match w.normaliser {
        Normaliser::None => {}
        Normaliser::FixedConstants => {
            def(w, out, "normalize_imagenet(images)", "Scale pixels with the ImageNet channel constants.");
            out.push_str(
                "    mean = np.array(IMAGENET_MEAN).reshape(1, 1, 1, 3)\n    std = np.array(IMAGENET_STD).reshape(1, 1, 1, 3)\n    return (images / 255.0 - mean) / std\n\n\n",
            );
        }
        Normaliser::StandardScaler | Normaliser::ChannelStats => {
            if w.normaliser == Normaliser::ChannelStats {
                out.push_str("class ChannelNormalizer:\n");
                if w.surface.comment_style == 0 {
                    out.push_str("    \"\"\"Per-channel mean and std normalisation.\"\"\"\n\n");
                }
                out.push_str(
                    "    def fit_transform(self, images):\n        self.mean = images.mean(axis=(0, 1, 2))\n        self.std = images.std(axis=(0, 1, 2))\n        return self.transform(images)\n\n    def transform(self, images):\n        return (images - self.mean) / self.std\n\n\n",
                );
            }
            let class = n.normaliser_class;
            if w.normaliser_fitted_before_split {
                def(w, out, &format!("{}(X)", n.scale_fn), "Normalise the features.");
                let _ = writeln!(out, "    {v} = {class}()");
                mark(out, faults);
                let _ = write!(out, "    return {v}.fit_transform(X)\n\n\n");
            } else {
                def(w, out, &format!("{}(X_train, X_val, X_test)", n.scale_fn), "Normalise the features.");
                let _ = write!(
                    out,
                    "    {v} = {class}()\n    X_train = {v}.fit_transform(X_train)\n    X_val = {v}.transform(X_val)\n    X_test = {v}.transform(X_test)\n    return X_train, X_val, X_test\n\n\n"
                );
            }
        }
    }
}

fn build_block(w: &World, n: &CodeNames, out: &mut String, faults: &mut Vec<usize>) {
    def(w, out, "build_datasets(path=DATA_PATH)", "Run the whole data pipeline.");
    let _ = writeln!(out, "    X, labels = {}(path)", n.load_fn);
    let _ = writeln!(out, "    y, {} = encode_labels(labels)", n.encoder_var);
    if w.config().modality == Modality::Text && w.task == TaskId::Medium {
        out.push_str("    X = embed_texts(X, load_training_tokenizer())\n");
    }
    let scale_before = w.normaliser.is_fitted() && w.normaliser_fitted_before_split;
    if scale_before {
        // scaling the whole X before the split is the leak's second statement
        mark(out, faults);
        let _ = writeln!(out, "    X = {}(X)", n.scale_fn);
    }
    if w.normaliser == Normaliser::FixedConstants {
        out.push_str("    X = normalize_imagenet(X)\n");
    }
    let _ = writeln!(out, "    train, val, test = {}(X, y)", n.split_fn);
    if w.normaliser.is_fitted() && !scale_before {
        let _ = writeln!(out, "    X_train, X_val, X_test = {}(train[0], val[0], test[0])", n.scale_fn);
        out.push_str("    train, val, test = (X_train, train[1]), (X_val, val[1]), (X_test, test[1])\n");
    }
    if has(w, OPT_PRINT_SIZES) {
        out.push_str("    print(f\"train={len(train[1])} val={len(val[1])} test={len(test[1])}\")\n");
    }
    let _ = write!(out, "    return train, val, test, {}\n\n\n", n.encoder_var);
}

fn eval_block(w: &World, n: &CodeNames, out: &mut String, faults: &mut Vec<usize>) {
    let text_eval = w.config().modality == Modality::Text && w.task != TaskId::Medium;
    let (lm, enc, res, et) = (n.label_map_var, n.encoder_var, n.results_var, n.eval_tokenizer_var);
    if w.bug == BugKind::LabelEncoderMismatch {
        let classes = w.classes();
        let order: Vec<String> =
            w.eval_order.iter().map(|&i| format!("\"{}\"", classes[i as usize])).collect();
        mark(out, faults);
        let _ = write!(out, "EVAL_CLASS_ORDER = [{}]\n\n\n", order.join(", "));
    }
    let tok_param = if text_eval { ", tokenizer=None" } else { "" };
    def(
        w,
        out,
        &format!("score_split(model, split, {lm}, {enc}{tok_param})"),
        "Accuracy and loss of one split.",
    );
    out.push_str("    X, y = split\n");
    if text_eval {
        out.push_str(
            "    if tokenizer is not None:\n        X = tokenizer(X, max_length=MAX_LENGTH, truncation=True, padding=\"max_length\")\n",
        );
    }
    let _ = write!(
        out,
        "    names = {enc}.inverse_transform(y)\n    targets = np.array([{lm}[name] for name in names])\n    logits = model.predict(X)\n    accuracy = float((logits.argmax(axis=1) == targets).mean())\n    return accuracy, cross_entropy(logits, targets)\n\n\n"
    );
    def(
        w,
        out,
        &format!("{}(model, val_set, test_set, {enc})", n.eval_fn),
        "Score the validation and test splits.",
    );
    let mut extra = String::new();
    if text_eval {
        let tok = w.tokenizer.expect("text models have a tokenizer");
        if w.bug == BugKind::TokenizerVersionDrift {
            mark(out, faults);
        }
        let _ =
            writeln!(out, "    {et} = load_tokenizer(MODEL_NAME, version=\"{}\")", tok.eval_version.text());
        extra = format!(", {et}");
    }
    let source = if w.bug == BugKind::LabelEncoderMismatch {
        "EVAL_CLASS_ORDER".to_string()
    } else {
        format!("{enc}.classes_")
    };
    if w.bug == BugKind::LabelEncoderMismatch {
        mark(out, faults);
    }
    let _ = writeln!(out, "    {lm} = {{label: index for index, label in enumerate({source})}}");
    let _ = writeln!(out, "    val_acc, val_loss = score_split(model, val_set, {lm}, {enc}{extra})");
    let _ = writeln!(out, "    test_acc, test_loss = score_split(model, test_set, {lm}, {enc}{extra})");
    let (val_src, test_src) =
        if w.bug == BugKind::SilentMetricSwap { ("test_acc", "val_acc") } else { ("val_acc", "test_acc") };
    let swapped = w.bug == BugKind::SilentMetricSwap;
    let _ = write!(out, "    {res} = {{}}\n    {res}[\"val_loss\"] = val_loss\n");
    if swapped {
        mark(out, faults);
    }
    let _ = write!(out, "    {res}[\"val_accuracy\"] = {val_src}\n    {res}[\"test_loss\"] = test_loss\n");
    if swapped {
        mark(out, faults);
    }
    let _ = write!(out, "    {res}[\"test_accuracy\"] = {test_src}\n    return {res}\n\n\n");
}

/// Records that the next line written starts a faulty statement (0-based line index).
fn mark(out: &str, faults: &mut Vec<usize>) {
    faults.push(out.matches('\n').count());
}

pub fn render(w: &World) -> String {
    render_marked(w).0
}

/// The file and the 0-based lines where the planted fault's statements start
/// (none when the fault is not in this file): the grader's field locations.
pub fn render_marked(w: &World) -> (String, Vec<usize>) {
    let n = names(w);
    let mut faults = Vec::new();
    let mut out = String::with_capacity(4096);
    header(w, &mut out);
    if w.surface.eval_first {
        eval_block(w, &n, &mut out, &mut faults);
    }
    load_block(w, &n, &mut out);
    encode_block(w, &n, &mut out);
    if w.config().modality == Modality::Text {
        tokenizer_block(w, &mut out);
    }
    split_block(w, &n, &mut out, &mut faults);
    normalise_block(w, &n, &mut out, &mut faults);
    build_block(w, &n, &mut out, &mut faults);
    if !w.surface.eval_first {
        eval_block(w, &n, &mut out, &mut faults);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    (out, faults)
}
