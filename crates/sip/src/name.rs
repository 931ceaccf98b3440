//! The header name table: one enum for every header the SBC knows, case-insensitive lookup
//! with compact forms (RFC 3261 §7.3.3 and the RFCs that define the other one-letter forms),
//! resolved through a small perfect-ish hash built at compile time so the parse path does one
//! table probe and one comparison per header instead of a linear scan.

macro_rules! header_names {
    ($( $variant:ident => $name:literal $(, $compact:literal)? ; )*) => {
        /// A known header name, or [`HeaderName::Other`] for everything else (kept opaque).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
            /// Any header not in the table (including `X-MS-*`): carried opaquely.
            Other,
        }

        impl HeaderName {
            /// The canonical long form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $name, )*
                    HeaderName::Other => "(other)",
                }
            }

            /// The compact form, if the header has one.
            pub const fn compact(self) -> Option<u8> {
                match self {
                    $( HeaderName::$variant => header_names!(@compact $($compact)?), )*
                    HeaderName::Other => None,
                }
            }
        }

        const ALL: &[(HeaderName, &str)] = &[ $( (HeaderName::$variant, $name), )* ];
    };
    (@compact $c:literal) => { Some($c) };
    (@compact) => { None };
}

header_names! {
    Via => "Via", b'v';
    From => "From", b'f';
    To => "To", b't';
    CallId => "Call-ID", b'i';
    CSeq => "CSeq";
    MaxForwards => "Max-Forwards";
    ContentLength => "Content-Length", b'l';
    ContentType => "Content-Type", b'c';
    Contact => "Contact", b'm';
    Route => "Route";
    RecordRoute => "Record-Route";
    Require => "Require";
    Supported => "Supported", b'k';
    Allow => "Allow";
    Unsupported => "Unsupported";
    ProxyRequire => "Proxy-Require";
    SessionExpires => "Session-Expires", b'x';
    MinSe => "Min-SE";
    ReferTo => "Refer-To", b'r';
    ReferredBy => "Referred-By", b'b';
    Replaces => "Replaces";
    Reason => "Reason";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    Privacy => "Privacy";
    HistoryInfo => "History-Info";
    Diversion => "Diversion";
    Geolocation => "Geolocation";
    GeolocationRouting => "Geolocation-Routing";
    GeolocationError => "Geolocation-Error";
    RetryAfter => "Retry-After";
    ContentId => "Content-ID";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", b'e';
    ContentLanguage => "Content-Language";
    ContentTransferEncoding => "Content-Transfer-Encoding";
    MimeVersion => "MIME-Version";
    RSeq => "RSeq";
    RAck => "RAck";
    Event => "Event", b'o';
    AllowEvents => "Allow-Events", b'u';
    SubscriptionState => "Subscription-State";
    ReferSub => "Refer-Sub";
    Priority => "Priority";
    Date => "Date";
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AcceptContact => "Accept-Contact", b'a';
    RejectContact => "Reject-Contact", b'j';
    RequestDisposition => "Request-Disposition", b'd';
    Expires => "Expires";
    MinExpires => "Min-Expires";
    UserAgent => "User-Agent";
    Server => "Server";
    Subject => "Subject", b's';
    Authorization => "Authorization";
    ProxyAuthorization => "Proxy-Authorization";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    AuthenticationInfo => "Authentication-Info";
    Warning => "Warning";
    Timestamp => "Timestamp";
    Organization => "Organization";
    CallInfo => "Call-Info";
    AlertInfo => "Alert-Info";
    ErrorInfo => "Error-Info";
    InReplyTo => "In-Reply-To";
    ReplyTo => "Reply-To";
    Path => "Path";
    Identity => "Identity", b'y';
    IdentityInfo => "Identity-Info", b'n';
    PChargingVector => "P-Charging-Vector";
    PAccessNetworkInfo => "P-Access-Network-Info";
    PEarlyMedia => "P-Early-Media";
    ServiceRoute => "Service-Route";
    SecurityClient => "Security-Client";
    SecurityServer => "Security-Server";
    SecurityVerify => "Security-Verify";
    ResourcePriority => "Resource-Priority";
    AcceptResourcePriority => "Accept-Resource-Priority";
    MaxBreadth => "Max-Breadth";
    UserToUser => "User-to-User";
    XMsSbc => "X-MS-SBC";
    XMsTenantId => "X-MS-TenantID";
    XMsFmc => "X-MS-FMC";
}

const SLOTS: usize = 512;
const EMPTY: u8 = u8::MAX;

#[inline(always)]
const fn slot_of(len: usize, first: u8, last: u8) -> usize {
    // Lower-cased first/last bytes plus the length separate the table with few collisions.
    (len.wrapping_mul(97) ^ (first as usize).wrapping_mul(31) ^ (last as usize).wrapping_mul(7))
        % SLOTS
}

const fn build_slots() -> [u8; SLOTS] {
    let mut t = [EMPTY; SLOTS];
    let mut i = 0;
    while i < ALL.len() {
        let b = ALL[i].1.as_bytes();
        let mut s = slot_of(
            b.len(),
            b[0].to_ascii_lowercase(),
            b[b.len() - 1].to_ascii_lowercase(),
        );
        while t[s] != EMPTY {
            s = (s + 1) % SLOTS;
        }
        t[s] = i as u8;
        i += 1;
    }
    t
}

static SLOT_TABLE: [u8; SLOTS] = build_slots();

static COMPACT: [HeaderName; 26] = {
    let mut t = [HeaderName::Other; 26];
    let mut i = 0;
    while i < ALL.len() {
        if let Some(c) = ALL[i].0.compact() {
            t[(c - b'a') as usize] = ALL[i].0;
        }
        i += 1;
    }
    t
};

impl HeaderName {
    /// Looks up a header name as received (any case, long or compact form).
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name.len() {
            0 => HeaderName::Other,
            1 => {
                let c = name[0].to_ascii_lowercase();
                if c.is_ascii_lowercase() {
                    COMPACT[(c - b'a') as usize]
                } else {
                    HeaderName::Other
                }
            }
            len => {
                let mut s = slot_of(
                    len,
                    name[0].to_ascii_lowercase(),
                    name[len - 1].to_ascii_lowercase(),
                );
                loop {
                    let idx = SLOT_TABLE[s];
                    if idx == EMPTY {
                        return HeaderName::Other;
                    }
                    let (h, text) = ALL[idx as usize];
                    if text.len() == len && text.as_bytes().eq_ignore_ascii_case(name) {
                        return h;
                    }
                    s = (s + 1) % SLOTS;
                }
            }
        }
    }

    /// True for the headers RFC 3261 §7.3.1 allows to be combined with commas, i.e. whose
    /// values are comma-separated lists. Other headers are never split (a Date or a display
    /// name may contain commas).
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Require
                | Supported
                | Allow
                | Unsupported
                | ProxyRequire
                | PAssertedIdentity
                | PPreferredIdentity
                | Privacy
                | HistoryInfo
                | Diversion
                | Geolocation
                | GeolocationRouting
                | Reason
                | Accept
                | AcceptEncoding
                | AcceptLanguage
                | AllowEvents
                | ContentEncoding
                | ContentLanguage
                | InReplyTo
                | Path
                | ServiceRoute
                | Warning
                | CallInfo
                | AlertInfo
                | ErrorInfo
                | AcceptContact
                | RejectContact
                | RequestDisposition
                | ResourcePriority
                | AcceptResourcePriority
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_in_any_case() {
        for &(h, text) in ALL {
            assert_eq!(HeaderName::from_bytes(text.as_bytes()), h, "{text}");
            assert_eq!(
                HeaderName::from_bytes(text.to_ascii_uppercase().as_bytes()),
                h
            );
            assert_eq!(
                HeaderName::from_bytes(text.to_ascii_lowercase().as_bytes()),
                h
            );
            if let Some(c) = h.compact() {
                assert_eq!(HeaderName::from_bytes(&[c]), h);
                assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), h);
            }
        }
    }

    #[test]
    fn unknown_names() {
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"X-Unknown"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"1"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"vIA"), HeaderName::Via);
        assert!(ALL.len() < usize::from(EMPTY));
    }
}
