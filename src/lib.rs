//! MLOps Pipeline Debugger: a deterministic environment for LLM agents, and
//! the farm that serves many episodes of it at once.

#![forbid(unsafe_code)]

pub mod agent;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod env;
pub mod eval;
pub mod farm;
pub mod json_scan;
pub mod metrics;
pub mod server;
