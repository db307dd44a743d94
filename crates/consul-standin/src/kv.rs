//! The KV store with Consul's index rules (§3 of the reference): CreateIndex kept across
//! updates, ModifyIndex set on every write, `cas` semantics, and tombstones so that a blocking
//! read of a deleted key sees the deletion's index.
//!
//! Sessions are not modelled: the stand-in has none, so every lock or unlock names an invalid
//! session and fails as Consul fails for one.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

/// Consul's `kv_max_value_size` default.
pub const MAX_VALUE_SIZE: usize = 524_288;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    pub flags: u64,
    pub lock_index: u64,
    pub session: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Entry {
    /// The JSON form; `with_value` false gives `"Value": null` as txn write results do.
    pub fn to_json(&self, with_value: bool) -> Value {
        // An empty value is stored as Go's nil slice and reads back as null.
        let value = if with_value && !self.value.is_empty() {
            Value::String(base64::engine::general_purpose::STANDARD.encode(&self.value))
        } else {
            Value::Null
        };
        let mut out = json!({
            "LockIndex": self.lock_index,
            "Key": self.key,
            "Flags": self.flags,
            "Value": value,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        });
        if let (Some(session), Some(obj)) = (&self.session, out.as_object_mut()) {
            obj.insert("Session".into(), json!(session));
        }
        out
    }
}

#[derive(Debug, Default, Clone)]
pub struct Kv {
    entries: BTreeMap<String, Entry>,
    /// Deleted keys and the index of their deletion.
    tombstones: BTreeMap<String, u64>,
    /// Index of the last KV write.
    pub index: u64,
}

impl Kv {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn list(&self, prefix: &str) -> Vec<&Entry> {
        self.entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e)
            .collect()
    }

    /// Index for a read of one key: its ModifyIndex, its deletion, or the store's index.
    pub fn key_index(&self, key: &str) -> u64 {
        match (self.entries.get(key), self.tombstones.get(key)) {
            (Some(e), _) => e.modify_index,
            (None, Some(t)) => *t,
            (None, None) => self.index,
        }
    }

    /// Index for a prefix read: the newest change under the prefix, else the store's index.
    pub fn prefix_index(&self, prefix: &str) -> u64 {
        let live = self.list(prefix).iter().map(|e| e.modify_index).max();
        let dead = self
            .tombstones
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max();
        match live.max(dead) {
            Some(i) => i,
            None => self.index,
        }
    }

    /// Key names under `prefix`, rolled up at the first `separator` after the prefix.
    pub fn keys(&self, prefix: &str, separator: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.list(prefix) {
            let rest = &e.key[prefix.len()..];
            let name = match (separator.is_empty(), rest.find(separator)) {
                (false, Some(pos)) => format!("{prefix}{}", &rest[..pos + separator.len()]),
                _ => e.key.clone(),
            };
            if out.last() != Some(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Writes a key unconditionally.
    pub fn set(&mut self, key: &str, value: Vec<u8>, flags: u64, idx: u64) -> &Entry {
        self.index = idx;
        self.tombstones.remove(key);
        let entry = self
            .entries
            .entry(key.to_string())
            .or_insert_with(|| Entry {
                key: key.to_string(),
                value: Vec::new(),
                flags: 0,
                lock_index: 0,
                session: None,
                create_index: idx,
                modify_index: idx,
            });
        entry.value = value;
        entry.flags = flags;
        entry.modify_index = idx;
        entry
    }

    /// `?cas=`: 0 writes only a new key; N writes only if ModifyIndex == N.
    pub fn cas(&mut self, key: &str, value: Vec<u8>, flags: u64, cas: u64, idx: u64) -> bool {
        let ok = match self.entries.get(key) {
            None => cas == 0,
            Some(e) => cas != 0 && e.modify_index == cas,
        };
        if ok {
            self.set(key, value, flags, idx);
        }
        ok
    }

    pub fn delete(&mut self, key: &str, idx: u64) {
        if self.entries.remove(key).is_some() {
            self.index = idx;
            self.tombstones.insert(key.to_string(), idx);
        }
    }

    /// `DELETE ?cas=N`: true (and deleted) if ModifyIndex == N; true if the key is absent.
    pub fn delete_cas(&mut self, key: &str, cas: u64, idx: u64) -> bool {
        match self.entries.get(key) {
            None => true,
            Some(e) if e.modify_index == cas => {
                self.delete(key, idx);
                true
            }
            Some(_) => false,
        }
    }

    pub fn delete_tree(&mut self, prefix: &str, idx: u64) {
        let keys: Vec<String> = self.list(prefix).iter().map(|e| e.key.clone()).collect();
        for k in keys {
            self.delete(&k, idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_rules() {
        let mut kv = Kv::default();
        assert!(kv.cas("a", b"1".to_vec(), 0, 0, 5));
        assert!(!kv.cas("a", b"2".to_vec(), 0, 0, 6));
        assert!(!kv.cas("a", b"2".to_vec(), 0, 4, 6));
        assert!(kv.cas("a", b"2".to_vec(), 0, 5, 6));
        let e = kv.get("a").unwrap();
        assert_eq!((e.create_index, e.modify_index), (5, 6));
        assert!(kv.delete_cas("missing", 3, 7));
        assert!(!kv.delete_cas("a", 5, 7));
        assert!(kv.delete_cas("a", 6, 7));
        assert_eq!(kv.key_index("a"), 7);
    }

    #[test]
    fn keys_roll_up_at_separator() {
        let mut kv = Kv::default();
        for k in ["a/b", "a/sub/c", "a/sub/d", "b"] {
            kv.set(k, vec![], 0, 1);
        }
        assert_eq!(kv.keys("a/", "/"), vec!["a/b", "a/sub/"]);
        assert_eq!(kv.keys("", ""), vec!["a/b", "a/sub/c", "a/sub/d", "b"]);
    }
}
