//! [`Acceptor`]: the one accept loop step of every framecast server (the
//! receiver's frame port, the HTTP viewer, the catalog): the next
//! connection, riding out accept errors (out of file descriptors, say) with
//! a short backoff instead of spinning or giving up on the connections
//! already served (feature `tokio`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::Backoff;

/// The first wait after an accept error; each error in a row doubles it,
/// up to [`ACCEPT_RETRY_MAX`], and a connection accepted starts over. Short:
/// the usual cause (no file descriptor free) clears as soon as a connection
/// closes.
pub const ACCEPT_RETRY_INITIAL: Duration = Duration::from_millis(5);

/// The longest wait between two accept attempts after errors.
pub const ACCEPT_RETRY_MAX: Duration = Duration::from_secs(1);

/// A listener and its backoff on accept errors.
///
/// [`accept`](Self::accept) is cancel-safe: a server `select!`s it against
/// its stop signal, which ends a wait after an error as well.
///
/// ```
/// use framecast_net::Acceptor;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let mut acceptor = Acceptor::new(listener);
/// let client = tokio::net::TcpStream::connect(addr).await?;
/// let (_sock, peer) = acceptor.accept(|e| eprintln!("cannot accept: {e}")).await;
/// assert_eq!(peer, client.local_addr()?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    retry: Backoff,
}

impl Acceptor {
    /// Accepts from `listener`, waiting [`ACCEPT_RETRY_INITIAL`] doubling
    /// to [`ACCEPT_RETRY_MAX`] after errors.
    pub fn new(listener: TcpListener) -> Self {
        Self {
            listener,
            retry: Backoff::new(ACCEPT_RETRY_INITIAL, ACCEPT_RETRY_MAX),
        }
    }

    /// The listener's address.
    ///
    /// # Errors
    ///
    /// The socket's, if it has none.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The next connection. An accept error is handed to `on_error` (to
    /// count, log, or free a descriptor), then waited out along the
    /// backoff, and accepting goes on.
    pub async fn accept(
        &mut self,
        mut on_error: impl FnMut(&io::Error),
    ) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    self.retry.reset();
                    return accepted;
                }
                Err(error) => {
                    on_error(&error);
                    tokio::time::sleep(self.retry.next_delay()).await;
                }
            }
        }
    }
}
