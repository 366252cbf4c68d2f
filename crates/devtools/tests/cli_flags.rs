//! Every subcommand of `hostrisk-dev` has the operator's log flags (same names, defaults and
//! variables) and, where it has a quota flag, the operator's name for it.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-dev");

#[test]
fn every_subcommand_has_the_operators_log_and_quota_flags() {
    for subcommand in ["demo", "bench", "simulate", "query"] {
        let output = Command::new(BIN)
            .args([subcommand, "--help"])
            .env_clear()
            .output()
            .expect("hostrisk-dev runs");
        assert!(output.status.success(), "{subcommand} --help");
        let help = String::from_utf8_lossy(&output.stdout);
        for needle in [
            "--log-level <LOG_LEVEL>",
            "[env: HOSTRISK_LOG_LEVEL=]",
            "[default: info]",
            "--log-format <LOG_FORMAT>",
            "[env: HOSTRISK_LOG_FORMAT=]",
            "[default: text]",
        ] {
            assert!(
                help.contains(needle),
                "{subcommand}: no {needle:?} in\n{help}"
            );
        }
        assert!(
            !help.contains("--calls-per-minute") && !help.contains("--quota-per-minute"),
            "{subcommand}: another name for the quota\n{help}"
        );
        assert!(
            !help.contains("--verbose"),
            "{subcommand}: a second log switch"
        );
        if help.contains("per-minute") {
            assert!(
                help.contains("--hss-calls-per-minute <HSS_CALLS_PER_MINUTE>")
                    && help.contains("[env: HOSTRISK_HSS_CALLS_PER_MINUTE="),
                "{subcommand}\n{help}"
            );
        }
    }
}
