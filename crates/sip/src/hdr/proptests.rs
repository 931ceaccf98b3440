//! No typed-header parser may panic, loop or report an offset outside its input, whatever
//! the bytes (RFC 4475 §1: "must not crash").

use proptest::prelude::*;

use super::*;
use crate::error::SyntaxError;
use crate::typed::TypedHeader;

/// Bytes that steer the parsers into their interesting paths, plus a few hostile ones.
const ALPHABET: &[u8] =
    b"0123456789aAzZ-.!%*_+`'~;=,\"\\()<>@:/[]?{} \t\r\n\x00\x7f\xc3\xa9\xff*qQ";

/// Valid starts, so the tails hit the deeper parts of each grammar.
const PREFIXES: &[&[u8]] = &[
    b"Digest realm=\"a\", ",
    b"SIP ;cause=",
    b"multipart/mixed;boundary=",
    b"4000;refresher=",
    b"abc@def;to-tag=1;from-tag=",
    b"Sat, 13 Nov 2010 23:29:00 ",
    b"307 isi.edu \"",
    b"120 (",
    b"active;expires=",
    b"<a@",
];

fn ok_offset(r: &Result<impl Sized, SyntaxError>, len: usize) -> bool {
    r.as_ref().err().is_none_or(|e| e.at <= len)
}

/// Parses `v` with every view and touches every getter.
fn exercise(v: &[u8]) {
    let n = v.len();
    macro_rules! check {
        ($t:ty, |$x:ident| $body:expr) => {{
            let r = <$t as TypedHeader>::parse(v);
            assert!(
                ok_offset(&r, n),
                "{}: offset out of range: {:?}",
                stringify!($t),
                r.as_ref().err()
            );
            if let Ok($x) = r {
                let _ = $body;
            }
        }};
    }
    check!(Require, |x| (x.as_str(), x.is("a")));
    check!(Supported, |x| x.as_bytes());
    check!(Unsupported, |x| x.as_bytes());
    check!(ProxyRequire, |x| x.as_bytes());
    check!(Allow, |x| x.is("INVITE"));
    check!(ContentEncoding, |x| x.as_str());
    check!(ContentLanguage, |x| x.as_str());
    check!(AllowEvents, |x| (
        x.event_type().package(),
        x.event_type().templates()
    ));
    check!(Event, |x| (
        x.event_type().package(),
        x.event_type().templates(),
        x.id(),
        x.params().iter().count()
    ));
    check!(SessionExpires, |x| (
        x.seconds(),
        x.refresher(),
        x.params().iter().count()
    ));
    check!(MinSe, |x| (x.seconds(), x.params().iter().count()));
    check!(Replaces, |x| (
        x.call_id(),
        x.to_tag(),
        x.from_tag(),
        x.early_only()
    ));
    check!(Reason, |x| (x.protocol(), x.cause(), x.text(), x.is_sip()));
    check!(Privacy, |x| (x.values().count(), x.contains("id")));
    check!(RetryAfter, |x| (
        x.seconds(),
        x.comment(),
        x.duration(),
        x.params().iter().count()
    ));
    check!(ContentType, |x| (
        x.mtype(),
        x.subtype(),
        x.boundary(),
        x.param("charset"),
        x.is("a", "b")
    ));
    check!(ContentId, |x| (x.id(), x.left(), x.right()));
    check!(ContentDisposition, |x| (
        x.disp_type(),
        x.handling(),
        x.is_required()
    ));
    check!(Accept, |x| (
        x.q(),
        x.matches("text", "plain"),
        x.params().iter().count()
    ));
    check!(AcceptEncoding, |x| (x.coding(), x.q()));
    check!(AcceptLanguage, |x| (x.range(), x.q()));
    check!(RSeq, |x| x.value());
    check!(RAck, |x| (x.rseq(), x.cseq(), x.method()));
    check!(SubscriptionState, |x| (
        x.state(),
        x.expires(),
        x.retry_after(),
        x.reason()
    ));
    check!(Priority, |x| x);
    check!(GeolocationRouting, |x| x);
    check!(GeolocationError, |x| (x.code(), x.text()));
    check!(Expires, |x| x.seconds());
    check!(MinExpires, |x| x.seconds());
    check!(Date, |x| x.unix_time());
    check!(Warning, |x| (x.code(), x.agent(), x.text()));
    check!(Subject, |x| x.as_str());
    check!(UserAgent, |x| x.as_str());
    check!(Server, |x| x.as_str());
    check!(Timestamp, |x| (x.value(), x.delay()));
    check!(MimeVersion, |x| (x.major(), x.minor()));
    check!(Authorization, |x| (
        x.scheme(),
        x.params().count(),
        x.param("realm")
    ));
    check!(ProxyAuthorization, |x| x.params().count());
    check!(WwwAuthenticate, |x| x.params().count());
    check!(ProxyAuthenticate, |x| x.params().count());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(v in prop::collection::vec(any::<u8>(), 0..200)) {
        exercise(&v);
    }

    #[test]
    fn never_panics_on_sip_like_bytes(v in prop::collection::vec(prop::sample::select(ALPHABET), 0..120)) {
        exercise(&v);
    }

    #[test]
    fn never_panics_with_valid_prefixes(
        prefix in prop::sample::select(PREFIXES),
        tail in prop::collection::vec(prop::sample::select(ALPHABET), 0..40),
    ) {
        let mut v = prefix.to_vec();
        v.extend_from_slice(&tail);
        exercise(&v);
    }
}
