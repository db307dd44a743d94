//! The KV store (`/v1/kv/…`): read, list by prefix, write and delete, with compare-and-set.
//! Values are bytes here and base64 only on the wire.
//!
//! A refused compare-and-set is an error, [`Error::CasConflict`], not `Ok(false)`: a caller
//! cannot then carry on as if the write happened by forgetting to look at a boolean.

use serde::{Deserialize, Serialize};

use super::http::{Call, key};
use super::wire::base64_bytes;
use super::{Client, Error};

/// One KV entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KvPair {
    pub key: String,
    pub flags: u64,
    /// The stored bytes (`null` on the wire reads as empty).
    #[serde(with = "base64_bytes")]
    pub value: Vec<u8>,
    pub create_index: u64,
    /// Pass this as [`KvWrite::cas`] to write only if nobody changed the key since.
    pub modify_index: u64,
    pub lock_index: u64,
    /// The session holding the key's lock, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// Options of a KV write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvWrite {
    /// Stored with the value; a write without flags stores 0 (Consul does not keep old flags).
    pub flags: u64,
    /// Compare-and-set: write only if the key's ModifyIndex is this (0: only if it is absent).
    pub cas: Option<u64>,
}

impl KvWrite {
    /// A compare-and-set write against `index` (0: create only).
    pub fn cas(index: u64) -> KvWrite {
        KvWrite { flags: 0, cas: Some(index) }
    }
}

impl Client {
    /// `GET /v1/kv/:key`; `None` when the key does not exist.
    pub fn kv_get(&self, key_name: &str) -> Result<Option<KvPair>, Error> {
        let reply = self.send(Call::get(format!("/v1/kv/{}", key(key_name))))?;
        match reply.status {
            404 => Ok(None),
            200 => Ok(reply.json::<Vec<KvPair>>()?.into_iter().next()),
            _ => Err(reply.bad()),
        }
    }

    /// `GET /v1/kv/:prefix?recurse`: every entry whose key starts with `prefix`, in key order;
    /// empty when none does.
    pub fn kv_list(&self, prefix: &str) -> Result<Vec<KvPair>, Error> {
        let reply = self.send(Call::get(format!("/v1/kv/{}", key(prefix))).flag("recurse"))?;
        match reply.status {
            404 => Ok(Vec::new()),
            200 => reply.json(),
            _ => Err(reply.bad()),
        }
    }

    /// `PUT /v1/kv/:key[?cas=][&flags=]`. With `write.cas`, a refusal is
    /// [`Error::CasConflict`].
    pub fn kv_put(&self, key_name: &str, value: &[u8], write: KvWrite) -> Result<(), Error> {
        let mut call = Call::put(format!("/v1/kv/{}", key(key_name))).bytes(value);
        if write.flags != 0 {
            call = call.query("flags", write.flags);
        }
        if let Some(index) = write.cas {
            call = call.query("cas", index);
        }
        let reply = self.send(call)?;
        cas_outcome(&reply, key_name, write.cas)
    }

    /// `DELETE /v1/kv/:key[?cas=]`. Deleting an absent key succeeds. With `cas`, a key whose
    /// ModifyIndex differs is kept and the answer is [`Error::CasConflict`].
    pub fn kv_delete(&self, key_name: &str, cas: Option<u64>) -> Result<(), Error> {
        let mut call = Call::delete(format!("/v1/kv/{}", key(key_name)));
        if let Some(index) = cas {
            call = call.query("cas", index);
        }
        let reply = self.send(call)?;
        cas_outcome(&reply, key_name, cas)
    }
}

fn cas_outcome(reply: &super::http::Reply, key_name: &str, cas: Option<u64>) -> Result<(), Error> {
    match (reply.status, cas) {
        (200, Some(index)) => {
            if reply.boolean()? {
                Ok(())
            } else {
                Err(Error::CasConflict { addr: reply.addr().to_string(), key: key_name.to_string(), index })
            }
        }
        _ => reply.expect_true(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kv_pair_decodes_base64_value() {
        let pairs: Vec<KvPair> = serde_json::from_value(json!([
            {"LockIndex": 0, "Key": "svc/redis/master", "Flags": 3, "Value": "MTAuMC4wLjU=", "CreateIndex": 41, "ModifyIndex": 57},
            {"Key": "empty", "Value": null, "Session": "abc", "Namespace": "default"}
        ]))
        .unwrap();
        assert_eq!(pairs[0].value, b"10.0.0.5");
        assert_eq!(pairs[0].flags, 3);
        assert_eq!(pairs[0].modify_index, 57);
        assert_eq!(pairs[0].session, None);
        assert_eq!(pairs[1].value, b"");
        assert_eq!(pairs[1].session.as_deref(), Some("abc"));
    }

    #[test]
    fn kv_pair_round_trips_bytes_as_base64() {
        let pair = KvPair { key: "k".into(), value: vec![0, 255, b'a'], ..KvPair::default() };
        let wire = serde_json::to_value(&pair).unwrap();
        assert_eq!(wire["Value"], json!("AP9h"));
        assert_eq!(serde_json::from_value::<KvPair>(wire).unwrap(), pair);
    }

    #[test]
    fn bad_base64_is_an_error() {
        assert!(serde_json::from_value::<KvPair>(json!({"Key": "k", "Value": "!!"})).is_err());
    }
}
