//! What reads of credentials Secrets found, kept per Secret, so a Secret is read once per
//! `resourceVersion` and a change reaches exactly the watches that read it. Plain data: the
//! watch table holds it under its lock, with the Secret each of its watches reads.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::ByteString;

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
}

impl SecretCache {
    /// What the last read of `secret` found unless it changed since, else the ticket to store a
    /// new read with.
    pub fn cached(&mut self, secret: &SecretKey) -> Result<SecretRead, ReadTicket> {
        let cached = self.secrets.entry(secret.clone()).or_default();
        match &cached.read {
            Some(read) if !cached.outdated => Ok(read.clone()),
            _ => Err(ReadTicket(cached.reports)),
        }
    }

    /// Records what a read found (while some watch reads the Secret); outdated at once when
    /// the Secret watch reported something while the read ran.
    pub fn store(&mut self, secret: SecretKey, read: SecretRead, ticket: ReadTicket) {
        if let Some(entry) = self.secrets.get_mut(&secret) {
            entry.outdated = entry.reports != ticket.0;
            entry.read = Some(read);
        }
    }

    /// The Secret watch saw `secret` at `version` (`None`: deleted). True when the watches that
    /// read it must read it again (it was read at another version, or a first read may have
    /// missed this); false when that is no news.
    pub fn seen(&mut self, secret: &SecretKey, version: Option<&str>) -> bool {
        let Some(entry) = self.secrets.get_mut(secret) else {
            return false;
        };
        entry.reports += 1;
        let (changed, reading) = match &entry.read {
            Some(read) => (read.version.as_deref() != version, false),
            // A first read is in flight: it may have missed this.
            None => (true, true),
        };
        let known = entry.outdated && !reading;
        entry.outdated |= changed;
        // Unchanged, or already to be read again by the reconciles triggered before.
        changed && !known
    }

    /// A re-list of the Secrets in scope ended without the `listed` ones: a read Secret missing
    /// from it was deleted while the watch was away, so it is read again at next use.
    pub fn listed(&mut self, in_scope: impl Fn(&str) -> bool, listed: &HashSet<SecretKey>) {
        for (key, entry) in self.secrets.iter_mut() {
            let was_there = entry.read.as_ref().is_some_and(|r| r.version.is_some());
            if in_scope(&key.namespace) && !listed.contains(key) && was_there {
                entry.outdated = true;
            }
        }
    }

    /// No watch reads `secret` any more: its data goes.
    pub fn unread(&mut self, secret: &SecretKey) {
        self.secrets.remove(secret);
    }

    /// Secrets whose data is kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.secrets.len()
    }
}
