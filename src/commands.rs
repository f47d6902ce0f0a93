//! The offline commands: print an episode, grade a diagnosis.

use serde::Serialize;

use crate::env::action::ActionType;
use crate::env::artifacts::render;
use crate::env::grader::{GroundTruth, ground_truth};
use crate::env::observation::ActionResult;
use crate::env::{Action, ArtifactName, Episode, EpisodeOptions, Observation, TaskId};

/// The episode id the offline commands use, so their output is deterministic.
pub fn cli_episode_id(task: TaskId, seed: u64) -> String {
    format!("cli-{}-{seed}", task.as_str())
}

#[derive(Serialize)]
struct Artifacts {
    #[serde(rename = "config.yaml")]
    config: String,
    #[serde(rename = "train.log")]
    train_log: String,
    #[serde(rename = "dataset_stats.json")]
    dataset_stats: String,
    #[serde(rename = "preprocessing.py")]
    preprocessing: String,
    #[serde(rename = "eval_results.json")]
    eval_results: String,
    #[serde(rename = "model_card.json")]
    model_card: String,
}

#[derive(Serialize)]
struct EpisodeDump {
    observation: Observation,
    artifacts: Artifacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    ground_truth: Option<GroundTruth>,
}

/// `episode`: the text to print.
pub fn episode(task: TaskId, seed: u64, reveal: bool, json: bool) -> String {
    let ep = Episode::new(task, seed, cli_episode_id(task, seed));
    let w = ep.world();
    if json {
        let dump = EpisodeDump {
            observation: ep.reset_observation(Vec::new()),
            artifacts: Artifacts {
                config: render(w, ArtifactName::Config),
                train_log: render(w, ArtifactName::TrainLog),
                dataset_stats: render(w, ArtifactName::DatasetStats),
                preprocessing: render(w, ArtifactName::Preprocessing),
                eval_results: render(w, ArtifactName::EvalResults),
                model_card: render(w, ArtifactName::ModelCard),
            },
            ground_truth: reveal.then(|| ground_truth(w)),
        };
        return serde_json::to_string_pretty(&dump).expect("episode serialises") + "\n";
    }
    let c = w.config();
    let mut out = format!(
        "episode {} | task {} ({}) | seed {seed} | run {}\nmodel {} on {} ({})\n",
        ep.episode_id(),
        task.as_str(),
        task.name(),
        w.run_id_hex(),
        c.model,
        c.dataset,
        c.task_type
    );
    for a in ArtifactName::ALL {
        let text = render(w, a);
        out.push_str(&format!("\n===== {} =====\n{}\n", a.as_str(), text.trim_end()));
    }
    if reveal {
        let gt = ground_truth(w);
        out.push_str(&format!(
            "\n===== ground truth =====\nbug:      {}\ncategory: {}\nfile:     {}\nfield:    {}\nfix:      {}\n",
            gt.bug_type.as_str(),
            gt.category.as_str(),
            gt.file.as_str(),
            gt.field,
            gt.fix
        ));
    }
    out
}

/// `grade`: the end object as JSON, or a message saying what is wrong with the diagnosis.
pub fn grade(task: TaskId, seed: u64, diagnosis: &str) -> Result<String, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(diagnosis).map_err(|e| format!("--diagnosis is not valid JSON: {e}"))?;
    if let serde_json::Value::Object(obj) = &mut value {
        obj.entry("action_type").or_insert_with(|| ActionType::SubmitDiagnosis.as_str().into());
    }
    let d = match Action::from_json(&value).map_err(|e| format!("--diagnosis: {e}"))? {
        Action::SubmitDiagnosis(d) => d,
        other => {
            return Err(format!(
                "--diagnosis: action_type must be {}, not {}",
                ActionType::SubmitDiagnosis.as_str(),
                other.action_type().as_str()
            ));
        }
    };
    let options = EpisodeOptions { reveal_answers: true, ..EpisodeOptions::default() };
    let mut ep = Episode::with_options(task, seed, cli_episode_id(task, seed), options);
    let end = ep.submit_offline(&d);
    debug_assert!(matches!(end, ActionResult::End(_)));
    Ok(serde_json::to_string_pretty(&end).expect("end object serialises") + "\n")
}
