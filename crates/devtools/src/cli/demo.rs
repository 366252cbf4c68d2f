//! `hostrisk-dev demo`: the operator, an HSS simulator and a stand-in Kubernetes API server
//! in one process, with a live table of the watches. See `hostrisk_operator::demo`.

use std::io::IsTerminal;
use std::time::Duration;

use super::exit;
use crate::demo::{run_demo, DemoError, DemoOptions};
use hostrisk_operator::crd::duration::parse_duration;
use hostrisk_operator::telemetry::{init_logging, LogFormat};

/// Exit code when the demo could not run (the servers did not start, the controller died, ...).
const DEMO_FAILED: u8 = 1;

/// The operator's logs without `--verbose`: warnings, except the reconciler's per-poll
/// warnings (credentials problem, HSS poll failed), which the table's Ready detail and the Events
/// already show, and which the demo's deliberately broken Secret would otherwise repeat between
/// the table's rows.
const QUIET_LOG_FILTER: &str = "warn,hostrisk_operator::controller::reconcile=error";

/// Shortest run the script can fit its six transitions into.
const MIN_DURATION: Duration = Duration::from_secs(10);

/// Run the operator against an in-process HSS simulator and Kubernetes API stand-in, showing
/// `kubectl get hrw -w` style output while hosts change, then exit.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How long the demo runs, e.g. 45s, 2m (at least 10s).
    #[arg(long, default_value = "45s", value_parser = parse_demo_duration)]
    pub duration: Duration,
    /// Plain output without colours (also chosen when stdout is not a terminal or NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    /// Show the operator's own logs (info level) on stderr; by default only warnings are logged
    /// (and not the per-poll ones the table shows anyway), so the table stays readable.
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_demo_duration(value: &str) -> Result<Duration, String> {
    let duration = parse_duration("--duration", value).map_err(|e| e.to_string())?;
    if duration < MIN_DURATION {
        return Err(format!(
            "--duration must be at least {}s",
            MIN_DURATION.as_secs()
        ));
    }
    Ok(duration)
}

/// Whether to colour the output.
fn use_color(args: &DemoArgs) -> bool {
    !args.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

/// Runs the demo to completion on stdout; returns the process exit code.
pub async fn run(args: DemoArgs) -> u8 {
    let level = if args.verbose {
        "info"
    } else {
        QUIET_LOG_FILTER
    };
    if let Err(message) = init_logging(level, LogFormat::Text) {
        eprintln!("error: {message}");
        return exit::USAGE;
    }
    let options = DemoOptions {
        duration: args.duration,
        color: use_color(&args),
    };
    match run_demo(options, Box::new(std::io::stdout())).await {
        Ok(_) => exit::OK,
        // `demo | head`: the reader had enough, like any Unix filter's reader.
        Err(DemoError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(error) => {
            eprintln!("error: {error}");
            DEMO_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_flag_parses_and_has_a_floor() {
        assert_eq!(parse_demo_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_demo_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_demo_duration("5s").is_err());
        assert!(parse_demo_duration("soon").is_err());
    }
}
