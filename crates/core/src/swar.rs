//! Byte tests on a 64-bit word at a time ("SIMD within a register"), for the
//! short stretches where a `memchr` call costs more than it saves.

const ONES: u64 = 0x0101_0101_0101_0101;

/// Bit 7 of every byte of `w` below `n` (`n` at most 0x80), exact for the
/// lowest such byte: above it, a byte may be marked spuriously. So the mask is
/// non-zero exactly when some byte is below `n`, and its lowest set bit marks
/// the first one (little-endian: `trailing_zeros() / 8`).
#[inline(always)]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    debug_assert!(n <= 0x80);
    w.wrapping_sub(ONES * u64::from(n)) & !w & (ONES << 7)
}

/// [`below`] for the bytes of `w` equal to `b`.
#[inline(always)]
pub(crate) fn equal(w: u64, b: u8) -> u64 {
    below(w ^ (ONES * u64::from(b)), 1)
}

/// The little-endian word of `bytes[at..at + 8]`.
#[inline(always)]
pub(crate) fn load(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The index of the first byte of `w` that `test` holds for.
    fn first(w: u64, test: impl Fn(u8) -> bool) -> Option<u32> {
        (0..8).find(|&i| test((w >> (8 * i)) as u8))
    }

    proptest! {
        /// The lowest marked byte is the first byte below `n` (or equal to `b`),
        /// and nothing is marked when there is none, for any bytes, those with
        /// bit 7 set and those next to the one sought included.
        #[test]
        fn the_lowest_mark_is_the_first_byte(
            bytes in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(0x1f), Just(0x20), Just(0x22), Just(0x23),
                    Just(0x5c), Just(0x7f), Just(0x80), Just(0xa2), Just(0xdc), any::<u8>()],
                8,
            ),
            n in 1u8..=0x80,
            b in prop_oneof![Just(b'"'), Just(b'\\'), Just(0u8), Just(0x80u8), any::<u8>()],
        ) {
            let w = u64::from_le_bytes(bytes[..].try_into().unwrap());
            let lowest = |m: u64| (m != 0).then(|| m.trailing_zeros() / 8);
            prop_assert_eq!(lowest(below(w, n)), first(w, |x| x < n));
            prop_assert_eq!(lowest(equal(w, b)), first(w, |x| x == b));
        }
    }
}
