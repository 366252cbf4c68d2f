//! The biggest report a watch can have (1,000 hosts, every value at its length cap, every check
//! failing) through the real CRD schemas of both formats: accepted by server-side apply, read
//! back as written (nothing pruned), and under 1 MiB stored, managedFields included; at the
//! `--policy-reports-max-results` limit with every status listed, under etcd's 1.5 MiB.

use hostrisk_operator::reports::format::{DEFAULT_MAX_RESULTS, MAX_RESULTS_LIMIT};
use hostrisk_operator::reports::{ReportFormat, ReportOptions};
use hostrisk_sim::kube::StandinApiServer;

use crate::reading::{apply_biggest, as_written};
use crate::support::crds;

#[tokio::test]
async fn a_report_of_1000_failing_hosts_is_accepted_as_written_and_stays_under_one_mebibyte() {
    let server = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = server.client().await.unwrap();
    for format in ReportFormat::ALL {
        server
            .install_policy_report_crds(crds(format))
            .await
            .unwrap();
        let (built, stored) = apply_biggest(&client, &ReportOptions::new(format), "default").await;
        assert_eq!(built.listed, DEFAULT_MAX_RESULTS as usize);
        let report_name = built.report.metadata.name.clone().unwrap();
        assert_eq!(report_name.len(), 253);
        assert_eq!(
            as_written(stored),
            serde_json::to_value(&built.report).unwrap(),
            "{format}: read back as written"
        );
        let object = server
            .object(format.group(), format.plural(), "default", &report_name)
            .unwrap();
        let bytes = serde_json::to_vec(&object).unwrap().len();
        let managed = serde_json::to_vec(&object["metadata"]["managedFields"])
            .unwrap()
            .len();
        eprintln!(
            "{format}: 1,000 failing hosts, {} of 4,000 results listed: {bytes} bytes stored \
             ({managed} of them managedFields)",
            built.listed
        );
        assert!(bytes < 1 << 20, "{format}: {bytes} bytes");

        // At the flag's limit, every status listed: under etcd's 1.5 MiB request limit.
        let at_limit = ReportOptions {
            max_results: MAX_RESULTS_LIMIT,
            include_passing: true,
            ..ReportOptions::new(format)
        };
        let (built, stored) = apply_biggest(&client, &at_limit, "default").await;
        assert_eq!(built.listed, MAX_RESULTS_LIMIT as usize);
        let bytes = serde_json::to_vec(&stored).unwrap().len();
        eprintln!("{format}: at maxResults {MAX_RESULTS_LIMIT}: {bytes} bytes stored");
        assert!(bytes < 3 << 19, "{format}: {bytes} bytes");
    }
    server.shutdown().await;
}
