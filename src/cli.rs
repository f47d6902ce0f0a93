//! The command line: `serve` (the default), `episode`, `grade`.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mlops-debug-env",
    version,
    about = "MLOps Pipeline Debugger: an environment farm for LLM agents",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand the binary serves, with these settings.
    #[command(flatten)]
    pub serve: crate::config::Settings,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the farm (the default with no subcommand).
    Serve(crate::config::Settings),
    /// Evaluate an agent: many episodes against a farm, with scores and throughput.
    Eval(crate::eval::EvalArgs),
    /// Measure throughput against this machine's ceiling, latency, memory per session, churn.
    Bench(crate::bench::BenchArgs),
    /// The raw WebSocket echo server `bench` measures the ceiling with.
    #[command(hide = true)]
    EchoServer(crate::bench::EchoArgs),
    /// Print one episode for a person to read: its artifacts, and with --reveal its ground truth.
    Episode {
        /// easy, medium or hard
        #[arg(long, value_parser = parse_task)]
        task: crate::env::TaskId,
        #[arg(long)]
        seed: u64,
        /// Also print the ground truth (bug, field, canonical fix).
        #[arg(long)]
        reveal: bool,
        /// Print {"observation", "artifacts", "ground_truth"?} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Grade a diagnosis offline (no investigation penalty) and print the end object.
    Grade {
        #[arg(long, value_parser = parse_task)]
        task: crate::env::TaskId,
        #[arg(long)]
        seed: u64,
        /// A submit_diagnosis action as JSON (action_type may be omitted).
        #[arg(long)]
        diagnosis: String,
    },
}

fn parse_task(s: &str) -> Result<crate::env::TaskId, String> {
    crate::env::TaskId::parse(s).ok_or_else(|| format!("unknown task '{s}'; expected easy, medium or hard"))
}
