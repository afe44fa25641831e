use boothgate::config::{Cli, Command, Config};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    return_large_buffers_to_the_system();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    runtime.block_on(start())
}

/// glibc serves a buffer above its mmap threshold straight from the system and gives it back
/// when freed, but raises that threshold to the largest such buffer freed so far (up to
/// 32 MB). After the first photo, decoded images would come from per-thread arenas that keep
/// what they took, and a burst would leave the server hundreds of MB larger. A fixed threshold
/// (which also stops the raising) and a low trim threshold keep memory flat (BENCHMARKS.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    // SAFETY: mallopt only sets allocator parameters, and runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}

async fn start() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("boothgate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: boothgate::config::ServeArgs) -> Result<(), String> {
    let config = Config::from_process(&args)?;
    let admin_user = config.admin_user.clone();
    let app = boothgate::build_app(config)
        .await
        .map_err(|e| e.to_string())?;
    show_generated(&app.generated, &admin_user);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(address = %args.listen, demo = app.state.demo, "Boothgate is listening");
    boothgate::serve(listener, app, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// The first start's passwords, in a box on stderr beside the logs, so that whoever keeps the
/// logs keeps them; shown once, as the admin password is only kept hashed.
fn show_generated(generated: &[(&'static str, String)], admin_user: &str) {
    if generated.is_empty() {
        return;
    }
    let rule = "=".repeat(72);
    let mut lines: Vec<String> = generated
        .iter()
        .map(|(what, secret)| format!("First start: generated {what}: {secret}"))
        .collect();
    if generated.iter().any(|(what, _)| what.starts_with("admin")) {
        lines.push(format!("Sign in to the admin as '{admin_user}'."));
    }
    lines.push("They are shown only this once: write them down.".into());
    eprintln!("{rule}");
    for line in lines {
        eprintln!("  {line}");
    }
    eprintln!("{rule}");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the uploads in flight");
}
