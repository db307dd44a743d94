//! How bytes reach the agent: the `ureq` agent built from a [`ClientConfig`], with TCP or a Unix
//! socket underneath and rustls on top for HTTPS (CA file or directory, system roots, client
//! certificate, server name, verification switch).
//!
//! ureq has no "verify against this name" setting, so `CONSUL_TLS_SERVER_NAME` is applied the
//! way curl's `--resolve` works: the request URL carries the TLS name and a pinned resolver
//! sends the connection to the real address. A Unix socket gets a URL host of `localhost` (as
//! the Go client sends) and a connector that ignores the resolved address.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::{fmt, fs};

use ureq::Agent;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, RustlsConnector, TcpConnector, Transport,
};

use super::config::{ClientConfig, Endpoint, Scheme, TlsSettings};
use super::Error;

/// Each connection's input and output buffer.
const BUFFER_SIZE: usize = 16 * 1024;

/// The pieces a [`Client`](super::Client) sends requests with.
#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) agent: Agent,
    /// `scheme://authority` plus the address prefix; paths (`/v1/...`) are appended to it.
    pub(crate) base_url: String,
}

/// Builds the ureq agent. Reads the CA and client certificate files named in the config; the
/// system trust store is loaded only for HTTPS without a configured CA.
pub(crate) fn build(config: &ClientConfig) -> Result<Wire, Error> {
    let address = &config.address;
    let tls = tls_config(&config.tls, address.scheme)?;
    let ureq_config = Config::builder()
        // Statuses are ours to interpret (404 on KV is "absent", 409 on txn is "rolled back").
        .http_status_as_error(false)
        .timeout_global(Some(config.timeout))
        // The agent is local; a proxy variable left in a hook's environment must not carry the token.
        .proxy(None)
        // Consul never redirects; a 3xx (from a proxy in front) is reported as the answer it is.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("sengu/", env!("CARGO_PKG_VERSION")))
        // ureq's default 128 KiB per direction is zeroed page by page on every connection, a
        // tenth of a check run; Consul's headers fit in a few hundred bytes, and the input
        // buffer grows when a response needs more.
        .input_buffer_size(BUFFER_SIZE)
        .output_buffer_size(BUFFER_SIZE)
        .tls_config(tls)
        .build();

    let scheme = address.scheme.as_str();
    let server_name = config.tls.server_name.as_deref();
    let (agent, authority) = match &address.endpoint {
        Endpoint::Tcp(authority) => {
            let connector = ().chain(TcpConnector::default()).chain(RustlsConnector::default());
            match server_name {
                Some(name) if address.scheme == Scheme::Https => {
                    let real = parse_uri(&format!("{scheme}://{authority}/"))?;
                    let pinned = match real.port_u16() {
                        Some(port) => format!("{}:{port}", bracket(name)),
                        None => bracket(name),
                    };
                    (Agent::with_parts(ureq_config, connector, Resolve::Pinned(real)), pinned)
                }
                _ => (Agent::with_parts(ureq_config, connector, Resolve::System), authority.clone()),
            }
        }
        Endpoint::Unix(path) => {
            let connector = UnixConnector { path: path.clone() }.chain(RustlsConnector::default());
            let host = server_name.map_or_else(|| "localhost".to_string(), bracket);
            (Agent::with_parts(ureq_config, connector, Resolve::Unix), host)
        }
    };
    let base_url = format!("{scheme}://{authority}{}", address.prefix);
    // Catch a malformed URL here, as a configuration error, not on the first request.
    parse_uri(&format!("{base_url}/v1/"))?;
    Ok(Wire { agent, base_url })
}

fn parse_uri(text: &str) -> Result<Uri, Error> {
    text.parse::<Uri>().map_err(|e| Error::Config(format!("invalid consul url {text:?}: {e}")))
}

/// IPv6 literals need brackets in a URL authority.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() }
}

fn tls_config(tls: &TlsSettings, scheme: Scheme) -> Result<TlsConfig, Error> {
    let mut builder = TlsConfig::builder().provider(TlsProvider::Rustls).disable_verification(!tls.verify);
    // Configured files are read even for plain HTTP, so a wrong path shows up at once rather
    // than on the day someone switches to HTTPS (the Go client does the same).
    let roots = if let Some(file) = &tls.ca_file {
        Some(read_certs(file)?)
    } else if let Some(dir) = &tls.ca_path {
        Some(read_cert_dir(dir)?)
    } else if scheme == Scheme::Https && tls.verify {
        Some(system_roots()?)
    } else {
        None
    };
    if let Some(roots) = roots {
        builder = builder.root_certs(RootCerts::new_with_certs(&roots));
    }
    if let Some((cert_file, key_file)) = &tls.client_cert {
        let chain = read_certs(cert_file)?;
        let key_pem = read_file(key_file)?;
        check_key_pair(&chain, &key_pem, cert_file, key_file)?;
        let key = PrivateKey::from_pem(&key_pem).map_err(|e| Error::Config(format!("no private key in {}: {e}", key_file.display())))?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(builder.build())
}

fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    crate::files::read(path, crate::files::CONFIG_LIMIT).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
}

/// Every certificate in a PEM file; a file without one is an error.
fn read_certs(path: &Path) -> Result<Vec<Certificate<'static>>, Error> {
    let pem = read_file(path)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(Error::Config(format!("cannot parse {}: {e}", path.display()))),
        }
    }
    if certs.is_empty() {
        return Err(Error::Config(format!("no pem certificate in {}", path.display())));
    }
    Ok(certs)
}

/// Every certificate in every file below `dir` (as go-rootcerts walks `CONSUL_CAPATH`).
fn read_cert_dir(dir: &Path) -> Result<Vec<Certificate<'static>>, Error> {
    let mut certs = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::metadata(&path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        if meta.is_dir() {
            let entries = fs::read_dir(&path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
                pending.push(entry.path());
            }
        } else {
            certs.extend(read_certs(&path)?);
        }
    }
    if certs.is_empty() {
        return Err(Error::Config(format!("no pem certificate in {}", dir.display())));
    }
    Ok(certs)
}

/// The operating system's trust store, as the Go client falls back to it.
fn system_roots() -> Result<Vec<Certificate<'static>>, Error> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found.errors.first().map_or_else(|| "none installed".to_string(), ToString::to_string);
        return Err(Error::Config(format!("no system ca certificates ({why}); set CONSUL_CACERT")));
    }
    Ok(found.certs.iter().map(|der| Certificate::from_der(der.as_ref()).to_owned()).collect())
}

/// ureq assumes a client certificate and key belong together and panics on first use when they
/// don't, so check the pair with rustls itself while a clear error is still possible.
fn check_key_pair(chain: &[Certificate<'static>], key_pem: &[u8], cert_file: &Path, key_file: &Path) -> Result<(), Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Config(format!("no private key in {}: {e}", key_file.display())))?;
    let chain: Vec<CertificateDer<'static>> = chain.iter().map(|c| CertificateDer::from(c.der().to_vec())).collect();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_root_certificates(rustls::RootCertStore::empty()).with_client_auth_cert(chain, key))
        .map(drop)
        .map_err(|e| {
            Error::Config(format!("client certificate {} and key {} are unusable: {e}", cert_file.display(), key_file.display()))
        })
}

/// Name resolution: the system resolver, a pinned real address (TLS server name case), or
/// none at all for a Unix socket.
#[derive(Debug)]
enum Resolve {
    System,
    Pinned(Uri),
    Unix,
}

impl Resolver for Resolve {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // ureq's resolver starts a thread for every lookup that has a timeout, an IP address
        // included; the agent's address nearly always is one (`127.0.0.1:8500`).
        let target = match self {
            Resolve::System => uri,
            Resolve::Pinned(real) => real,
            Resolve::Unix => uri,
        };
        if !matches!(self, Resolve::Unix)
            && let Some(addr) = literal(target)
        {
            let mut addrs = self.empty();
            addrs.push(addr);
            return Ok(addrs);
        }
        match self {
            Resolve::System => DefaultResolver::default().resolve(uri, config, timeout),
            Resolve::Pinned(real) => DefaultResolver::default().resolve(real, config, timeout),
            Resolve::Unix => {
                // ureq wants at least one address; the Unix connector never looks at it.
                let mut addrs = self.empty();
                addrs.push(SocketAddr::from(([127, 0, 0, 1], 0)));
                Ok(addrs)
            }
        }
    }
}

/// The socket address of a URL whose host is an IP address (with its port, or the scheme's).
fn literal(uri: &Uri) -> Option<SocketAddr> {
    let authority = uri.authority()?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = host.parse().ok()?;
    let port = authority.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

/// Opens the Unix socket for every new connection, whatever the URL says.
#[derive(Debug)]
struct UnixConnector {
    path: PathBuf,
}

impl Connector<()> for UnixConnector {
    type Out = UnixTransport;

    fn connect(&self, details: &ConnectionDetails, _chained: Option<()>) -> Result<Option<UnixTransport>, ureq::Error> {
        let stream = UnixStream::connect(&self.path)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(UnixTransport { stream, buffers }))
    }
}

/// HTTP/1.1 over a connected Unix stream, honouring ureq's read and write deadlines.
struct UnixTransport {
    stream: UnixStream,
    buffers: LazyBuffers,
}

impl fmt::Debug for UnixTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixTransport").field("peer", &self.stream.peer_addr().ok()).finish()
    }
}

/// The socket timeout for the next I/O, or a timeout error if the budget is already spent.
fn io_timeout(timeout: NextTimeout) -> Result<Option<std::time::Duration>, ureq::Error> {
    if timeout.after.is_zero() {
        return Err(ureq::Error::Timeout(timeout.reason));
    }
    Ok(timeout.not_zero().map(|d| *d))
}

fn map_io(e: io::Error, timeout: NextTimeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ureq::Error::Timeout(timeout.reason),
        _ => ureq::Error::Io(e),
    }
}

impl Transport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream.set_write_timeout(io_timeout(timeout)?)?;
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output).map_err(|e| map_io(e, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream.set_read_timeout(io_timeout(timeout)?)?;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match self.stream.read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result.map_err(|e| map_io(e, timeout))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // A pooled connection is reusable only if the server has neither closed it nor sent
        // anything unasked: a non-blocking peek must find nothing to read.
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut buf = [0u8; 1];
        let open = matches!(self.stream.read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        self.stream.set_nonblocking(false).is_ok() && open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_no_certificates() {
        let wire = build(&ClientConfig::default()).unwrap();
        assert_eq!(wire.base_url, "http://127.0.0.1:8500");
    }

    #[test]
    fn prefix_and_server_name_shape_the_base_url() {
        let mut config = ClientConfig::default().with_address("https://10.0.0.5:8501/consul").unwrap();
        config.tls.verify = false;
        assert_eq!(build(&config).unwrap().base_url, "https://10.0.0.5:8501/consul");
        config.tls.server_name = Some("consul.example".into());
        assert_eq!(build(&config).unwrap().base_url, "https://consul.example:8501/consul");
        config.tls.server_name = Some("::1".into());
        assert_eq!(build(&config).unwrap().base_url, "https://[::1]:8501/consul");
    }

    #[test]
    fn unix_socket_uses_localhost_as_host() {
        let config = ClientConfig::default().with_address("unix:///run/consul.sock").unwrap();
        assert_eq!(build(&config).unwrap().base_url, "http://localhost");
    }

    #[test]
    fn missing_ca_file_is_a_config_error_naming_it() {
        let mut config = ClientConfig::default();
        config.tls.ca_file = Some("/nonexistent/ca.pem".into());
        let e = build(&config).err().unwrap();
        assert!(matches!(&e, Error::Config(m) if m.contains("/nonexistent/ca.pem")), "{e}");
    }

    #[test]
    fn ca_file_without_certificates_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let mut config = ClientConfig::default();
        config.tls.ca_file = Some(file.clone());
        let e = build(&config).err().unwrap();
        assert!(matches!(&e, Error::Config(m) if m.contains("no pem certificate")), "{e}");
    }

    #[test]
    fn ip_literals_resolve_without_the_resolver() {
        let at = |u: &str| literal(&u.parse::<Uri>().unwrap());
        assert_eq!(at("http://127.0.0.1:8500/v1/"), Some("127.0.0.1:8500".parse().unwrap()));
        assert_eq!(at("https://[::1]/v1/"), Some("[::1]:443".parse().unwrap()));
        assert_eq!(at("http://consul.local:8500/"), None);
    }
}
