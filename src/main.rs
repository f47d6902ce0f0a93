use std::process::ExitCode;

use clap::Parser;
use mlops_debug_env::cli::{Cli, Command};
use mlops_debug_env::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Episode { task, seed, reveal, json }) => {
            print!("{}", commands::episode(task, seed, reveal, json));
            ExitCode::SUCCESS
        }
        Some(Command::Grade { task, seed, diagnosis }) => match commands::grade(task, seed, &diagnosis) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
        // clap prints help and exits when no subcommand is given
        None => ExitCode::from(2),
    }
}
