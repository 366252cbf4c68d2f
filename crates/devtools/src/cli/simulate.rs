//! `hostrisk-dev simulate`: runs the HSS simulator until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use hostrisk_operator::crd::duration::parse_duration_flag;
use hostrisk_operator::telemetry::{init_logging, LogArgs};

use hostrisk_sim::hss::{
    Faults, FleetSpec, HssSimulator, SimConfig, SimError, DEMO_ACCESS_KEY, DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_SECRET_KEY, DEMO_STATIC_TOKEN,
};

use super::exit;

/// Flags of `simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub listen: SocketAddr,
    /// Number of generated hosts (the five demo hosts come on top).
    #[arg(long, default_value_t = 50)]
    pub hosts: usize,
    /// Seed of the generated fleet: same seed, same hosts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Project the fleet lives in.
    #[arg(long, default_value = hostrisk_sim::hss::DEMO_PROJECT_ID)]
    pub project_id: String,
    /// HSS calls accepted per credential per sliding minute (more answer 429 APIGW.0308);
    /// 0 = unlimited. The same flag as the operator's, which paces itself to it.
    #[arg(long, env = "HOSTRISK_HSS_CALLS_PER_MINUTE", default_value_t = hostrisk_sim::hss::DEFAULT_QUOTA_PER_MINUTE)]
    pub hss_calls_per_minute: u32,
    /// Send `Retry-After: N` with every 429 (off by default: undocumented for the real gateway).
    #[arg(long)]
    pub retry_after_seconds: Option<u64>,
    /// Milliseconds added to every HSS and IAM answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share (0.0-1.0) of HSS calls answered 500/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share (0.0-1.0) of successful HSS answers with a non-JSON body.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Share (0.0-1.0) of successful HSS answers cut off half-way.
    #[arg(long, default_value_t = 0.0)]
    pub truncated_rate: f64,
    /// Lifetime of IAM tokens, e.g. 24h, 90s, 1h30m.
    #[arg(long, default_value = "24h", value_parser = parse_duration_flag)]
    pub token_ttl: Duration,
    /// Print every host id with its enterprise project and agent status.
    #[arg(long)]
    pub print_hosts: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

impl SimulateArgs {
    pub fn to_config(&self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            project_id: self.project_id.clone(),
            fleet: FleetSpec {
                hosts: self.hosts,
                seed: self.seed,
            },
            token_ttl: self.token_ttl,
            faults: Faults {
                quota_per_minute: self.hss_calls_per_minute,
                retry_after_seconds: self.retry_after_seconds,
                latency_ms: self.latency_ms,
                error_rate: self.error_rate,
                malformed_rate: self.malformed_rate,
                truncated_rate: self.truncated_rate,
                clock_offset_seconds: 0,
            },
            ..SimConfig::default()
        }
    }
}

/// Exit code when the simulator could not start.
const SIMULATOR_FAILED: u8 = 1;

/// Runs the simulator until Ctrl-C; returns the process exit code.
pub async fn run(args: SimulateArgs) -> u8 {
    if let Err(error) = init_logging(&args.log) {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    match serve(args).await {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("error: {error}");
            SIMULATOR_FAILED
        }
    }
}

/// Starts the simulator, prints how to use it, and serves until Ctrl-C.
async fn serve(args: SimulateArgs) -> Result<(), SimError> {
    let sim = HssSimulator::start(args.to_config()).await?;
    let base = sim.base_url();
    let base = base.as_str().trim_end_matches('/');
    let hosts = sim.hosts();
    // These credentials are the simulator's fixed fake ones; printing them is the point.
    println!("HSS simulator listening on {base} ({} hosts)", hosts.len());
    println!(
        "  ListHostsRisk: GET {base}/v5/{}/host-management/hosts-risk",
        sim.project_id()
    );
    println!("  IAM tokens:    POST {base}/v3/auth/tokens");
    println!("  Admin:         {base}/_sim/hosts, /_sim/counters, /_sim/faults");
    println!();
    println!("# AK/SK (paste, then run `hostrisk-operator query`):");
    println!("export HUAWEICLOUD_SDK_AK={DEMO_ACCESS_KEY}");
    println!("export HUAWEICLOUD_SDK_SK={DEMO_SECRET_KEY}");
    println!("export HUAWEICLOUD_SDK_PROJECT_ID={}", sim.project_id());
    println!("# or a static token:   export HOSTRISK_AUTH_TOKEN={DEMO_STATIC_TOKEN}");
    println!(
        "# or IAM (--iam-endpoint {base}): export HOSTRISK_IAM_USERNAME={DEMO_IAM_USER} \
         HOSTRISK_IAM_PASSWORD={DEMO_IAM_PASSWORD} HOSTRISK_IAM_DOMAIN={DEMO_IAM_DOMAIN}"
    );
    let sample: Vec<&str> = hosts.iter().take(3).map(|h| h.host_id()).collect();
    println!(
        "hostrisk-operator query --endpoint {base} --host-id {}",
        sample.join(" --host-id ")
    );
    if args.print_hosts {
        println!();
        for host in &hosts {
            let agent = host
                .risk
                .agent_status
                .as_ref()
                .map(|a| a.as_str())
                .unwrap_or("-");
            println!(
                "{}  ep={}  {agent}",
                host.host_id(),
                host.enterprise_project_id
            );
        }
    }
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::warn!(%error, "cannot wait for Ctrl-C; stopping");
    }
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn config(argv: &[&str]) -> SimConfig {
        let mut full = vec!["simulate"];
        full.extend_from_slice(argv);
        Wrapper::try_parse_from(full)
            .expect("parses")
            .args
            .to_config()
    }

    #[test]
    fn defaults_are_the_demo_setup_on_port_18080() {
        let config = config(&[]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:18080");
        assert_eq!(config.fleet, FleetSpec { hosts: 50, seed: 1 });
        assert_eq!(config.faults, Faults::default());
        assert_eq!(config.token_ttl, Duration::from_secs(86400));
        assert_eq!(config.access_keys, SimConfig::default().access_keys);
    }

    #[test]
    fn flags_reach_the_config() {
        let config = config(&[
            "--listen=127.0.0.1:0",
            "--hosts=7",
            "--seed=9",
            "--project-id=p1",
            "--hss-calls-per-minute=0",
            "--retry-after-seconds=3",
            "--latency-ms=20",
            "--error-rate=0.5",
            "--malformed-rate=0.1",
            "--truncated-rate=0.2",
            "--token-ttl=90s",
        ]);
        assert_eq!(config.fleet, FleetSpec { hosts: 7, seed: 9 });
        assert_eq!(config.project_id, "p1");
        let expected = Faults {
            quota_per_minute: 0,
            retry_after_seconds: Some(3),
            latency_ms: 20,
            error_rate: 0.5,
            malformed_rate: 0.1,
            truncated_rate: 0.2,
            clock_offset_seconds: 0,
        };
        assert_eq!(config.faults, expected);
        assert_eq!(config.token_ttl, Duration::from_secs(90));
    }

    #[test]
    fn token_ttl_uses_the_operator_duration_grammar() {
        let ttl = |value: &str| {
            Wrapper::try_parse_from(["simulate", "--token-ttl", value]).map(|w| w.args.token_ttl)
        };
        assert_eq!(ttl("1h30m").ok(), Some(Duration::from_secs(5400)));
        assert_eq!(ttl("90s").ok(), Some(Duration::from_secs(90)));
        for refused in ["500ms", "1d", "10", "30m1h"] {
            assert!(ttl(refused).is_err(), "{refused}");
        }
    }
}
