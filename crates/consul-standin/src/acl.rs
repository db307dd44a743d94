//! ACLs reduced to what the suite needs (§1.4 of the reference): with a token configured, ACLs
//! are on with default policy `deny`; the configured token may do everything, a request without
//! a token is the anonymous token and may do nothing, and any other token is unknown.
//!
//! As in Consul, a denied write or point read is a 403 with the permission in the text, while
//! list reads are filtered to what the token may see (here: nothing) and still answer 200.

/// A resource kind as Consul names it in permission errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Agent,
    Key,
    Node,
    Operator,
    Service,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Agent => "agent",
            Resource::Key => "key",
            Resource::Node => "node",
            Resource::Operator => "operator",
            Resource::Service => "service",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// Why a request was refused; the text is the 403 body Consul sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("ACL not found")]
    NotFound,
    #[error(
        "Permission denied: anonymous token lacks permission '{}:{}' on {name:?}. The anonymous token is used implicitly when a request does not specify a token.",
        resource.name(),
        access.name()
    )]
    Denied {
        resource: Resource,
        access: Access,
        name: String,
    },
}

/// What the request's token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authz {
    /// ACLs are off, or the request carries the configured token.
    All,
    /// ACLs are on and the request carries no token.
    Anonymous,
}

impl Authz {
    /// Resolves the token a request presented against the configured one.
    pub fn resolve(configured: Option<&str>, presented: Option<&str>) -> Result<Authz, AclError> {
        match (configured, presented.filter(|t| !t.is_empty())) {
            (None, _) => Ok(Authz::All),
            (Some(_), None) => Ok(Authz::Anonymous),
            (Some(want), Some(got)) if want == got => Ok(Authz::All),
            (Some(_), Some(_)) => Err(AclError::NotFound),
        }
    }

    /// Whether list results may include anything.
    pub fn sees_all(self) -> bool {
        self == Authz::All
    }

    pub fn require(self, resource: Resource, access: Access, name: &str) -> Result<(), AclError> {
        match self {
            Authz::All => Ok(()),
            Authz::Anonymous => Err(AclError::Denied {
                resource,
                access,
                name: name.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_and_denial_text() {
        assert_eq!(Authz::resolve(None, Some("x")), Ok(Authz::All));
        assert_eq!(Authz::resolve(Some("s"), None), Ok(Authz::Anonymous));
        assert_eq!(Authz::resolve(Some("s"), Some("s")), Ok(Authz::All));
        assert_eq!(
            Authz::resolve(Some("s"), Some("t")),
            Err(AclError::NotFound)
        );
        let e = Authz::Anonymous
            .require(Resource::Key, Access::Write, "a/b")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Permission denied: anonymous token lacks permission 'key:write' on \"a/b\". The anonymous token is used implicitly when a request does not specify a token."
        );
    }
}
