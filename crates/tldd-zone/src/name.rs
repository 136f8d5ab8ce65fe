//! Domain names as uncompressed wire bytes.
//!
//! The store and the fast path keep names as plain wire format (length-prefixed
//! labels ending in the root label). Owner names used as keys are lower-cased
//! once, at load, so a lookup is a byte comparison; names inside RDATA keep the
//! case they were given. These helpers are deliberately tiny and allocation
//! free; anything that needs the full `Name` type uses hickory-proto.

/// Largest wire length of a name (RFC 1035 §3.1).
pub const MAX_NAME: usize = 255;

/// Why a name could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label")]
    EmptyLabel,
    #[error("label longer than 63 bytes")]
    LongLabel,
    #[error("name longer than 255 bytes")]
    LongName,
    #[error("bad escape sequence")]
    BadEscape,
}

/// Appends the wire form of a presentation-format name to `out`.
///
/// `origin` (wire) is appended to relative names; `@` is the origin itself.
/// Escapes `\X` and `\DDD` are honoured. With `lower`, ASCII letters are
/// lower-cased (for owner names used as keys).
pub fn from_text(
    text: &[u8],
    origin: &[u8],
    lower: bool,
    out: &mut Vec<u8>,
) -> Result<(), NameError> {
    let start = out.len();
    if text == b"@" {
        out.extend_from_slice(origin);
        return Ok(());
    }
    if text == b"." {
        out.push(0);
        return Ok(());
    }
    let mut i = 0;
    let mut label_start = out.len();
    out.push(0);
    let mut absolute = false;
    while i < text.len() {
        let c = text[i];
        match c {
            b'.' => {
                let len = out.len() - label_start - 1;
                if len == 0 {
                    return Err(NameError::EmptyLabel);
                }
                if len > 63 {
                    return Err(NameError::LongLabel);
                }
                out[label_start] = len as u8;
                if i + 1 == text.len() {
                    absolute = true;
                } else {
                    label_start = out.len();
                    out.push(0);
                }
                i += 1;
            }
            b'\\' => {
                let (byte, used) = unescape(&text[i + 1..]).ok_or(NameError::BadEscape)?;
                out.push(if lower {
                    byte.to_ascii_lowercase()
                } else {
                    byte
                });
                i += 1 + used;
            }
            _ => {
                out.push(if lower { c.to_ascii_lowercase() } else { c });
                i += 1;
            }
        }
    }
    if !absolute {
        let len = out.len() - label_start - 1;
        if len == 0 {
            return Err(NameError::EmptyLabel);
        }
        if len > 63 {
            return Err(NameError::LongLabel);
        }
        out[label_start] = len as u8;
        out.extend_from_slice(origin);
    } else {
        out.push(0);
    }
    if out.len() - start > MAX_NAME {
        return Err(NameError::LongName);
    }
    Ok(())
}

/// Decodes one escape (the bytes after the backslash): `\DDD` or `\X`.
pub fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
        let v =
            (rest[0] - b'0') as u32 * 100 + (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
        (v <= 255).then_some((v as u8, 3))
    } else {
        rest.first().map(|&b| (b, 1))
    }
}

/// Number of labels, not counting the root.
pub fn label_count(name: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < name.len() && name[i] != 0 {
        n += 1;
        i += 1 + name[i] as usize;
    }
    n
}

/// True when `name` equals `parent` or lies below it (both lower-case wire).
pub fn is_below_or_at(name: &[u8], parent: &[u8]) -> bool {
    if name.len() < parent.len() || !name.ends_with(parent) {
        return false;
    }
    // The suffix must start on a label boundary.
    let cut = name.len() - parent.len();
    let mut i = 0;
    while i < cut {
        i += 1 + name[i] as usize;
    }
    i == cut
}

/// Case-insensitive comparison of two wire names.
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Lower-cases a wire name in place (label length bytes are < 64, unaffected).
pub fn lowercase(name: &mut [u8]) {
    name.make_ascii_lowercase();
}

/// Strips the first label.
pub fn parent(name: &[u8]) -> Option<&[u8]> {
    if name.first().copied().unwrap_or(0) == 0 {
        None
    } else {
        Some(&name[1 + name[0] as usize..])
    }
}

/// Presentation form, with a trailing dot.
pub fn to_text(name: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    if name.first().copied().unwrap_or(0) == 0 {
        return ".".into();
    }
    while i < name.len() && name[i] != 0 {
        let len = name[i] as usize;
        for &b in &name[i + 1..(i + 1 + len).min(name.len())] {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(b as char);
                }
                0x21..=0x7e => s.push(b as char),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
        s.push('.');
        i += 1 + len;
    }
    s
}

/// Reads an uncompressed wire name at the start of `buf`; returns its length.
pub fn wire_len(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let len = *buf.get(i)? as usize;
        if len == 0 {
            return (i < MAX_NAME).then_some(i + 1);
        }
        if len > 63 {
            return None;
        }
        i += 1 + len;
        if i >= MAX_NAME {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
        v
    }

    #[test]
    fn text_round_trip() {
        let origin = w("shop.");
        let mut v = Vec::new();
        from_text(b"Www.Example", &origin, true, &mut v).unwrap();
        assert_eq!(to_text(&v), "www.example.shop.");
        assert_eq!(label_count(&v), 3);
        v.clear();
        from_text(b"@", &origin, true, &mut v).unwrap();
        assert_eq!(v, origin);
        v.clear();
        from_text(b"a\\.b.", &origin, false, &mut v).unwrap();
        assert_eq!(to_text(&v), "a\\.b.");
    }

    #[test]
    fn bad_names() {
        let mut v = Vec::new();
        assert_eq!(
            from_text(b"a..b.", &[0], true, &mut v),
            Err(NameError::EmptyLabel)
        );
        v.clear();
        let long = "a".repeat(64);
        assert_eq!(
            from_text(long.as_bytes(), &[0], true, &mut v),
            Err(NameError::LongLabel)
        );
    }

    #[test]
    fn below() {
        assert!(is_below_or_at(&w("a.shop."), &w("shop.")));
        assert!(is_below_or_at(&w("shop."), &w("shop.")));
        assert!(!is_below_or_at(&w("xshop."), &w("shop.")));
        assert!(!is_below_or_at(&w("com."), &w("shop.")));
    }
}
