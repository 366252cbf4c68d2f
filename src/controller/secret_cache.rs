//! What reads of credentials Secrets found, kept per Secret with the watches that read it, so a
//! Secret is read once per `resourceVersion` and a change reaches exactly the watches it
//! concerns. Plain data: the watch table holds it under its lock and feeds it the watches it
//! owns (a watch that is gone never adds a reader).

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::ByteString;

use crate::crd::WatchKey;

/// A Secret, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKey {
    pub namespace: String,
    pub name: String,
}

/// What a GET of a Secret found: its `resourceVersion` and the credential keys of its data
/// (`version: None`: there was no such Secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRead {
    pub version: Option<String>,
    pub data: BTreeMap<String, ByteString>,
}

/// Where a read of a Secret started, so that a change reported while it ran is not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTicket(u64);

#[derive(Debug, Default)]
struct SecretEntry {
    read: Option<SecretRead>,
    /// The Secret watch reported another version (or the deletion) since the read, or a
    /// re-list could not confirm it: the next use reads it again.
    outdated: bool,
    /// Reports of the Secret watch so far; a read started before a report may have missed it.
    reports: u64,
}

#[derive(Debug, Default)]
pub(crate) struct SecretCache {
    secrets: HashMap<SecretKey, SecretEntry>,
    /// The Secret each watch reads its credentials from.
    read_by: HashMap<WatchKey, SecretKey>,
}

impl SecretCache {
    /// Notes that `watch` reads `secret`; returns what the last read found unless the Secret
    /// changed since, else the ticket to store a new read with.
    pub fn cached(
        &mut self,
        watch: &WatchKey,
        secret: &SecretKey,
    ) -> Result<SecretRead, ReadTicket> {
        if self.read_by.get(watch) != Some(secret) {
            if let Some(old) = self.read_by.insert(watch.clone(), secret.clone()) {
                self.drop_unread(&old);
            }
        }
        let cached = self.secrets.entry(secret.clone()).or_default();
        match &cached.read {
            Some(read) if !cached.outdated => Ok(read.clone()),
            _ => Err(ReadTicket(cached.reports)),
        }
    }

    /// Records what a read found (when a watch still reads the Secret); outdated at once when
    /// the Secret watch reported something while the read ran.
    pub fn store(&mut self, secret: SecretKey, read: SecretRead, ticket: ReadTicket) {
        if let Some(entry) = self.secrets.get_mut(&secret) {
            entry.outdated = entry.reports != ticket.0;
            entry.read = Some(read);
        }
    }

    /// The Secret watch saw `secret` at `version` (`None`: deleted). Returns the watches that
    /// read it at another version.
    pub fn seen(&mut self, secret: &SecretKey, version: Option<&str>) -> Vec<WatchKey> {
        let Some(entry) = self.secrets.get_mut(secret) else {
            return Vec::new();
        };
        entry.reports += 1;
        let (changed, reading) = match &entry.read {
            Some(read) => (read.version.as_deref() != version, false),
            // A first read is in flight: it may have missed this.
            None => (true, true),
        };
        let known = entry.outdated && !reading;
        entry.outdated |= changed;
        if !changed || known {
            // Unchanged, or already to be read again by the reconciles triggered before.
            return Vec::new();
        }
        let mut readers: Vec<WatchKey> = self
            .read_by
            .iter()
            .filter(|(_, read)| *read == secret)
            .map(|(key, _)| key.clone())
            .collect();
        readers.sort();
        readers
    }

    /// A re-list of the Secrets in scope ended without `secret`s it did not list: a read Secret
    /// missing from it was deleted while the watch was away, so it is read again at next use.
    pub fn listed(&mut self, in_scope: impl Fn(&str) -> bool, listed: &HashSet<SecretKey>) {
        for (key, entry) in self.secrets.iter_mut() {
            let was_there = entry.read.as_ref().is_some_and(|r| r.version.is_some());
            if in_scope(&key.namespace) && !listed.contains(key) && was_there {
                entry.outdated = true;
            }
        }
    }

    /// `watch` is gone: its Secret's data goes too when no other watch reads it.
    pub fn forget(&mut self, watch: &WatchKey) {
        if let Some(secret) = self.read_by.remove(watch) {
            self.drop_unread(&secret);
        }
    }

    fn drop_unread(&mut self, secret: &SecretKey) {
        if !self.read_by.values().any(|read| read == secret) {
            self.secrets.remove(secret);
        }
    }

    /// Secrets whose data is kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.secrets.len()
    }
}
