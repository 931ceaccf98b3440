//! Single-token list elements: option-tags, methods, content-codings and language tags.

use super::{ascii_str, err, expect_end, scan_while, token_at};
use crate::error::{Syntax, SyntaxError};
use crate::lex;
use crate::name::HeaderName;
use crate::typed::TypedHeader;

/// One bare token (`option-tag`, `Method`, `content-coding`), nothing after it.
fn check_token(value: &[u8]) -> Result<(), SyntaxError> {
    let (_, end) = token_at(value, 0)?;
    expect_end(value, end)
}

/// `language-tag = primary-tag *( "-" subtag )`, each 1*8 characters (RFC 3261 §20.13). The
/// primary tag is letters only; subtags also take digits, as RFC 5646 tags do (`es-419`).
/// With `star`, the lone `*` of an Accept-Language `language-range` (§20.3) is accepted too.
/// Returns the index after the tag.
pub(super) fn language_end(s: &[u8], pos: usize, star: bool) -> Result<usize, SyntaxError> {
    if star && s.get(pos) == Some(&b'*') {
        return Ok(pos + 1);
    }
    let mut i = pos;
    let mut primary = true;
    loop {
        let start = i;
        i = scan_while(s, i, |b| {
            if primary {
                lex::is_alpha(b)
            } else {
                b.is_ascii_alphanumeric()
            }
        });
        if i == start || i - start > 8 {
            return err(
                if start >= s.len() {
                    Syntax::Empty
                } else {
                    Syntax::Unexpected
                },
                start,
            );
        }
        primary = false;
        if s.get(i) != Some(&b'-') {
            return Ok(i);
        }
        i += 1;
    }
}

fn check_language(value: &[u8]) -> Result<(), SyntaxError> {
    let end = language_end(value, 0, false)?;
    expect_end(value, end)
}

macro_rules! token_header {
    ($(#[$doc:meta])* $ty:ident => $name:ident, check = $check:path, case_insensitive = $ci:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $ty<'a> {
            value: &'a [u8],
        }

        impl<'a> $ty<'a> {
            /// The element as received.
            pub fn as_bytes(&self) -> &'a [u8] {
                self.value
            }

            /// The element as text (always ASCII once parsed).
            pub fn as_str(&self) -> &'a str {
                ascii_str(self.value)
            }

            /// Compares with `other` under this header's comparison rule.
            pub fn is(&self, other: &str) -> bool {
                if $ci {
                    self.value.eq_ignore_ascii_case(other.as_bytes())
                } else {
                    self.value == other.as_bytes()
                }
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = HeaderName::$name;

            fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
                $check(value)?;
                Ok($ty { value })
            }
        }
    };
}

token_header! {
    /// One `Require` option-tag (RFC 3261 §20.32). Option-tags are tokens, compared
    /// case-insensitively (§7.3.1).
    Require => Require, check = check_token, case_insensitive = true
}

token_header! {
    /// One `Supported` option-tag (RFC 3261 §20.37). The header may be empty; see
    /// [`super::empty_list_allowed`].
    Supported => Supported, check = check_token, case_insensitive = true
}

token_header! {
    /// One `Unsupported` option-tag (RFC 3261 §20.40).
    Unsupported => Unsupported, check = check_token, case_insensitive = true
}

token_header! {
    /// One `Proxy-Require` option-tag (RFC 3261 §20.29).
    ProxyRequire => ProxyRequire, check = check_token, case_insensitive = true
}

token_header! {
    /// One `Allow` method (RFC 3261 §20.5). Methods are case-sensitive (§7.1), so
    /// [`Allow::is`] compares exactly. The header may be empty; see
    /// [`super::empty_list_allowed`].
    Allow => Allow, check = check_token, case_insensitive = false
}

token_header! {
    /// One `Content-Encoding` content-coding (RFC 3261 §20.12), e.g. `gzip`.
    ContentEncoding => ContentEncoding, check = check_token, case_insensitive = true
}

token_header! {
    /// One `Content-Language` language-tag (RFC 3261 §20.13), e.g. `fr`, `en-gb`.
    ContentLanguage => ContentLanguage, check = check_language, case_insensitive = true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_option_tags() {
        // RFC 3261 §20.32, §20.37, §20.40, §20.29 examples.
        assert!(Require::parse(b"100rel").unwrap().is("100REL"));
        assert_eq!(Supported::parse(b"100rel").unwrap().as_str(), "100rel");
        assert_eq!(Unsupported::parse(b"foo").unwrap().as_bytes(), b"foo");
        assert!(ProxyRequire::parse(b"foo").unwrap().is("foo"));
        assert_eq!(Supported::NAME, HeaderName::Supported);
        assert_eq!(ProxyRequire::NAME, HeaderName::ProxyRequire);
    }

    #[test]
    fn rfc4475_bext01() {
        // RFC 4475 §3.3.5 bext01: unknown option tags, one element each after comma splitting.
        for v in [&b"nothingSupportsThis"[..], b"nothingSupportsThisEither"] {
            assert!(Require::parse(v).is_ok());
        }
        for v in [&b"noProxiesSupportThis"[..], b"norDoAnyProxiesSupportThis"] {
            assert!(ProxyRequire::parse(v).is_ok());
        }
    }

    #[test]
    fn bad_tokens() {
        assert_eq!(Require::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Require::parse(b"a b"), err(Syntax::Trailing, 2));
        assert_eq!(Require::parse(b"a,b"), err(Syntax::Trailing, 1));
        assert_eq!(Supported::parse(b"\"x\""), err(Syntax::Unexpected, 0));
        assert_eq!(
            Require::parse(b"timer\r\n "),
            Ok(Require {
                value: b"timer\r\n "
            })
        );
    }

    #[test]
    fn allow_methods_are_case_sensitive() {
        // RFC 3261 §20.5: "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE".
        for m in ["INVITE", "ACK", "OPTIONS", "CANCEL", "BYE"] {
            let a = Allow::parse(m.as_bytes()).unwrap();
            assert!(a.is(m));
            assert!(!a.is(&m.to_ascii_lowercase()));
        }
        assert_eq!(Allow::NAME, HeaderName::Allow);
    }

    #[test]
    fn content_encoding_and_language() {
        // RFC 3261 §20.12 "Content-Encoding: gzip", "e: tar"; §20.13 "Content-Language: fr".
        assert!(ContentEncoding::parse(b"gzip").unwrap().is("GZIP"));
        assert!(ContentEncoding::parse(b"tar").is_ok());
        assert!(ContentLanguage::parse(b"fr").unwrap().is("FR"));
        assert!(ContentLanguage::parse(b"en-gb").is_ok());
        assert!(ContentLanguage::parse(b"es-419").is_ok());
        assert_eq!(
            ContentLanguage::parse(b"toolonglang"),
            err(Syntax::Unexpected, 0)
        );
        assert_eq!(ContentLanguage::parse(b"en-"), err(Syntax::Empty, 3));
        assert_eq!(ContentLanguage::parse(b"en_US"), err(Syntax::Trailing, 2));
        assert_eq!(ContentLanguage::parse(b"*"), err(Syntax::Unexpected, 0));
        assert_eq!(ContentLanguage::parse(b"1en"), err(Syntax::Unexpected, 0));
    }
}
