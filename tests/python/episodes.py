"""The scripted actions the Python tests play: reads, a check, a query, a submit."""


def script(task_id):
    category = {"easy": "config_error", "medium": "data_leakage", "hard": "evaluation_bug"}[task_id]
    file = {"easy": "config.yaml"}.get(task_id, "preprocessing.py")
    return [
        {"action_type": "read_config"},
        {"action_type": "read_logs", "log_filter": "epoch:1-3"},
        {"action_type": "check_dataset_stats"},
        {"action_type": "run_sanity_check", "sanity_check_type": "metric_gap_analysis"},
        {"action_type": "query_artifact", "artifact_name": "eval_results.json", "field_path": "metrics.val_accuracy"},
        {"action_type": "submit_diagnosis", "failure_category": category, "root_cause_file": file,
         "root_cause_field": "learning_rate", "diagnosis": "scripted", "proposed_fix": "Lower the learning rate to 3e-4."},
    ]
