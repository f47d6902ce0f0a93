//! The pure environment (spec/environment.md): no I/O, no clock, no global
//! state; everything follows from `(task_id, seed)` and the actions taken.

pub mod action;
pub mod artifacts;
pub mod calibration;
pub mod catalogue;
pub mod checks;
pub mod curves;
pub mod episode;
pub mod fields;
pub mod grader;
pub mod locations;
pub mod models;
pub mod num;
pub mod observation;
pub mod rng;
pub mod rubric;
pub mod timeline;
pub mod world;

pub use action::{Action, ResetParams, ValidationError};
pub use catalogue::{ArtifactName, BugKind, Category, CheckKind, ENV_VERSION, TaskId};
pub use episode::{Episode, EpisodeOptions, StepError, StepOutcome};
pub use grader::Bp;
pub use observation::{Observation, State};
pub mod hints;
