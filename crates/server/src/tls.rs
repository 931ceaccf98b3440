//! Loading the configured TLS profiles into transport stores.

use sbc_config::{ClientAuth, Config};
use sbc_transport::{TlsIdentity, TlsServerConfig, TlsStore, TrustBundle};

use crate::ServerError;

fn read(path: &std::path::Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| ServerError::Tls(format!("{}: {e}", path.display())))
}

/// One store per profile, by name.
pub fn load_profiles(cfg: &Config) -> Result<Vec<(String, TlsStore)>, ServerError> {
    let mut out = Vec::new();
    for p in &cfg.tls_profiles {
        let name = p.name.get_ref().clone();
        let identity = TlsIdentity::from_pem(&read(&p.cert_chain)?, &read(&p.key)?)
            .map_err(|e| ServerError::Tls(format!("profile {name}: {e}")))?;
        let trust = match &p.trust_bundle {
            Some(b) => TrustBundle::from_pem(&read(b)?)
                .map_err(|e| ServerError::Tls(format!("profile {name}: {e}")))?,
            None => TrustBundle::from_pem(b"")
                .map_err(|e| ServerError::Tls(format!("profile {name}: {e}")))?,
        };
        let store = TlsStore::new(identity, trust)
            .map_err(|e| ServerError::Tls(format!("profile {name}: {e}")))?;
        out.push((name, store));
    }
    Ok(out)
}

/// The transport's listener TLS settings for a profile and client-auth policy.
pub fn server_config(store: TlsStore, auth: ClientAuth) -> TlsServerConfig {
    let client_auth = match auth {
        ClientAuth::None => sbc_transport::ClientAuth::None,
        ClientAuth::Optional => sbc_transport::ClientAuth::Optional,
        ClientAuth::Required => sbc_transport::ClientAuth::Required,
    };
    TlsServerConfig { store, client_auth }
}
