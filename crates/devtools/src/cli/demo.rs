//! `hostrisk-dev demo`: the operator, an HSS simulator and a stand-in Kubernetes API server
//! in one process, with a live table of the watches. See `hostrisk_devtools::demo`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::exit;
use crate::demo::{run_demo, DemoError, DemoOptions};
use hostrisk_operator::crd::duration::parse_duration;
use hostrisk_operator::telemetry::{init_logging_to_file, use_colour, LogArgs};

/// Exit code when the demo could not run (the servers did not start, the controller died, ...).
const DEMO_FAILED: u8 = 1;

/// Shortest run the script can fit its six transitions into.
const MIN_DURATION: Duration = Duration::from_secs(10);

/// Width assumed when neither `--width`, `COLUMNS` nor a terminal tells (output to a file or a
/// pipe is not wrapped by anything, so the wide layout reads best there).
const UNKNOWN_WIDTH: usize = 120;

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
    /// Columns to lay the output out for (default: COLUMNS, else the terminal's width); under
    /// 100 a compact table is printed.
    #[arg(long, value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
    /// The operator's logs never go between the table's lines: they are written to a file in
    /// this directory (default: a new one under the system's temporary directory), whose path
    /// is printed, as is the kubeconfig of the API stand-in.
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
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

/// The width to lay out for: the flag, else `COLUMNS`, else the terminal of stdout.
fn output_width(flag: Option<u16>, columns: Option<&str>) -> usize {
    flag.map(usize::from)
        .or_else(|| {
            columns
                .and_then(|c| c.trim().parse().ok())
                .filter(|c| *c > 0)
        })
        .or_else(terminal_width)
        .unwrap_or(UNKNOWN_WIDTH)
}

fn terminal_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&stdout)
        .ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|cols| *cols > 0)
}

/// Runs the demo to completion on stdout; returns the process exit code.
pub async fn run(args: DemoArgs) -> u8 {
    let files_dir = args.files_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("hostrisk-demo-{}", std::process::id()))
    });
    if let Err(error) = std::fs::create_dir_all(&files_dir) {
        eprintln!("error: cannot create {}: {error}", files_dir.display());
        return exit::USAGE;
    }
    let log_file = files_dir.join("operator.log");
    if let Err(error) = init_logging_to_file(&args.log, &log_file) {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    let options = DemoOptions {
        duration: args.duration,
        color: !args.no_color
            && use_colour(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ),
        width: output_width(args.width, std::env::var("COLUMNS").ok().as_deref()),
        files_dir,
        log_file: Some(log_file),
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

    #[test]
    fn width_comes_from_the_flag_then_columns() {
        assert_eq!(output_width(Some(80), Some("200")), 80);
        assert_eq!(output_width(None, Some("90")), 90);
        // Tests run without a terminal on stdout.
        if !std::io::stdout().is_terminal() {
            assert_eq!(output_width(None, None), UNKNOWN_WIDTH);
            assert_eq!(output_width(None, Some("wide")), UNKNOWN_WIDTH);
        }
    }
}
