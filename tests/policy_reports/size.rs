//! The biggest report a watch can have (1,000 hosts, every value at its length cap, every check
//! failing) through the real CRD schemas of both formats: accepted by server-side apply, read
//! back as written (nothing pruned), and under 1 MiB stored, managedFields included.

use hostrisk_operator::crd::schema::{HOST_ID_MAX_LEN, NODE_NAME_MAX_LEN, STATUS_VALUE_MAX_LEN};
use hostrisk_operator::crd::status::HostStatus;
use hostrisk_operator::reports::format::DEFAULT_MAX_RESULTS;
use hostrisk_operator::reports::{build_report, ReportFormat, ReportOptions, ReportScope};
use hostrisk_sim::kube::StandinApiServer;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};

use crate::reading::{as_written, reports};
use crate::support::crds;

fn worst_case_hosts() -> Vec<HostStatus> {
    let long = "x".repeat(STATUS_VALUE_MAX_LEN);
    (0..1000)
        .map(|i| HostStatus {
            host_id: format!("{i:0>width$}", width = HOST_ID_MAX_LEN),
            node_name: Some(format!("{i:0>width$}", width = NODE_NAME_MAX_LEN)),
            found: true,
            agent_status: Some("offline".into()),
            install_result_code: Some(long.clone().into()),
            version: Some(long.clone().into()),
            protect_status: Some("closed".into()),
            detect_result: Some("risk".into()),
            asset: Some(i64::MAX),
            vulnerability: Some(i64::MAX),
            baseline: Some(i64::MAX),
            intrusion: Some(i64::MAX),
            last_change_time: Some(Time(Timestamp::from_second(4_000_000_000).unwrap())),
        })
        .collect()
}

#[tokio::test]
async fn a_report_of_1000_failing_hosts_is_accepted_as_written_and_stays_under_one_mebibyte() {
    let server = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = server.client().await.unwrap();
    let name = "w".repeat(253);
    let scope = ReportScope {
        namespace: "default",
        name: &name,
        uid: "0b7c3a3e-5c7f-4f8e-9a51-0c1d2e3f4a5b",
    };
    for format in ReportFormat::ALL {
        server
            .install_policy_report_crds(crds(format))
            .await
            .unwrap();
        let built = build_report(&scope, worst_case_hosts(), &ReportOptions::new(format));
        assert_eq!(built.listed, DEFAULT_MAX_RESULTS as usize);
        let report_name = built.report.metadata.name.clone().unwrap();
        assert_eq!(report_name.len(), 253);
        let stored = reports(&client, format, "default")
            .patch(
                &report_name,
                &PatchParams::apply("hostrisk-operator").force(),
                &Patch::Apply(&built.report),
            )
            .await
            .unwrap_or_else(|e| panic!("{format}: the report is refused: {e}"));
        let meant = serde_json::to_value(&built.report).unwrap();
        assert_eq!(
            as_written(serde_json::to_value(&stored).unwrap()),
            meant,
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
    }
    server.shutdown().await;
}
