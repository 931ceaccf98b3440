//! `sbcd run` and `sbcd check-config`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use sbc_config::Config;

fn usage() -> ExitCode {
    let _ = writeln!(
        std::io::stderr(),
        "usage: sbcd run [--config PATH] [--log-json] | sbcd check-config PATH"
    );
    ExitCode::from(64)
}

pub fn check_config(args: &[String]) -> ExitCode {
    let [path] = args else { return usage() };
    match Config::load(&PathBuf::from(path)) {
        Ok(c) => {
            let _ = writeln!(
                std::io::stdout(),
                "{path}: ok ({} listeners)",
                c.listeners.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::from(1)
        }
    }
}

pub fn run(args: &[String]) -> ExitCode {
    let mut config = None;
    let mut json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => match it.next() {
                Some(p) => config = Some(PathBuf::from(p)),
                None => return usage(),
            },
            "--log-json" => json = true,
            _ => return usage(),
        }
    }
    let cfg = match &config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "sbcd: {e}");
                return ExitCode::from(1);
            }
        },
        None => Config::embedded_default(),
    };
    init_logging(json);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "sbcd: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(serve(cfg, config))
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SBCD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

async fn serve(cfg: Config, source: Option<PathBuf>) -> ExitCode {
    let drain_deadline = std::time::Duration::from_secs(cfg.calls.drain_timeout_s);
    let handle = match sbc_server::start_with(cfg, source).await {
        Ok(h) => h,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "sbcd: {e}");
            return ExitCode::from(1);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        for (name, t, addr) in handle.listeners() {
            let _ = writeln!(out, "listening {name} {t:?} {addr}");
        }
        if let Some(a) = handle.admin_addr() {
            let _ = writeln!(out, "admin {a}");
        }
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    let _ = sbc_server::notify::ready();
    tracing::info!("sbcd ready");
    wait_for_stop(&handle).await;
    // Drain (architecture principle 14): new calls get 503 + Retry-After, calls in progress
    // finish up to the deadline, CDRs are flushed, exit 0.
    let _ = sbc_server::notify::stopping();
    tracing::info!(calls = handle.active_calls(), "draining");
    let left = handle.drain(drain_deadline).await;
    if left > 0 {
        tracing::warn!(calls = left, "drain deadline reached with calls still up");
    }
    match handle.shutdown().await {
        Ok(()) => {
            tracing::info!("sbcd stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "flushing CDRs failed");
            ExitCode::from(1)
        }
    }
}

/// Waits for SIGTERM/SIGINT; SIGHUP reloads the configuration meanwhile (systemd
/// `ExecReload=kill -HUP $MAINPID`, with RELOADING=1 / READY=1 around it).
#[cfg(unix)]
async fn wait_for_stop(handle: &sbc_server::ServerHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    let hup = signal(SignalKind::hangup());
    match (term, int, hup) {
        (Ok(mut t), Ok(mut i), Ok(mut h)) => loop {
            tokio::select! {
                _ = t.recv() => return,
                _ = i.recv() => return,
                _ = h.recv() => {
                    let _ = sbc_server::notify::reloading();
                    match handle.reload_from_source().await {
                        Ok(msg) => tracing::info!(%msg, "configuration reloaded"),
                        Err(e) => tracing::error!(error = %e, "configuration reload refused; the running one stays"),
                    }
                    let _ = sbc_server::notify::ready();
                }
            }
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_handle: &sbc_server::ServerHandle) {
    let _ = tokio::signal::ctrl_c().await;
}
