//! Signing keys behind one interface. Not yet implemented.
