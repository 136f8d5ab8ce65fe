//! Query fast path.
