//! [`CertificateSet`]: a throwaway CA and a server certificate it signed.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::CertError;

/// How long the generated CA is valid: ten years.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// How long the generated server certificate is valid: 825 days (the
/// longest browsers ever accepted for a leaf certificate).
pub const SERVER_VALIDITY_DAYS: i64 = 825;

/// File names [`CertificateSet::write_to`] uses.
const CA_CERT: &str = "ca.pem";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server-key.pem";

/// A new CA and a server certificate it signed, in PEM, all keys ECDSA
/// P-256.
///
/// The CA's private key is used once, to sign the server certificate, and
/// then forgotten: it is never written, so it cannot leak, and the CA can
/// vouch for nothing else. To cover more names, make a new set.
///
/// ```
/// let set = framecast_tls::CertificateSet::generate(&["localhost".to_owned(), "::1".to_owned()])?;
/// assert!(set.ca_cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(set.server_key_pem().contains("PRIVATE KEY"));
/// # Ok::<(), framecast_tls::CertError>(())
/// ```
pub struct CertificateSet {
    ca_cert: String,
    server_cert: String,
    server_key: Zeroizing<String>,
}

/// Where [`CertificateSet::write_to`] put each file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WrittenFiles {
    /// The CA certificate (`ca.pem`): what clients trust.
    pub ca_cert: PathBuf,
    /// The server certificate (`server.pem`).
    pub server_cert: PathBuf,
    /// The server's private key (`server-key.pem`, mode 0600).
    pub server_key: PathBuf,
}

impl CertificateSet {
    /// Makes a CA and a server certificate valid for every entry of `hosts`:
    /// an IP address (`127.0.0.1`, `::1`) becomes an IP address entry, anything
    /// else a DNS name (`localhost`, `cam.example.org`, `*.example.org`).
    pub fn generate(hosts: &[String]) -> Result<Self, CertError> {
        if hosts.is_empty() {
            return Err(CertError::NoHosts);
        }
        let now = OffsetDateTime::now_utc();
        // A day of slack for clocks that are a little behind.
        let from = now - Duration::days(1);

        for host in hosts {
            check_host(host)?;
        }
        let ca_key = KeyPair::generate().map_err(CertError::Generate)?;
        let mut ca = CertificateParams::default();
        // A name of its own, so that two sets' CAs are never taken for one
        // another by a verifier that looks issuers up by name.
        let tag: String = ca_key.public_key_raw()[1..9]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ca.distinguished_name
            .push(DnType::CommonName, format!("framecast throwaway CA {tag}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = from;
        ca.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        let ca = CertifiedIssuer::self_signed(ca, ca_key).map_err(CertError::Generate)?;

        let mut server = CertificateParams::new(hosts.to_vec()).map_err(CertError::Generate)?;
        server
            .distinguished_name
            .push(DnType::CommonName, hosts[0].clone());
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        server.not_before = from;
        server.not_after = now + Duration::days(SERVER_VALIDITY_DAYS);
        let server_key = KeyPair::generate().map_err(CertError::Generate)?;
        let server_cert = server
            .signed_by(&server_key, &ca)
            .map_err(CertError::Generate)?;

        Ok(Self {
            ca_cert: ca.pem(),
            server_cert: server_cert.pem(),
            server_key: Zeroizing::new(server_key.serialize_pem()),
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert
    }

    /// The server certificate, PEM.
    pub fn server_cert_pem(&self) -> &str {
        &self.server_cert
    }

    /// The server's private key, PKCS#8 PEM.
    pub fn server_key_pem(&self) -> &str {
        &self.server_key
    }

    /// Writes `ca.pem`, `server.pem` and `server-key.pem` into `dir` (which
    /// must exist); the key is readable by its owner only (mode 0600 on
    /// Unix). Without `overwrite`, nothing is written if any of the files
    /// exists.
    pub fn write_to(&self, dir: &Path, overwrite: bool) -> Result<WrittenFiles, CertError> {
        let files = WrittenFiles {
            ca_cert: dir.join(CA_CERT),
            server_cert: dir.join(SERVER_CERT),
            server_key: dir.join(SERVER_KEY),
        };
        let plan = [
            (&files.ca_cert, self.ca_cert.as_str(), false),
            (&files.server_cert, self.server_cert.as_str(), false),
            (&files.server_key, self.server_key.as_str(), true),
        ];
        if let Some((path, ..)) = plan.iter().find(|(p, ..)| !overwrite && p.exists()) {
            return Err(CertError::Exists {
                path: (*path).clone(),
            });
        }
        for (path, content, secret) in plan {
            write_file(path, content, secret).map_err(|source| CertError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(files)
    }
}

/// Checks that `host` is an IP address or a valid DNS name, optionally
/// with a leading `*.` wildcard label.
fn check_host(host: &str) -> Result<(), CertError> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    if rustls_pki_types::ServerName::try_from(name).is_ok() {
        Ok(())
    } else {
        Err(CertError::BadHost {
            host: host.to_owned(),
        })
    }
}

impl std::fmt::Debug for CertificateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateSet").finish_non_exhaustive()
    }
}

/// Writes a fresh file: any old one is removed first, so a secret never
/// inherits the looser mode of the file it replaces.
fn write_file(path: &Path, content: &str, secret: bool) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn writes_three_files_and_guards_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let set = CertificateSet::generate(&hosts(&["localhost", "127.0.0.1", "::1"])).unwrap();
        let files = set.write_to(dir.path(), false).unwrap();
        assert_eq!(
            fs::read_to_string(&files.ca_cert).unwrap(),
            set.ca_cert_pem()
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}: no CA key is written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&files.server_key), 0o600);
            assert_eq!(mode(&files.server_cert), 0o644);
        }
    }

    #[test]
    fn refuses_to_overwrite_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let first = CertificateSet::generate(&hosts(&["localhost"])).unwrap();
        first.write_to(dir.path(), false).unwrap();
        let second = CertificateSet::generate(&hosts(&["localhost"])).unwrap();
        let err = second.write_to(dir.path(), false).unwrap_err();
        assert!(matches!(err, CertError::Exists { .. }), "{err}");
        // Nothing was touched.
        let ca = fs::read_to_string(dir.path().join(CA_CERT)).unwrap();
        assert_eq!(ca, first.ca_cert_pem());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.path().join(SERVER_KEY);
            fs::set_permissions(&key, fs::Permissions::from_mode(0o666)).unwrap();
            second.write_to(dir.path(), true).unwrap();
            let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "a replaced key does not keep a loose mode");
        }
        let ca = fs::read_to_string(dir.path().join(CA_CERT)).unwrap();
        assert_eq!(ca, second.ca_cert_pem());
    }

    #[test]
    fn bad_hosts_are_refused() {
        assert!(matches!(
            CertificateSet::generate(&[]),
            Err(CertError::NoHosts)
        ));
        assert!(matches!(
            CertificateSet::generate(&hosts(&["not a host"])),
            Err(CertError::BadHost { .. })
        ));
        CertificateSet::generate(&hosts(&["*.example.org", "2001:db8::1"])).unwrap();
    }
}
