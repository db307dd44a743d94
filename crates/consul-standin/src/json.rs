//! Reading request bodies the way Consul's Go decoder does.
//!
//! Go's `encoding/json` matches object keys to struct fields case-insensitively, and the agent
//! endpoints and config files also accept snake_case (`enable_tag_override`). Typed serde structs
//! can't express either, so bodies are read as `serde_json::Value` and fields are looked up
//! through [`Obj`], which reports type mismatches as Go-like decode errors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A decode error; its text follows "Request decode failed: " in Consul's 400 responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("json: cannot unmarshal {got} into Go struct field {field} of type {want}")]
pub struct DecodeError {
    pub field: String,
    pub got: &'static str,
    pub want: &'static str,
}

/// How keys are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Go's rule: exact match first, then case-insensitive.
    CaseInsensitive,
    /// Agent definitions: additionally, underscores are ignored (`enable_tag_override`).
    SnakeOrPascal,
}

/// A JSON object with Go-style field lookup.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    keys: Keys,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>, keys: Keys) -> Self {
        Obj { map, keys }
    }

    /// Wraps `value` if it is an object; `None` for null; an error for anything else.
    pub fn from_value(
        value: &'a Value,
        keys: Keys,
        field: &str,
    ) -> Result<Option<Self>, DecodeError> {
        match value {
            Value::Object(map) => Ok(Some(Obj::new(map, keys))),
            Value::Null => Ok(None),
            other => Err(DecodeError {
                field: field.to_string(),
                got: kind(other),
                want: "object",
            }),
        }
    }

    fn normalize(&self, key: &str) -> String {
        let lower = key.to_ascii_lowercase();
        match self.keys {
            Keys::CaseInsensitive => lower,
            Keys::SnakeOrPascal => lower.replace('_', ""),
        }
    }

    /// The raw value of a field, null treated as absent (Go leaves the zero value).
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        let found = self.map.get(name).or_else(|| {
            let wanted = self.normalize(name);
            self.map
                .iter()
                .find(|(k, _)| self.normalize(k) == wanted)
                .map(|(_, v)| v)
        });
        found.filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn err(name: &str, got: &Value, want: &'static str) -> DecodeError {
        DecodeError {
            field: name.to_string(),
            got: kind(got),
            want,
        }
    }

    pub fn string(&self, name: &str) -> Result<String, DecodeError> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(Self::err(name, other, "string")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, DecodeError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(Self::err(name, other, "bool")),
        }
    }

    pub fn i64(&self, name: &str) -> Result<i64, DecodeError> {
        match self.get(name) {
            None => Ok(0),
            Some(v @ Value::Number(n)) => n.as_i64().ok_or_else(|| Self::err(name, v, "int")),
            Some(other) => Err(Self::err(name, other, "int")),
        }
    }

    pub fn u64(&self, name: &str) -> Result<u64, DecodeError> {
        match self.get(name) {
            None => Ok(0),
            Some(v @ Value::Number(n)) => n.as_u64().ok_or_else(|| Self::err(name, v, "uint64")),
            Some(other) => Err(Self::err(name, other, "uint64")),
        }
    }

    /// An optional integer (absent and null give `None`).
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, DecodeError> {
        if self.has(name) {
            self.i64(name).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, DecodeError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(Self::err(name, other, "string")),
                })
                .collect(),
            Some(other) => Err(Self::err(name, other, "[]string")),
        }
    }

    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, DecodeError> {
        match self.get(name) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(Self::err(name, other, "string")),
                })
                .collect(),
            Some(other) => Err(Self::err(name, other, "map[string]string")),
        }
    }

    pub fn obj(&self, name: &str) -> Result<Option<Obj<'a>>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => Obj::from_value(v, self.keys, name),
        }
    }

    /// An array of objects (`Checks`).
    pub fn objs(&self, name: &str) -> Result<Vec<Obj<'a>>, DecodeError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(o) = Obj::from_value(item, self.keys, name)? {
                        out.push(o);
                    }
                }
                Ok(out)
            }
            Some(other) => Err(Self::err(name, other, "[]object")),
        }
    }

    /// A duration given as a Go string (`"10s"`) or as integer nanoseconds.
    pub fn duration(&self, name: &str) -> Result<Option<std::time::Duration>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => crate::duration::parse(s)
                .map(Some)
                .ok_or_else(|| format!("time: invalid duration {s:?}")),
            Some(Value::Number(n)) => Ok(n.as_u64().map(std::time::Duration::from_nanos)),
            Some(other) => Err(Self::err(name, other, "time.Duration").to_string()),
        }
    }

    pub fn raw(&self) -> &'a Map<String, Value> {
        self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_is_case_insensitive_and_snake_tolerant() {
        let v = json!({"enable_tag_override": true, "name": "redis", "Port": 6379});
        let o = Obj::new(v.as_object().unwrap(), Keys::SnakeOrPascal);
        assert!(o.bool("EnableTagOverride").unwrap());
        assert_eq!(o.string("Name").unwrap(), "redis");
        assert_eq!(o.i64("port").unwrap(), 6379);
        let strict = Obj::new(v.as_object().unwrap(), Keys::CaseInsensitive);
        assert!(!strict.bool("EnableTagOverride").unwrap());
    }

    #[test]
    fn type_mismatch_is_a_decode_error() {
        let v = json!({"Port": "x"});
        let o = Obj::new(v.as_object().unwrap(), Keys::CaseInsensitive);
        assert!(
            o.i64("Port")
                .unwrap_err()
                .to_string()
                .contains("cannot unmarshal string")
        );
    }
}
