//! [`TokenCheck`]: the tonic interceptor that lets in only requests bearing
//! the server's token.

use std::sync::Arc;

use framecast_tls::Token;
use tonic::{Request, Status, service::Interceptor};

use crate::{conn::ConnInfo, throttle::Throttle};

/// Requires `authorization: Bearer <token>` metadata on every request when
/// a token is set; passes everything when none is. A request without it, or
/// with another token, is answered `UNAUTHENTICATED` (logged with the peer,
/// never with what it sent).
#[derive(Clone, Debug)]
pub(crate) struct TokenCheck {
    token: Option<Arc<Token>>,
    log: Arc<Throttle>,
}

impl TokenCheck {
    pub(crate) fn new(token: Option<Token>) -> Self {
        Self {
            token: token.map(Arc::new),
            log: Arc::new(Throttle::default()),
        }
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.token else {
            return Ok(request);
        };
        let header = request
            .metadata()
            .get("authorization")
            .map(|value| value.as_bytes());
        match token.check_bearer(header) {
            Ok(()) => Ok(request),
            Err(failure) => {
                if let Some(held) = self.log.allow() {
                    let peer = request
                        .extensions()
                        .get::<ConnInfo>()
                        .map(|info| info.peer.to_string())
                        .unwrap_or_else(|| "unknown".into());
                    tracing::warn!(
                        %peer,
                        reason = %failure,
                        refused_since_last_report = held,
                        "refused an unauthenticated request"
                    );
                }
                Err(Status::unauthenticated(failure.to_string()))
            }
        }
    }
}
