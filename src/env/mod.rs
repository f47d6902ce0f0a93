//! The pure environment (spec/environment.md): no I/O, no clock, no global
//! state; everything follows from `(task_id, seed)` and the actions taken.

pub mod catalogue;
pub mod models;
pub mod num;
pub mod rng;
pub mod world;
