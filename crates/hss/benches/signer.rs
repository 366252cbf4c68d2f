//! Signer throughput on a realistic request: 100 host ids, enterprise project, temporary keys.
//! Run with `cargo bench --bench signer`; prints `signatures/s: N`.

use std::time::{Duration, Instant};

use hostrisk_hss::transport::{prepare_hosts_risk_request, RequestAuth};
use hostrisk_hss::{Scope, Secret};

fn main() {
    let scope = match Scope::for_region(
        "ap-southeast-1",
        "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        Some("all_granted_eps".to_string()),
    ) {
        Ok(scope) => scope,
        Err(e) => panic!("scope: {e}"),
    };
    let ids: Vec<String> = (0..100)
        .map(|i| format!("{i:08x}-4f5a-4b6c-8d7e-9f0a1b2c3d4e"))
        .collect();
    let secret_key = Secret::new("ExampleSecretKey0123456789abcdefghijklmn");
    let security_token = Secret::new("EXAMPLE-SECURITY-TOKEN-gQpjbi1ub3J0aC00");
    let auth = RequestAuth::Sign {
        access_key: "HPUAEXAMPLEAK0000001",
        secret_key: &secret_key,
        security_token: Some(&security_token),
    };
    let now = jiff::Timestamp::now();
    let run = |n: u64| {
        let mut bytes = 0usize;
        for _ in 0..n {
            let prepared = prepare_hosts_risk_request(&scope, &ids, &auth, "bench/1", now);
            bytes += std::hint::black_box(prepared).url.len();
        }
        bytes
    };
    run(200); // warm-up
    let mut iterations = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        std::hint::black_box(run(100));
        iterations += 100;
    }
    let rate = iterations as f64 / start.elapsed().as_secs_f64();
    println!(
        "request: 100 host ids, enterprise project, security token (URL + headers + signature)"
    );
    println!("signatures/s: {rate:.0}");
}
