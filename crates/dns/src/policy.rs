//! What the SBC is willing to use: transports in order of preference, address families,
//! and the limits that bound the work one lookup may cause.

use crate::name::Transport;

/// The transports the SBC supports, in its order of preference (RFC 3263 §4.1: the client's
/// own preference breaks NAPTR ties and orders the SRV queries when there is no NAPTR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportPrefs {
    order: [Option<Transport>; 3],
}

impl TransportPrefs {
    /// From a list in order of preference (duplicates ignored). An empty list supports
    /// nothing: every lookup fails with [`crate::TargetError::TransportNotAllowed`].
    pub fn new(prefs: &[Transport]) -> TransportPrefs {
        let mut order = [None; 3];
        let mut n = 0;
        for &t in prefs {
            if n < order.len() && !order.contains(&Some(t)) {
                order[n] = Some(t);
                n += 1;
            }
        }
        TransportPrefs { order }
    }

    /// Whether `t` may be used.
    pub fn supports(&self, t: Transport) -> bool {
        self.order.contains(&Some(t))
    }

    /// Rank of `t` (0 = most preferred); `None` when not supported.
    pub fn rank(&self, t: Transport) -> Option<usize> {
        self.order.iter().position(|&x| x == Some(t))
    }

    /// The supported transports, most preferred first.
    pub fn iter(&self) -> impl Iterator<Item = Transport> + '_ {
        self.order.iter().flatten().copied()
    }
}

impl Default for TransportPrefs {
    /// TLS, then TCP, then UDP.
    fn default() -> Self {
        TransportPrefs::new(&[Transport::Tls, Transport::Tcp, Transport::Udp])
    }
}

/// Which address families to look up, and which comes first in the failover list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpPolicy {
    /// A records only.
    V4Only,
    /// AAAA records only.
    V6Only,
    /// Both; IPv4 addresses first.
    #[default]
    PreferV4,
    /// Both; IPv6 addresses first.
    PreferV6,
}

impl IpPolicy {
    /// Whether A records are wanted.
    pub fn wants_v4(self) -> bool {
        !matches!(self, IpPolicy::V6Only)
    }

    /// Whether AAAA records are wanted.
    pub fn wants_v6(self) -> bool {
        !matches!(self, IpPolicy::V4Only)
    }
}

/// The resolution policy. `Copy`, so every lookup carries its own without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Transports and their preference.
    pub transports: TransportPrefs,
    /// Address families.
    pub ip: IpPolicy,
    /// Most targets returned (the failover list is cut there).
    pub max_targets: usize,
    /// Most NAPTR records followed.
    pub max_naptr: usize,
    /// Most SRV records used from one SRV answer (lowest priorities kept).
    pub max_srv_records: usize,
    /// Most distinct SRV target hosts whose addresses are looked up.
    pub max_hosts: usize,
    /// Most addresses used per host and family.
    pub max_addrs_per_host: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            transports: TransportPrefs::default(),
            ip: IpPolicy::default(),
            max_targets: 16,
            max_naptr: 8,
            max_srv_records: 16,
            max_hosts: 8,
            max_addrs_per_host: 8,
        }
    }
}

impl Policy {
    /// The transport used when nothing (URI parameter, NAPTR) chose one (RFC 3263 §4.1:
    /// UDP for `sip`, TLS for `sips`). When policy disables UDP, TCP, then TLS stand in.
    pub fn default_transport(&self, secure: bool) -> Option<Transport> {
        if secure {
            return self
                .transports
                .supports(Transport::Tls)
                .then_some(Transport::Tls);
        }
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|&t| self.transports.supports(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs() {
        let p = TransportPrefs::new(&[Transport::Tcp, Transport::Tcp, Transport::Udp]);
        assert!(p.supports(Transport::Tcp) && p.supports(Transport::Udp));
        assert!(!p.supports(Transport::Tls));
        assert_eq!(p.rank(Transport::Udp), Some(1));
        assert_eq!(p.rank(Transport::Tls), None);
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [Transport::Tcp, Transport::Udp]
        );
        let d = TransportPrefs::default();
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [Transport::Tls, Transport::Tcp, Transport::Udp]
        );
        assert_eq!(TransportPrefs::new(&[]).iter().count(), 0);
    }

    #[test]
    fn default_transport() {
        let p = Policy::default();
        assert_eq!(p.default_transport(false), Some(Transport::Udp));
        assert_eq!(p.default_transport(true), Some(Transport::Tls));
        let tls_only = Policy {
            transports: TransportPrefs::new(&[Transport::Tls]),
            ..Policy::default()
        };
        assert_eq!(tls_only.default_transport(false), Some(Transport::Tls));
        let plain = Policy {
            transports: TransportPrefs::new(&[Transport::Tcp, Transport::Udp]),
            ..Policy::default()
        };
        assert_eq!(plain.default_transport(false), Some(Transport::Udp));
        assert_eq!(plain.default_transport(true), None);
        let tcp = Policy {
            transports: TransportPrefs::new(&[Transport::Tls, Transport::Tcp]),
            ..Policy::default()
        };
        assert_eq!(tcp.default_transport(false), Some(Transport::Tcp));
    }

    #[test]
    fn ip_policy() {
        assert!(IpPolicy::V4Only.wants_v4() && !IpPolicy::V4Only.wants_v6());
        assert!(!IpPolicy::V6Only.wants_v4() && IpPolicy::V6Only.wants_v6());
        assert!(IpPolicy::PreferV6.wants_v4() && IpPolicy::PreferV6.wants_v6());
    }
}
