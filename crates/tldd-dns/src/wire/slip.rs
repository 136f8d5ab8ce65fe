//! What rate limiting (`server::rrl`) sends instead of a response it
//! holds back but lets *slip*: the response rewritten in place, in its own
//! buffer, to header, question and OPT — nothing allocated, nothing
//! re-encoded (the OPT record, with the reply's cookie, is moved up
//! behind the question).
use super::answer::rcode::BADCOOKIE;
use super::Query;

/// Turns the response `out[..len]` to the query `q` (with its OPT record
/// at `opt_at`, 0: none) into what rate limiting sends instead of it
/// (`server::rrl`): header, question and OPT only, with TC=1 so the client
/// retries over TCP — or, when `badcookie`, BADCOOKIE (RFC 7873 §5.2.3),
/// whose OPT already carries a fresh server cookie for the client to retry
/// with over UDP. Returns the new length.
pub fn reply(out: &mut [u8], len: usize, q: &Query, opt_at: u16, badcookie: bool) -> usize {
    let qend = q.question_end.min(len);
    let opt_at = opt_at as usize;
    let mut n = qend;
    let has_opt = opt_at >= qend && opt_at + 11 <= len;
    if has_opt {
        out.copy_within(opt_at..len, qend);
        n = qend + (len - opt_at);
    }
    if n < 12 {
        return len;
    }
    let ar: u16 = has_opt.into();
    out[6..10].fill(0);
    out[10..12].copy_from_slice(&ar.to_be_bytes());
    if badcookie && has_opt {
        // AA off, RCODE 23: its low four bits in the header, the upper
        // ones in the OPT TTL's first byte.
        out[2] &= !0x04;
        out[3] = (out[3] & 0xf0) | (BADCOOKIE & 0xf) as u8;
        out[qend + 5] = (BADCOOKIE >> 4) as u8;
    } else {
        out[2] |= 0x02;
    }
    n
}
