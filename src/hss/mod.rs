//! Huawei Cloud HSS client (ListHostsRisk), independent of Kubernetes.
