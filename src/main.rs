use std::process::ExitCode;

use clap::Parser;
use mlops_debug_env::cli::{Cli, Command};
use mlops_debug_env::config::Settings;
use mlops_debug_env::{commands, server};

// glibc malloc grew its per-thread heaps a few pages at a time (an mprotect
// and page faults per step of growth) while sessions were created; mimalloc
// removed that and most allocation cost per step (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn serve(settings: Settings) -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        // colour codes only for a person at a terminal, never into collected logs
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(async move {
        // Installed before listening: a server that could not hear SIGTERM must not start.
        let mut signals = match server::Signals::install() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot install the SIGTERM/SIGINT handlers: {e}");
                return ExitCode::from(1);
            }
        };
        let addr = std::net::SocketAddr::new(settings.server.host, settings.server.port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        let admin = match settings.server.admin_port {
            None => None,
            Some(port) => {
                let addr = std::net::SocketAddr::new(settings.server.host, port);
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        eprintln!("error: cannot listen on {addr} (admin): {e}");
                        return ExitCode::from(1);
                    }
                }
            }
        };
        let local = listener.local_addr().expect("bound address");
        let admin_line = match admin.as_ref().map(|l| l.local_addr().expect("bound address")) {
            Some(a) => format!("admin on http://{a}\n"),
            None => String::new(),
        };
        // A closed stdout must not take the server down: ignore write errors.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout().lock(),
            "mlops-debug-env {} (env_version {}) listening on http://{local}\n{admin_line}settings:\n{settings}",
            env!("CARGO_PKG_VERSION"),
            mlops_debug_env::env::ENV_VERSION
        );
        // The first signal drains; a second one exits at once.
        let (first_tx, first) = tokio::sync::oneshot::channel::<()>();
        let (second_tx, second) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            signals.next().await;
            let _ = first_tx.send(());
            signals.next().await;
            let _ = second_tx.send(());
        });
        let shutdown = async {
            let _ = first.await;
        };
        tokio::select! {
            result = server::serve_with_admin(settings, listener, admin, shutdown) => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            },
            Ok(()) = second => {
                eprintln!("second signal: exiting without waiting for the drain");
                ExitCode::from(130)
            }
        }
    });
    // Whatever is still running (a connection, a session actor) is not waited for.
    runtime.shutdown_background();
    code
}

fn eval(args: mlops_debug_env::eval::EvalArgs) -> ExitCode {
    use mlops_debug_env::eval::{report, run};
    use std::io::{IsTerminal, Write};
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let mut trajectories = match &args.trajectories {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let total = (args.episodes as usize) * args.tasks.len();
    let bar = std::io::stderr().is_terminal();
    let mut finished = 0;
    let result = runtime.block_on(run(&args, |record| {
        finished += 1;
        if args.trace {
            print!("{}", report::trace(record));
        }
        if let Some(w) = trajectories.as_mut() {
            let _ = writeln!(w, "{}", report::trajectory_line(record, args.max_content_chars));
        }
        if bar {
            eprint!("{}", report::progress(finished, total));
        }
    }));
    if bar {
        eprintln!();
    }
    if let Some(mut w) = trajectories {
        let _ = w.flush();
    }
    match result {
        Ok(summary) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
            } else {
                print!("{}", summary.table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(settings)) => serve(settings),
        Some(Command::Eval(args)) => eval(args),
        Some(Command::Bench(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let report = runtime.block_on(mlops_debug_env::bench::run(&args));
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Some(Command::EchoServer(args)) => {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(mlops_debug_env::bench::echo_server(args));
            ExitCode::SUCCESS
        }
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
    }
}
