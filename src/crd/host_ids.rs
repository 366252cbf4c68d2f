//! `spec.hostIds` as the operator holds it: the ids one after the other in one string, with
//! where each ends, or, once the watch's status holds every one of its ids, pointers to those
//! (see [`HostIdList::share`]). The reflector store keeps every watch's spec: at 1,000 watches ×
//! 100 ids a `Vec<String>` was 100,000 small allocations (about 6 MiB with the allocator's
//! share); the text is two per watch, about 40 bytes per id, and the shared form one, 8 bytes per
//! id. On the wire and in the schema it is the plain list of strings it always was.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arcstr::ArcStr;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ordered list of host ids (duplicates and invalid ids are kept: validation reports them).
/// Two lists of the same ids are equal whatever their form.
#[derive(Clone)]
pub struct HostIdList(Ids);

#[derive(Clone)]
enum Ids {
    Text {
        text: Box<str>,
        /// `ends[i]`: the byte offset in `text` where id `i` ends.
        ends: Box<[u32]>,
    },
    /// Each id an allocation shared with what else holds it, and the list itself shared with
    /// the poller's registration of the watch.
    Shared(Arc<[ArcStr]>),
}

impl Default for HostIdList {
    fn default() -> Self {
        Self(Ids::Text {
            text: Box::default(),
            ends: Box::default(),
        })
    }
}

impl PartialEq for HostIdList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for HostIdList {}

impl HostIdList {
    pub fn len(&self) -> usize {
        match &self.0 {
            Ids::Text { ends, .. } => ends.len(),
            Ids::Shared(ids) => ids.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Id `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&str> {
        match &self.0 {
            Ids::Text { text, ends } => {
                let end = *ends.get(i)? as usize;
                let start = match i {
                    0 => 0,
                    _ => ends[i - 1] as usize,
                };
                text.get(start..end)
            }
            Ids::Shared(ids) => ids.get(i).map(|id| id.as_str()),
        }
    }

    /// Holds the ids as `known` gives them (an allocation shared with what holds them already,
    /// such as the watch's status), when it knows every one; else stays as it is.
    pub fn share(&mut self, known: impl Fn(&str) -> Option<ArcStr>) {
        if matches!(self.0, Ids::Shared(_)) {
            return;
        }
        let shared: Option<Arc<[ArcStr]>> = self.iter().map(known).collect();
        if let Some(shared) = shared {
            self.0 = Ids::Shared(shared);
        }
    }

    /// The ids as shared allocations, when they are held so ([`HostIdList::share`]).
    pub fn shared(&self) -> Option<&Arc<[ArcStr]>> {
        match &self.0 {
            Ids::Shared(ids) => Some(ids),
            Ids::Text { .. } => None,
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Appends `id` (rebuilds the list: for tests and tools, not hot paths).
    pub fn push(&mut self, id: impl AsRef<str>) {
        let bytes = self.iter().map(str::len).sum();
        let mut builder = Builder::with_capacity(self.len() + 1, bytes);
        self.iter().for_each(|known| builder.push(known));
        builder.push(id.as_ref());
        *self = builder.finish();
    }
}

/// Collects ids into a [`HostIdList`].
struct Builder {
    text: String,
    ends: Vec<u32>,
}

impl Builder {
    fn with_capacity(ids: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(ids),
        }
    }

    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        // A list beyond 4 GiB cannot reach the operator: the API server refuses objects over a
        // few MiB. Saturating keeps `get` in bounds regardless.
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    fn finish(self) -> HostIdList {
        HostIdList(Ids::Text {
            text: self.text.into_boxed_str(),
            ends: self.ends.into_boxed_slice(),
        })
    }
}

impl<S: AsRef<str>> FromIterator<S> for HostIdList {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let ids = ids.into_iter();
        let mut builder = Builder::with_capacity(ids.size_hint().0, 0);
        ids.for_each(|id| builder.push(id.as_ref()));
        builder.finish()
    }
}

impl From<Vec<String>> for HostIdList {
    fn from(ids: Vec<String>) -> Self {
        ids.iter().collect()
    }
}

impl From<Vec<&str>> for HostIdList {
    fn from(ids: Vec<&str>) -> Self {
        ids.into_iter().collect()
    }
}

impl<const N: usize> From<[&str; N]> for HostIdList {
    fn from(ids: [&str; N]) -> Self {
        ids.into_iter().collect()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for HostIdList {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for HostIdList {
    fn eq(&self, other: &Vec<S>) -> bool {
        self == other.as_slice()
    }
}

impl fmt::Debug for HostIdList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for HostIdList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for HostIdList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ids;
        impl<'de> Visitor<'de> for Ids {
            type Value = HostIdList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of host id strings")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HostIdList, A::Error> {
                // Bounded: a hostile size hint must not reserve gigabytes.
                let hint = seq.size_hint().unwrap_or(0).min(1024);
                let mut builder = Builder::with_capacity(hint, hint * 40);
                // Borrowed where the input allows (serde_json from a buffer), owned otherwise.
                while let Some(id) = seq.next_element::<Cow<'de, str>>()? {
                    builder.push(&id);
                }
                Ok(builder.finish())
            }
        }
        deserializer.deserialize_seq(Ids)
    }
}

impl JsonSchema for HostIdList {
    fn schema_name() -> Cow<'static, str> {
        <Vec<String>>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        <Vec<String>>::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Vec<String>>::json_schema(generator)
    }

    fn inline_schema() -> bool {
        <Vec<String>>::inline_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_ids_in_order_with_duplicates_and_empties() {
        let list: HostIdList = ["a", "", "bc", "a"].into();
        assert_eq!(list.len(), 4);
        assert_eq!(list.iter().collect::<Vec<_>>(), ["a", "", "bc", "a"]);
        assert_eq!(list.get(2), Some("bc"));
        assert_eq!(list.get(4), None);
        assert_eq!(list, vec!["a", "", "bc", "a"]);
        assert_eq!(format!("{list:?}"), r#"["a", "", "bc", "a"]"#);
        assert!(HostIdList::default().is_empty());
    }

    #[test]
    fn a_shared_list_is_the_same_list() {
        let text: HostIdList = ["a", "b", "a"].into();
        let mut shared = text.clone();
        shared.share(|id| (id != "c").then(|| ArcStr::from(id)));
        assert!(shared.shared().is_some());
        assert_eq!(shared, text);
        assert_eq!(shared.get(1), Some("b"));
        assert_eq!(shared.iter().collect::<Vec<_>>(), ["a", "b", "a"]);
        assert_eq!(
            serde_json::to_string(&shared).expect("json"),
            r#"["a","b","a"]"#
        );
        let mut partly = text.clone();
        partly.share(|id| (id == "a").then(|| ArcStr::from(id)));
        assert!(partly.shared().is_none(), "an id not known keeps the text");
        shared.push("c");
        assert_eq!(shared, vec!["a", "b", "a", "c"]);
    }

    #[test]
    fn push_appends() {
        let mut list: HostIdList = ["h1"].into();
        list.push("h2");
        assert_eq!(list, vec!["h1", "h2"]);
    }

    #[test]
    fn the_wire_form_is_a_plain_list_of_strings() {
        let json = r#"["i-1","ü-2","x\"y"]"#;
        let list: HostIdList = serde_json::from_str(json).expect("list");
        assert_eq!(list, vec!["i-1", "ü-2", "x\"y"]);
        assert_eq!(serde_json::to_string(&list).expect("json"), json);
        let owned: HostIdList =
            serde_json::from_value(serde_json::json!(["a", "b"])).expect("from a value");
        assert_eq!(owned, vec!["a", "b"]);
        assert!(serde_json::from_str::<HostIdList>(r#"["a", 1]"#).is_err());
        assert!(serde_json::from_str::<HostIdList>(r#""a""#).is_err());
    }

    #[test]
    fn the_schema_is_that_of_a_list_of_strings() {
        let ours = schemars::schema_for!(HostIdList);
        let plain = schemars::schema_for!(Vec<String>);
        assert_eq!(ours, plain);
    }
}
