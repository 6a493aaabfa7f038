//! `framecast cert`: a throwaway CA and a server certificate for a quick
//! start with TLS, and the flags that use them.

use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use framecast_tls::{CertError, CertificateSet, SERVER_VALIDITY_DAYS};

use crate::report::HintExt;

/// The names the certificate is for when no `--host` is given.
const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// `framecast cert --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast cert --out certs                               for this machine (localhost)
  framecast cert --out certs --host cam-hub.lan --host 192.168.1.20
  framecast cert --out certs --force                       replace an expired set
";

/// `framecast cert`'s flags.
#[derive(Debug, Args)]
pub(crate) struct CertArgs {
    /// The directory to write ca.pem, server.pem and server-key.pem into
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// A host name or IP address the server certificate is valid for;
    /// repeat for several [default: localhost 127.0.0.1 ::1].
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,

    /// Replace the files if they exist.
    #[arg(long)]
    force: bool,
}

/// Runs `framecast cert`.
pub(crate) fn run(args: CertArgs) -> Result<()> {
    let hosts = if args.hosts.is_empty() {
        DEFAULT_HOSTS.map(str::to_owned).to_vec()
    } else {
        args.hosts
    };
    let set = CertificateSet::generate(&hosts).context("cannot make the certificates")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the directory {}", args.out.display()))?;
    let files = match set.write_to(&args.out, args.force) {
        Ok(files) => files,
        Err(CertError::Exists { path }) => {
            return Err(anyhow::anyhow!(
                "{} exists already; nothing was written",
                path.display()
            ))
            .hint("add --force to replace the files");
        }
        Err(e) => return Err(e).context("cannot write the certificates"),
    };

    let ca = files.ca_cert.display();
    let cert = files.server_cert.display();
    let key = files.server_key.display();
    let host = &hosts[0];
    let text = format!(
        "wrote:
  {ca}   the CA certificate: clients trust it (--tls-ca)
  {cert}   the server certificate (--tls-cert)
  {key}   the server's private key, readable by you only (--tls-key): keep it secret
valid for {names}, for {SERVER_VALIDITY_DAYS} days.
The CA's private key was not kept: to cover other names, run `framecast cert` again with --force
and hand the new ca.pem to the clients.

Catalog (add a token: --token-file FILE on both sides, or FRAMECAST_TOKEN):
  framecast catalog serve --tls-cert {cert} --tls-key {key}
  framecast catalog get ID --server https://{host}:50051 --tls-ca {ca}
Stream:
  framecast recv --tls-cert {cert} --tls-key {key}
  framecast send --to {host}:5252 --tls --tls-ca {ca}
",
        names = hosts.join(", "),
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
