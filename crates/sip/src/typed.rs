//! The contract between the message index and the lazily typed header views.
//!
//! A typed header is parsed from one header *value element* (for list headers, one
//! comma-separated element; otherwise the whole value, folding included) only when somebody
//! asks for it, and it borrows from the message buffer, so it costs no allocation.

use crate::error::SyntaxError;
use crate::name::HeaderName;

/// A header that can be viewed as a typed value borrowing from the message.
pub trait TypedHeader<'a>: Sized {
    /// The header this type decodes.
    const NAME: HeaderName;

    /// Parses one value element (already split at top-level commas for list headers, and
    /// trimmed of surrounding LWS). Offsets in the error are relative to `value`.
    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError>;
}
