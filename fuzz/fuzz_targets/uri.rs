//! `parse_uri` and `parse_name_addr` on arbitrary bytes; walk every accessor; SIP URI
//! equivalence is reflexive; user decoding never grows the user part.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_sip::addr::parse_name_addr;
use sbc_sip::uri::{parse_uri, Uri};

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = parse_uri(data) {
        assert_eq!(u.raw(), data, "a parsed URI covers the whole input");
        sbc_fuzz::walk_uri(&u);
    }
    if let Ok(na) = parse_name_addr(data) {
        sbc_fuzz::walk_name_addr(&na);
        // The URI inside a name-addr parses the same way on its own.
        let again = parse_uri(na.uri.raw());
        assert!(
            again.is_ok(),
            "URI of a name-addr does not re-parse: {:?}",
            String::from_utf8_lossy(na.uri.raw())
        );
        if let (Some(a), Ok(Uri::Sip(b))) = (na.uri.as_sip(), again) {
            assert!(a.equivalent(&b) && b.equivalent(a));
        }
    }
});
