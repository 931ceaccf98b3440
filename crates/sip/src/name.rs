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
    // The first/last bytes with bit 0x20 set (the lower case of a letter; any byte maps to
    // one value whatever its case) plus the length separate the table with few collisions.
    let (first, last) = ((first | 0x20) as usize, (last | 0x20) as usize);
    (len.wrapping_mul(97) ^ first.wrapping_mul(31) ^ last.wrapping_mul(7)) % SLOTS
}

const fn build_slots() -> [u8; SLOTS] {
    let mut t = [EMPTY; SLOTS];
    let mut i = 0;
    while i < ALL.len() {
        let b = ALL[i].1.as_bytes();
        let mut s = slot_of(b.len(), b[0], b[b.len() - 1]);
        while t[s] != EMPTY {
            s = (s + 1) % SLOTS;
        }
        t[s] = i as u8;
        i += 1;
    }
    t
}

static SLOT_TABLE: [u8; SLOTS] = build_slots();

/// Longest name in the table ("Content-Transfer-Encoding" is 25 bytes), rounded up to whole
/// words.
const MAX_NAME: usize = 32;
const WORDS: usize = MAX_NAME / 8;

/// One table name prepared for a word-at-a-time, branch-free, case-insensitive comparison
/// against a 32-byte window that starts with the candidate name:
///
/// * `lower`: the name lower-cased, zero-padded;
/// * `case`: `0x20` at the positions of letters;
/// * `live`: `0xff` at the name's positions, zero past its end.
///
/// For any input byte `b` at a live position, `b | case == lower` holds exactly when `b`
/// equals the table byte ignoring ASCII case (a letter in either case; any other byte only
/// itself), so `((window | case) ^ lower) & live == 0` is exactly `eq_ignore_ascii_case` on
/// the name, whatever the window holds past it.
#[derive(Clone, Copy)]
struct Key {
    len: u8,
    name: HeaderName,
    lower: [u64; WORDS],
    case: [u64; WORDS],
    live: [u64; WORDS],
}

const fn word_at(a: &[u8; MAX_NAME], at: usize) -> u64 {
    u64::from_le_bytes([
        a[at],
        a[at + 1],
        a[at + 2],
        a[at + 3],
        a[at + 4],
        a[at + 5],
        a[at + 6],
        a[at + 7],
    ])
}

const fn build_keys() -> [Key; ALL.len()] {
    let mut t = [Key {
        len: 0,
        name: HeaderName::Other,
        lower: [0; WORDS],
        case: [0; WORDS],
        live: [0; WORDS],
    }; ALL.len()];
    let mut i = 0;
    while i < ALL.len() {
        let b = ALL[i].1.as_bytes();
        assert!(b.len() >= 2 && b.len() <= MAX_NAME);
        let mut lower = [0u8; MAX_NAME];
        let mut case = [0u8; MAX_NAME];
        let mut live = [0u8; MAX_NAME];
        let mut j = 0;
        while j < b.len() {
            lower[j] = b[j].to_ascii_lowercase();
            if b[j].is_ascii_alphabetic() {
                case[j] = 0x20;
            }
            live[j] = 0xff;
            j += 1;
        }
        let mut w = 0;
        while w < WORDS {
            t[i].lower[w] = word_at(&lower, w * 8);
            t[i].case[w] = word_at(&case, w * 8);
            t[i].live[w] = word_at(&live, w * 8);
            w += 1;
        }
        t[i].len = b.len() as u8;
        t[i].name = ALL[i].0;
        i += 1;
    }
    t
}

static KEYS: [Key; ALL.len()] = build_keys();

/// The name of length `len` at the start of `w` equals the key's name ignoring ASCII case.
#[inline(always)]
fn eq_key(w: &[u8; MAX_NAME], k: &Key) -> bool {
    let mut diff = 0u64;
    let mut i = 0;
    while i < WORDS {
        let mut b = [0u8; 8];
        b.copy_from_slice(&w[i * 8..i * 8 + 8]);
        diff |= ((u64::from_le_bytes(b) | k.case[i]) ^ k.lower[i]) & k.live[i];
        i += 1;
    }
    diff == 0
}

/// Looks up the `len`-byte name at the start of the window `w` (`2 <= len <= MAX_NAME`).
#[inline(always)]
fn lookup_window(w: &[u8; MAX_NAME], len: usize) -> HeaderName {
    let mut s = slot_of(len, w[0], w[len - 1]);
    loop {
        let idx = SLOT_TABLE[s];
        if idx == EMPTY {
            return HeaderName::Other;
        }
        let k = &KEYS[usize::from(idx)];
        if usize::from(k.len) == len && eq_key(w, k) {
            return k.name;
        }
        s = (s + 1) % SLOTS;
    }
}

/// [`lookup_window`] over `w`, the name's bytes followed by padding up to whole words
/// (`w.len() == len.div_ceil(8) * 8`, `2 <= len <= MAX_NAME`): the same masked comparison,
/// on the covered words only.
#[inline(always)]
fn lookup_words(w: &[u8], len: usize) -> HeaderName {
    let mut s = slot_of(len, w[0], w[len - 1]);
    loop {
        let idx = SLOT_TABLE[s];
        if idx == EMPTY {
            return HeaderName::Other;
        }
        let k = &KEYS[usize::from(idx)];
        if usize::from(k.len) == len {
            let mut diff = 0u64;
            for (i, c) in w.chunks_exact(8).enumerate().take(WORDS) {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                diff |= ((u64::from_le_bytes(b) | k.case[i]) ^ k.lower[i]) & k.live[i];
            }
            if diff == 0 {
                return k.name;
            }
        }
        s = (s + 1) % SLOTS;
    }
}

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
            len if len > MAX_NAME => HeaderName::Other,
            len => {
                let mut w = [0u8; MAX_NAME];
                w[..len].copy_from_slice(name);
                lookup_window(&w, len)
            }
        }
    }

    /// [`HeaderName::from_bytes`] of `buf[at..at + len]`, for the parse path: when 32 bytes
    /// are available from `at` the comparison reads them in place (the bytes past the name
    /// are masked off), saving the copy into a padded buffer.
    #[inline]
    pub(crate) fn from_bytes_at(buf: &[u8], at: usize, len: usize) -> HeaderName {
        if (2..=MAX_NAME).contains(&len) {
            // Only the words the name covers are read (most names fit in one or two).
            if let Some(w) = buf.get(at..at + len.div_ceil(8) * 8) {
                return lookup_words(w, len);
            }
        }
        HeaderName::from_bytes(&buf[at..at + len])
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

    /// The word-wise comparison is exactly `eq_ignore_ascii_case`: every single-byte change of
    /// every table name (all 256 values at every position) resolves as a linear scan would.
    #[test]
    fn lookup_matches_a_linear_scan_under_every_byte_change() {
        let reference = |name: &[u8]| {
            if name.len() == 1 {
                return HeaderName::from_bytes(name);
            }
            ALL.iter()
                .find(|(_, t)| t.as_bytes().eq_ignore_ascii_case(name))
                .map_or(HeaderName::Other, |&(h, _)| h)
        };
        for &(_, text) in ALL {
            let mut buf = text.as_bytes().to_vec();
            for i in 0..buf.len() {
                let orig = buf[i];
                for b in 0..=255u8 {
                    buf[i] = b;
                    let want = reference(&buf);
                    assert_eq!(HeaderName::from_bytes(&buf), want, "{buf:?}");
                    let mut padded = buf.clone();
                    padded.extend_from_slice(&[b'x'; 40]);
                    assert_eq!(
                        HeaderName::from_bytes_at(&padded, 0, buf.len()),
                        want,
                        "{buf:?}"
                    );
                }
                buf[i] = orig;
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
