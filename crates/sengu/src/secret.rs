//! Sengu's one secret type, at the bottom of the library so that every module can hold a
//! password or token without depending on another module's settings.

use std::fmt;

/// A password or token: sengu's one secret type, used by Consul (ACL token, basic-auth
/// password), Redis and MySQL alike. `Debug` prints `***` and there is no `Display`, so it
/// cannot reach a message or the action log by accident (the action log only takes `Display`
/// values).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What `--print-config` shows: that a secret is set, never what it is.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<set>")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
