//! Dialed-number normalisation shared by classification, ELIN and callback matching.

use sbc_sip::uri::Uri;

/// Longest number accepted (E.164 allows 15 digits; a few more for `*`/`#` service codes and
/// international prefixes). Longer inputs are not numbers for our purposes.
pub const MAX_NUMBER_LEN: usize = 32;

/// The number with visual separators (`-`, `.`, `(`, `)`, space; RFC 3966 §3) removed and a
/// leading `+` kept. `None` when anything else than digits, `*`, `#` appears, when there is
/// no digit, or when it is longer than [`MAX_NUMBER_LEN`].
pub fn normalize_number(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len().min(MAX_NUMBER_LEN));
    let mut digits = 0usize;
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                out.push(char::from(b));
            }
            b'*' | b'#' => out.push(char::from(b)),
            b'+' if i == 0 => out.push('+'),
            b'-' | b'.' | b'(' | b')' | b' ' => {}
            _ => return None,
        }
        if out.len() > MAX_NUMBER_LEN {
            return None;
        }
    }
    (digits > 0).then_some(out)
}

/// The dialed number carried by a URI: the number of a `tel:` URI (RFC 3966), or the user part
/// of a `sip:`/`sips:` URI, %-decoded and cut at the first `;` (user-part parameters such as
/// `;phone-context=`, RFC 3261 §19.1.6). `None` for other schemes or non-numeric users.
pub fn uri_number(uri: &Uri<'_>) -> Option<String> {
    match uri {
        Uri::Tel(t) => normalize_number(t.number),
        Uri::Sip(s) => {
            s.user?;
            let mut user = Vec::new();
            s.decode_user(&mut user);
            let end = user.iter().position(|&b| b == b';').unwrap_or(user.len());
            normalize_number(&user[..end])
        }
        Uri::Absolute(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbc_sip::uri::parse_uri;

    #[test]
    fn normalizes_separators_and_plus() {
        assert_eq!(normalize_number(b"911").as_deref(), Some("911"));
        assert_eq!(
            normalize_number(b"+1 (425) 555-0100").as_deref(),
            Some("+14255550100")
        );
        assert_eq!(normalize_number(b"1+1"), None);
        assert_eq!(normalize_number(b"alice"), None);
        assert_eq!(normalize_number(b"--"), None);
        assert_eq!(normalize_number(b""), None);
        assert_eq!(normalize_number(&[b'1'; 40]), None);
        assert_eq!(normalize_number(b"*99#").as_deref(), Some("*99#"));
    }

    #[test]
    fn numbers_from_uris() {
        let n = |s: &[u8]| uri_number(&parse_uri(s).unwrap());
        assert_eq!(
            n(b"sip:911@sbc.example.com;user=phone").as_deref(),
            Some("911")
        );
        assert_eq!(
            n(b"sip:911;phone-context=+1@sbc.example.com").as_deref(),
            Some("911")
        );
        assert_eq!(n(b"sip:%39%31%31@sbc.example.com").as_deref(), Some("911"));
        assert_eq!(n(b"tel:+1-425-555-0100").as_deref(), Some("+14255550100"));
        assert_eq!(n(b"sip:sbc.example.com"), None);
        assert_eq!(n(b"sip:alice@example.com"), None);
        assert_eq!(n(b"urn:service:sos"), None);
    }
}
