//! Loading an agent's `-config-dir`: the `service`/`services`/`check`/`checks` definitions of
//! every `*.json` file, in lexical file order as Consul reads them (§6 of the reference).
//!
//! Other agent settings in those files (ports, datacenter, ...) are ignored: the stand-in takes
//! them from its own flags. HCL files are refused rather than silently skipped, since a check
//! that never loads would look like a passing test.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::agent::definition::{
    CheckDef, DefError, ServiceDef, parse_service, parse_standalone_check,
};
use crate::json::{Keys, Obj};

/// One definition from a config file.
#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    Service(ServiceDef),
    Check(CheckDef),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid JSON: {message}")]
    Json { path: PathBuf, message: String },
    #[error("config file {path}: {source}")]
    Definition { path: PathBuf, source: DefError },
    #[error("config file {path}: HCL is not supported by the stand-in; use JSON")]
    Hcl { path: PathBuf },
}

/// Reads every definition in `dir`.
pub fn load(dir: &Path) -> Result<Vec<Definition>, ConfigError> {
    let io = |source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => out.extend(load_file(&path)?),
            Some("hcl") => return Err(ConfigError::Hcl { path }),
            // Consul skips other files too (with a warning).
            _ => {}
        }
    }
    Ok(out)
}

fn load_file(path: &Path) -> Result<Vec<Definition>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| ConfigError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let def_err = |source| ConfigError::Definition {
        path: path.to_path_buf(),
        source,
    };
    let top = Obj::from_value(&value, Keys::SnakeOrPascal, "config")
        .map_err(|e| def_err(e.into()))?
        .ok_or_else(|| ConfigError::Json {
            path: path.to_path_buf(),
            message: "top level must be an object".into(),
        })?;
    let mut out = Vec::new();
    let mut services = top.objs("services").map_err(|e| def_err(e.into()))?;
    if let Some(s) = top.obj("service").map_err(|e| def_err(e.into()))? {
        services.insert(0, s);
    }
    for s in services {
        out.push(Definition::Service(parse_service(&s).map_err(def_err)?));
    }
    let mut checks = top.objs("checks").map_err(|e| def_err(e.into()))?;
    if let Some(c) = top.obj("check").map_err(|e| def_err(e.into()))? {
        checks.insert(0, c);
    }
    for c in checks {
        out.push(Definition::Check(
            parse_standalone_check(&c).map_err(def_err)?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_services_and_checks_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("b.json"),
            r#"{"check": {"id": "disk", "name": "disk", "args": ["true"], "interval": "10s"}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"service": {"name": "redis", "port": 6379, "enable_tag_override": true,
                 "checks": [{"args": ["true"], "interval": "5s", "timeout": "2s"}]}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("README"), "ignored").unwrap();
        let defs = load(dir.path()).unwrap();
        assert_eq!(defs.len(), 2);
        let Definition::Service(s) = &defs[0] else {
            panic!("service first")
        };
        assert!(s.enable_tag_override);
        assert_eq!(s.checks[0].id, "service:redis");
        let Definition::Check(c) = &defs[1] else {
            panic!("then the check")
        };
        assert_eq!(c.id, "disk");
    }

    #[test]
    fn hcl_and_bad_json_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.hcl"), "service {}").unwrap();
        assert!(matches!(load(dir.path()), Err(ConfigError::Hcl { .. })));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.json"), "{").unwrap();
        assert!(matches!(load(dir.path()), Err(ConfigError::Json { .. })));
    }
}
