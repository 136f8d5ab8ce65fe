//! RFC 1982 serial number arithmetic, as SOA serials compare.

/// RFC 1982 `a < b` (`a` is older than `b`; undefined pairs, exactly half
/// the number space apart, are neither).
pub fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::serial_lt;

    #[test]
    fn wraps_around() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 1));
        assert!(serial_lt(0xffff_fff0, 5));
        assert!(!serial_lt(7, 7));
        assert!(!serial_lt(0, 0x8000_0000));
        assert!(!serial_lt(0x8000_0000, 0));
    }
}
