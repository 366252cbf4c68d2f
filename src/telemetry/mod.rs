//! Logging set-up shared by every subcommand of both binaries: one `--log-level` /
//! `--log-format` pair ([`LogArgs`]), logs on stderr (stdout stays for output) or in a file.
//!
//! Text logs are coloured only when they go to a terminal and `NO_COLOR` is unset, so
//! `kubectl logs` and log collectors never see escape codes. JSON logs are one object a line with
//! unique keys ([`json`]): pipelines that keep one of two equal keys would lose data.

pub mod json;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line a record for people; coloured only on a terminal without `NO_COLOR`.
    #[default]
    Text,
    /// One JSON object a line, with unique keys, for log collectors.
    Json,
}

/// The log flags of every subcommand (same names, defaults and environment variables).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct LogArgs {
    /// Log filter (tracing EnvFilter syntax, e.g. `info`, `warn` or
    /// `info,hostrisk_operator=debug`). Credentials, tokens and signatures are never logged.
    #[arg(long, env = "HOSTRISK_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format: text, coloured only when written to a terminal and NO_COLOR is unset; or
    /// json, one object a line.
    #[arg(long, env = "HOSTRISK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Default for LogArgs {
    fn default() -> Self {
        Self {
            log_level: "info".to_string(),
            log_format: LogFormat::Text,
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid --log-level {level:?}: {reason}: write a level such as info or warn, or a tracing filter such as info,hostrisk_operator=debug")]
    Level { level: String, reason: String },
    #[error("cannot open the log file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// Whether text logs to a stream get ANSI colours: only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
pub fn use_colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Installs the global subscriber, writing to stderr. Calling it twice keeps the first
/// subscriber (tests install one per process at most).
pub fn init_logging(args: &LogArgs) -> Result<(), LogError> {
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    install(args, std::io::stderr, colour)
}

/// Installs the global subscriber, appending to the file at `path` (created if missing), never
/// coloured. The demo sends the operator's logs there so they cannot break its live table.
pub fn init_logging_to_file(args: &LogArgs, path: &Path) -> Result<(), LogError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::File {
            path: path.display().to_string(),
            source,
        })?;
    install(args, Mutex::new(file), false)
}

fn install<W>(args: &LogArgs, writer: W, colour: bool) -> Result<(), LogError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&args.log_level).map_err(|e| LogError::Level {
        level: args.log_level.clone(),
        reason: e.to_string(),
    })?;
    let installed = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(colour)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(json::UniqueKeysJson)
            .try_init(),
    };
    // Already installed (tests, or a second call): not an error worth stopping for.
    drop(installed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "empty NO_COLOR is unset"
        );
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(
            !use_colour(false, None),
            "a pipe or a file gets no escape codes"
        );
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }

    #[test]
    fn a_bad_level_is_refused_naming_the_flag() {
        let args = LogArgs {
            log_level: "info,=[".to_string(),
            ..LogArgs::default()
        };
        let error = install(&args, std::io::sink, false).expect_err("bad filter");
        assert!(
            error.to_string().starts_with("invalid --log-level"),
            "{error}"
        );
    }
}
