//! Bad input (environment.md §5): every validation rule names the field, costs
//! nothing and changes nothing but `invalid_actions`; arbitrary JSON never
//! panics and an invalid action never changes the episode.

use mlops_debug_env::env::{Episode, EpisodeOptions, ResetParams, StepError, TaskId};
use proptest::prelude::*;
use serde_json::{Value, json};

fn rejected(action: Value) -> (String, String) {
    let mut ep = Episode::new(TaskId::Medium, 11, "v");
    let before = serde_json::to_value(ep.state()).unwrap();
    match ep.step_json(&action) {
        Err(StepError::Invalid(e)) => {
            let mut after = serde_json::to_value(ep.state()).unwrap();
            assert_eq!(after["invalid_actions"], 1);
            after["invalid_actions"] = before["invalid_actions"].clone();
            assert_eq!(before, after, "only invalid_actions changes for {action}");
            (e.field, e.reason)
        }
        other => panic!("{action} was not rejected: {other:?}"),
    }
}

#[test]
fn every_validation_rule_names_the_field() {
    let long = |n: usize| "x".repeat(n);
    let submit = |extra: Value| {
        let mut base = json!({"action_type": "submit_diagnosis", "failure_category": "data_leakage",
            "root_cause_file": "preprocessing.py", "root_cause_field": "fit_transform", "diagnosis": "", "proposed_fix": ""});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([1, 2]), "action", "must be a JSON object"),
        (json!("read_config"), "action", "must be a JSON object"),
        (json!({}), "action_type", "is required"),
        (json!({"action_type": null}), "action_type", "is required"),
        (json!({"action_type": 3}), "action_type", "must be a string"),
        (json!({"action_type": "read_everything"}), "action_type", "unknown action type"),
        (json!({"action_type": "read_config", "bogus": 1}), "bogus", "unknown field"),
        (
            json!({"action_type": "read_config", "log_filter": "loss"}),
            "log_filter",
            "not allowed for action_type read_config",
        ),
        (json!({"action_type": "run_sanity_check"}), "sanity_check_type", "is required"),
        (
            json!({"action_type": "run_sanity_check", "sanity_check_type": 7}),
            "sanity_check_type",
            "must be a string",
        ),
        (
            json!({"action_type": "run_sanity_check", "sanity_check_type": "vibes"}),
            "sanity_check_type",
            "unknown value",
        ),
        (json!({"action_type": "query_artifact"}), "artifact_name", "is required"),
        (
            json!({"action_type": "query_artifact", "artifact_name": "secrets.txt"}),
            "artifact_name",
            "unknown value",
        ),
        (
            json!({"action_type": "query_artifact", "artifact_name": "config.yaml", "field_path": long(201)}),
            "field_path",
            "longer than 200",
        ),
        (json!({"action_type": "read_logs", "log_filter": long(201)}), "log_filter", "longer than 200"),
        (json!({"action_type": "read_logs", "log_filter": 5}), "log_filter", "must be a string"),
        (json!({"action_type": "read_logs", "log_filter": "epoch:0"}), "log_filter", "malformed"),
        (json!({"action_type": "read_logs", "log_filter": "epoch:3-2"}), "log_filter", "malformed"),
        (json!({"action_type": "read_logs", "log_filter": "epoch:x"}), "log_filter", "malformed"),
        (json!({"action_type": "read_logs", "log_filter": "epoch:"}), "log_filter", "malformed"),
        (json!({"action_type": "read_logs", "metadata": 3}), "metadata", "must be an object"),
        (submit(json!({"failure_category": "vibes"})), "failure_category", "unknown value"),
        (submit(json!({"proposed_fix": null})), "proposed_fix", "is required"),
        (submit(json!({"diagnosis": 4})), "diagnosis", "must be a string"),
        (submit(json!({"diagnosis": long(4001)})), "diagnosis", "longer than 4000"),
        (submit(json!({"proposed_fix": long(2001)})), "proposed_fix", "longer than 2000"),
        (submit(json!({"root_cause_file": long(257)})), "root_cause_file", "longer than 256"),
        (submit(json!({"root_cause_field": long(257)})), "root_cause_field", "longer than 256"),
        (submit(json!({"sanity_check_type": "loss_trajectory"})), "sanity_check_type", "not allowed"),
    ];
    for (action, field, reason) in cases {
        let (f, r) = rejected(action.clone());
        assert_eq!(f, field, "{action}");
        assert!(r.contains(reason), "{action}: reason {r:?} lacks {reason:?}");
    }
}

#[test]
fn null_is_absent_and_metadata_is_ignored() {
    let mut ep = Episode::new(TaskId::Easy, 1, "n");
    for action in [
        json!({"action_type": "read_logs", "log_filter": null, "metadata": {"k": 1}}),
        json!({"action_type": "read_config", "log_filter": null, "field_path": null}),
        json!({"action_type": "query_artifact", "artifact_name": "config.yaml", "field_path": null}),
        json!({"action_type": "read_logs", "log_filter": "   "}),
    ] {
        assert!(ep.step_json(&action).is_ok(), "{action}");
    }
    // exactly at the limits is fine
    let ok = json!({"action_type": "read_logs", "log_filter": "y".repeat(200)});
    assert!(ep.step_json(&ok).is_ok());
}

#[test]
fn the_invalid_action_limit_truncates_with_the_validation_error() {
    let options = EpisodeOptions { max_invalid_actions: 3, reveal_answers: false, ..Default::default() };
    let mut ep = Episode::with_options(TaskId::Hard, 5, "lim", options);
    let bad = json!({"action_type": "nope"});
    assert!(ep.step_json(&bad).is_err());
    assert!(ep.step_json(&bad).is_err());
    assert!(
        ep.step_json(&json!({"action_type": "read_config"})).is_ok(),
        "a valid action restarts the count"
    );
    assert!(ep.step_json(&bad).is_err());
    assert!(ep.step_json(&bad).is_err());
    let out = ep.step_json(&bad).expect("the third consecutive invalid action ends the episode");
    assert!(out.done && out.observation.truncated);
    let end = serde_json::to_value(&out.observation.last_action_result).unwrap();
    assert_eq!(end["status"], "truncated");
    assert_eq!(end["action_result"]["code"], "VALIDATION_ERROR");
    assert_eq!(end["action_result"]["details"]["field"], "action_type");
    assert!(end.get("ground_truth").is_none(), "hidden ground truth");
    assert!(matches!(ep.step_json(&bad), Err(StepError::EpisodeDone)));
}

#[test]
fn reset_parameters_are_validated() {
    let ok = ResetParams::from_json(&json!({"task": "hard", "seed": 18446744073709551615u64, "episode_id": "e", "prompt": "x", "compact": true})).unwrap();
    assert_eq!(ok.task_id, Some(TaskId::Hard));
    assert_eq!(ok.seed, Some(u64::MAX));
    assert!(ok.compact);
    assert_eq!(ok.ignored_keys, vec!["prompt".to_string()]);
    assert!(!ResetParams::from_json(&json!({"compact": null})).unwrap().compact);
    assert_eq!(
        ResetParams::from_json(&json!({"task_id": "easy", "task": "easy"})).unwrap().task_id,
        Some(TaskId::Easy)
    );
    assert_eq!(ResetParams::from_json(&Value::Null).unwrap(), ResetParams::default());
    assert_eq!(
        ResetParams::from_json(&json!({"seed": null, "task_id": null})).unwrap(),
        ResetParams::default()
    );
    for (bad, field) in [
        (json!({"task_id": "easy", "task": "hard"}), "task"),
        (json!({"task_id": "extreme"}), "task_id"),
        (json!({"task_id": 1}), "task_id"),
        (json!({"seed": -1}), "seed"),
        (json!({"seed": 1.5}), "seed"),
        (json!({"seed": 2.0}), "seed"),
        (json!({"seed": "7"}), "seed"),
        (json!({"seed": true}), "seed"),
        (json!({"episode_id": ""}), "episode_id"),
        (json!({"episode_id": "e".repeat(256)}), "episode_id"),
        (json!({"episode_id": 5}), "episode_id"),
        (json!({"compact": "yes"}), "compact"),
        (json!({"compact": 1}), "compact"),
        (json!([1]), "reset"),
    ] {
        assert_eq!(ResetParams::from_json(&bad).unwrap_err().field, field, "{bad}");
    }
    let big: Value = serde_json::from_str("{\"seed\": 18446744073709551616}").unwrap();
    assert_eq!(ResetParams::from_json(&big).unwrap_err().field, "seed");
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("action_type".to_string()),
        Just("log_filter".to_string()),
        Just("sanity_check_type".to_string()),
        Just("artifact_name".to_string()),
        Just("field_path".to_string()),
        Just("failure_category".to_string()),
        Just("root_cause_file".to_string()),
        Just("root_cause_field".to_string()),
        Just("diagnosis".to_string()),
        Just("proposed_fix".to_string()),
        Just("metadata".to_string()),
        "[a-z_]{0,12}",
    ];
    let strings = prop_oneof![
        Just("read_config".to_string()),
        Just("read_logs".to_string()),
        Just("query_artifact".to_string()),
        Just("run_sanity_check".to_string()),
        Just("submit_diagnosis".to_string()),
        Just("config.yaml".to_string()),
        Just("train.log".to_string()),
        Just("loss_trajectory".to_string()),
        Just("epoch:2-4".to_string()),
        Just("data_leakage".to_string()),
        ".{0,40}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        strings.prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_and_invalid_actions_change_nothing(
        actions in prop::collection::vec(arbitrary_json(), 1..12),
        task in 0usize..3,
        seed in any::<u64>(),
    ) {
        let mut ep = Episode::new(TaskId::ALL[task], seed, "fuzz");
        for action in &actions {
            let before = serde_json::to_value(ep.state()).unwrap();
            match ep.step_json(action) {
                Ok(out) => {
                    prop_assert_eq!(out.done, ep.is_done());
                    prop_assert!(serde_json::to_string(&out.observation).is_ok());
                }
                Err(StepError::Invalid(_)) => {
                    let mut after = serde_json::to_value(ep.state()).unwrap();
                    prop_assert_eq!(after["invalid_actions"].as_u64(), before["invalid_actions"].as_u64().map(|n| n + 1));
                    after["invalid_actions"] = before["invalid_actions"].clone();
                    prop_assert_eq!(before, after);
                }
                Err(StepError::EpisodeDone) => {
                    prop_assert!(ep.is_done());
                    prop_assert_eq!(before, serde_json::to_value(ep.state()).unwrap());
                }
            }
        }
        let _ = ResetParams::from_json(&actions[0]);
    }
}

#[test]
fn compact_episodes_leave_only_the_constant_fields_out_of_step_observations() {
    let compact = EpisodeOptions { compact: true, ..Default::default() };
    for task in TaskId::ALL {
        let mut full = Episode::new(task, 21, "c");
        let mut lean = Episode::with_options(task, 21, "c", compact);
        assert_eq!(
            serde_json::to_value(full.reset_observation(Vec::new())).unwrap(),
            serde_json::to_value(lean.reset_observation(Vec::new())).unwrap(),
            "the reset observation is whole"
        );
        for action in [
            json!({"action_type": "read_config"}),
            json!({"action_type": "nope"}),
            json!({"action_type": "run_sanity_check", "sanity_check_type": "class_balance"}),
            json!({"action_type": "submit_diagnosis", "failure_category": "config_error", "root_cause_file": "config.yaml",
                   "root_cause_field": "optimizer.learning_rate", "diagnosis": "d", "proposed_fix": "f"}),
        ] {
            let (a, b) = (full.step_json(&action), lean.step_json(&action));
            let (a, b) = match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!((a.reward, a.done), (b.reward, b.done));
                    (
                        serde_json::to_value(&a.observation).unwrap(),
                        serde_json::to_value(&b.observation).unwrap(),
                    )
                }
                (Err(a), Err(b)) => (json!(a.to_string()), json!(b.to_string())),
                other => panic!("{task:?} {action}: {other:?}"),
            };
            let mut expected = a;
            if let Some(o) = expected.as_object_mut() {
                assert!(o.remove("task_description").is_some() && o.remove("available_artifacts").is_some());
            }
            assert_eq!(expected, b, "{task:?} {action}");
        }
    }
}
