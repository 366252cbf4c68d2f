//! The primary watch's objects, decoded slim: one copy of each status in memory, not two.
//!
//! Every status is computed from the previous one, which the watch table keeps (as the watch
//! delivered it, or as this process wrote it: see `WatchTable::observe_decoded`); nothing reads
//! a status from the reflector store. A second copy there would double the operator's memory at
//! scale, and a real API server adds `managedFields`, which for a list-map of 100 hosts is
//! larger than the status itself. So a [`WatchDocument`] is decoded straight from the response
//! into what is kept: the object without `status.hosts`, `managedFields` or the
//! `last-applied-configuration` annotation, and the hosts as compact records for the table; the
//! rest of the status goes to the table too, and the store keeps the object without status
//! ([`store_event`]). The skipped parts are never built: serde walks over them without
//! allocating, and the hosts' strings are read in place from the response. So a list page of
//! hundreds of objects costs its response text and the slim objects, not the full objects next
//! to it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::watcher;
use kube::Resource;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::crd::{HostRiskWatch, HostRiskWatchSpec, HostRiskWatchStatus};
use crate::status::record::HostEntry;
use crate::status::{HostId, HostRecord, WatchStatus};

/// The annotation `kubectl apply` keeps a copy of the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A `HostRiskWatch` as the primary watch decodes it: the object as the store keeps it, and the
/// hosts of its status as records.
#[derive(Clone, Debug)]
pub struct WatchDocument {
    /// Without `status.hosts`, `managedFields` and the last-applied annotation.
    pub watch: HostRiskWatch,
    /// `status.hosts`, in order (empty without status).
    pub hosts: Vec<HostRecord>,
}

impl Resource for WatchDocument {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        HostRiskWatch::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        HostRiskWatch::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        HostRiskWatch::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        HostRiskWatch::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.watch.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.watch.metadata
    }
}

/// The event with its object for the store, after `seen` was handed each delivered object
/// with its hosts (an event or an item of a list; not a deletion). `seen` returns the status
/// the watch table keeps for the object: the stored object goes without status, and its spec's
/// host ids become those of that status where it holds every one
/// ([`crate::crd::HostIdList::share`]), one allocation per id for the spec, the status, the
/// targets and the poller's table rather than a copy each.
pub fn store_event(
    event: watcher::Event<WatchDocument>,
    mut seen: impl FnMut(&HostRiskWatch, Vec<HostRecord>) -> Option<Arc<WatchStatus>>,
) -> watcher::Event<HostRiskWatch> {
    let mut stored = |doc: WatchDocument| {
        let mut watch = doc.watch;
        if let Some(kept) = seen(&watch, doc.hosts) {
            let ids = kept.ids();
            watch
                .spec
                .host_ids
                .share(|id| ids.get(id).map(|shared| HostId::clone(shared)));
        }
        watch.status = None;
        watch
    };
    match event {
        watcher::Event::Apply(doc) => watcher::Event::Apply(stored(doc)),
        watcher::Event::InitApply(doc) => watcher::Event::InitApply(stored(doc)),
        watcher::Event::Delete(doc) => watcher::Event::Delete(doc.watch),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

fn json_error<E: de::Error>(error: serde_json::Error) -> E {
    E::custom(error)
}

impl<'de> Deserialize<'de> for WatchDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = WatchDocument;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HostRiskWatch")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WatchDocument, A::Error> {
        let mut metadata = None;
        let mut spec: Option<HostRiskWatchSpec> = None;
        let mut status: Option<SlimStatus> = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "metadata" => metadata = Some(map.next_value::<SlimMeta>()?.0),
                "spec" => spec = Some(map.next_value()?),
                "status" => status = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let spec = spec.ok_or_else(|| de::Error::missing_field("spec"))?;
        let mut watch = HostRiskWatch::new("", spec);
        watch.metadata = metadata.unwrap_or_default();
        let hosts = match status {
            Some(SlimStatus { head, hosts }) => {
                watch.status = Some(head);
                hosts
            }
            None => Vec::new(),
        };
        Ok(WatchDocument { watch, hosts })
    }
}

/// `metadata` without `managedFields` and the last-applied annotation.
struct SlimMeta(ObjectMeta);

impl<'de> Deserialize<'de> for SlimMeta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = SlimMeta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("object metadata")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SlimMeta, A::Error> {
                let mut rest = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "managedFields" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        "annotations" => {
                            let kept = map.next_value::<Annotations>()?.0;
                            rest.insert(key, serde_json::to_value(kept).map_err(json_error)?);
                        }
                        _ => {
                            rest.insert(key, map.next_value()?);
                        }
                    }
                }
                ObjectMeta::deserialize(Value::Object(rest))
                    .map(SlimMeta)
                    .map_err(json_error)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// Annotations without [`LAST_APPLIED`] (a copy of the whole object nothing here reads).
struct Annotations(Option<BTreeMap<String, String>>);

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Annotations;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("annotations")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Annotations, E> {
                Ok(Annotations(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Annotations, E> {
                Ok(Annotations(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
                let mut kept = BTreeMap::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == LAST_APPLIED {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        kept.insert(key.into_owned(), map.next_value()?);
                    }
                }
                Ok(Annotations(Some(kept)))
            }
        }
        deserializer.deserialize_option(OptionVisit(Visit))
    }
}

/// Lets a visitor of maps take `null` (an absent value) too.
struct OptionVisit<V>(V);

impl<'de, V: Visitor<'de, Value = Annotations>> Visitor<'de> for OptionVisit<V> {
    type Value = Annotations;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_none<E: de::Error>(self) -> Result<Annotations, E> {
        Ok(Annotations(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Annotations, E> {
        Ok(Annotations(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Annotations, D::Error> {
        deserializer.deserialize_map(self.0)
    }
}

/// `status`: everything but the hosts as the CRD type has it, the hosts as records.
struct SlimStatus {
    head: HostRiskWatchStatus,
    hosts: Vec<HostRecord>,
}

impl<'de> Deserialize<'de> for SlimStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = SlimStatus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a HostRiskWatch status")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SlimStatus, A::Error> {
                let mut rest = Map::new();
                let mut hosts = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "hosts" {
                        hosts = map.next_value::<Hosts>()?.0;
                    } else {
                        rest.insert(key, map.next_value()?);
                    }
                }
                let head =
                    HostRiskWatchStatus::deserialize(Value::Object(rest)).map_err(json_error)?;
                Ok(SlimStatus { head, hosts })
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// `status.hosts` decoded entry by entry into records.
struct Hosts(Vec<HostRecord>);

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Hosts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of hosts")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Hosts, E> {
                Ok(Hosts(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hosts, A::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1000));
                while let Some(entry) = seq.next_element::<HostEntry<'de>>()? {
                    records.push(HostRecord::from_entry(&entry));
                }
                records.shrink_to_fit();
                Ok(Hosts(records))
            }
        }
        deserializer.deserialize_seq(Visit)
    }
}

#[cfg(test)]
#[path = "slim_tests.rs"]
mod tests;
