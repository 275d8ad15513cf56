//! Errors shared by the codecs.

/// A message could not be decoded (or encoded). Never a panic: every codec in
/// this crate reports malformed input through this type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than the structure needs.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A field has a value the format does not allow.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The structure or field.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl ParseError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        ParseError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}
