//! Compressed streams (gzip, zstd, bzip2, xz), decompressed whole ([`decompress`],
//! into a [`Spill`]: past [`SPILL_AT`] bytes a mapped temporary file) or block by
//! block (`Stream`, which the scan uses for JSON Lines, text and CSV) under
//! [`Limits`]: a stream that grows past the member or total size, or past the
//! allowed ratio, stops with a clear error instead of filling memory.

use std::io::Read;

use super::{Content, Limits, ReadError, Spill, RATIO_FLOOR, SPILL_AT};
use crate::format::Format;

/// Decompresses a whole `input` stream of `format`. `remaining` is the budget left
/// for this input (see [`Limits::max_total_size`]); it is reduced by the output
/// size.
pub fn decompress(
    format: Format,
    input: &[u8],
    limits: &Limits,
    remaining: &mut u64,
) -> Result<Content, ReadError> {
    let mut stream = Stream::open(format, input, limits, *remaining)?;
    let mut spill = Spill::new(SPILL_AT);
    stream.read_rest(&mut spill)?;
    *remaining -= stream.total();
    spill.finish().map_err(ReadError::spill)
}

/// A compressed stream decompressed block by block under [`Limits`], so that a
/// caller can scan one block while the next is decoded and never hold the whole
/// stream.
pub(crate) struct Stream<'a> {
    reader: Box<dyn Read + Send + 'a>,
    limit: Limiter,
    total: u64,
}

impl<'a> Stream<'a> {
    /// A decoder of `input`, with `remaining` bytes left of the input's budget.
    pub(crate) fn open(
        format: Format,
        input: &'a [u8],
        limits: &Limits,
        remaining: u64,
    ) -> Result<Self, ReadError> {
        let name = format_name(format);
        let reader: Box<dyn Read + Send + 'a> = match format {
            Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Format::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(
                |e| ReadError::Corrupt {
                    format: name,
                    message: e.to_string(),
                },
            )?),
            Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
            Format::Xz => Box::new(lzma_rust2::XzReader::new(input, true)),
            other => {
                return Err(ReadError::Unsupported(format!(
                    "{other} is not a compressed stream"
                )))
            }
        };
        Ok(Stream {
            reader,
            limit: Limiter {
                format: name,
                compressed: input.len() as u64,
                limits: *limits,
                remaining,
            },
            total: 0,
        })
    }

    /// Appends up to `want` decompressed bytes to `out` (fewer only at the end of
    /// the stream); returns how many, 0 at the end.
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> Result<usize, ReadError> {
        let mut got = 0;
        while got < want {
            let n = read_some(&mut self.reader, out, want - got, self.limit.format)?;
            if n == 0 {
                break;
            }
            got += n;
            self.total += n as u64;
            self.limit.check(self.total)?;
        }
        Ok(got)
    }

    /// Bytes decompressed so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Decompresses the rest of the stream into `spill`.
    pub(crate) fn read_rest(&mut self, spill: &mut Spill) -> Result<(), ReadError> {
        let mut block = Vec::with_capacity(BLOCK);
        loop {
            block.clear();
            if self.fill(&mut block, BLOCK)? == 0 {
                return Ok(());
            }
            spill.append(&block).map_err(ReadError::spill)?;
        }
    }
}

/// Bytes decompressed at a time into a [`Spill`].
const BLOCK: usize = 1 << 20;

/// The limits on one stream or member: checked against its size so far.
struct Limiter {
    format: &'static str,
    compressed: u64,
    limits: Limits,
    remaining: u64,
}

impl Limiter {
    fn check(&self, len: u64) -> Result<(), ReadError> {
        let limits = &self.limits;
        if len > limits.max_member_size {
            return Err(ReadError::TooLarge {
                limit: limits.max_member_size,
                flag: "--max-member-size",
            });
        }
        if len > self.remaining {
            return Err(ReadError::TooLarge {
                limit: limits.max_total_size,
                flag: "--max-decompressed-size",
            });
        }
        if len > RATIO_FLOOR && len > self.compressed.max(1).saturating_mul(limits.max_ratio) {
            return Err(ReadError::Ratio {
                max_ratio: limits.max_ratio,
                compressed: self.compressed,
                decompressed: len,
            });
        }
        Ok(())
    }
}

/// One read of at most `most` (and 64 KiB) bytes appended to `out`.
fn read_some(
    reader: &mut impl Read,
    out: &mut Vec<u8>,
    most: usize,
    format: &'static str,
) -> Result<usize, ReadError> {
    let at = out.len();
    out.resize(at + most.min(64 << 10), 0);
    loop {
        match reader.read(&mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.truncate(at);
                let message = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    format!("unexpected end of stream ({e})")
                } else {
                    e.to_string()
                };
                return Err(ReadError::Corrupt { format, message });
            }
        }
    }
}

/// The name used in messages.
pub(crate) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Gzip => "gzip",
        Format::Zstd => "zstd",
        Format::Bzip2 => "bzip2",
        Format::Xz => "xz",
        Format::Zip => "zip",
        Format::Tar => "tar",
        other => other.as_str(),
    }
}

/// Reads all of `reader` (a stream or archive member of `format`, `compressed`
/// bytes in the input) under `limits`; `remaining` is reduced by the output size.
pub(crate) fn read_limited(
    mut reader: impl Read,
    format: &'static str,
    compressed: u64,
    limits: &Limits,
    remaining: &mut u64,
) -> Result<Content, ReadError> {
    let limit = Limiter {
        format,
        compressed,
        limits: *limits,
        remaining: *remaining,
    };
    let mut spill = Spill::new(SPILL_AT);
    let mut block = Vec::with_capacity(64 << 10);
    loop {
        block.clear();
        if read_some(&mut reader, &mut block, usize::MAX, format)? == 0 {
            break;
        }
        spill.append(&block).map_err(ReadError::spill)?;
        limit.check(spill.len())?;
    }
    *remaining -= spill.len();
    spill.finish().map_err(ReadError::spill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_every_codec() {
        let data = b"hello jane.roe@corp-mail.net\n".repeat(100);
        let limits = Limits::default();
        let mut budget = limits.max_total_size;
        assert_eq!(
            &*decompress(Format::Gzip, &gz(&data), &limits, &mut budget).unwrap(),
            &data[..]
        );
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(
            &*decompress(Format::Zstd, &z, &limits, &mut budget).unwrap(),
            &data[..]
        );
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&data).unwrap();
        let bz = bz.finish().unwrap();
        assert_eq!(
            &*decompress(Format::Bzip2, &bz, &limits, &mut budget).unwrap(),
            &data[..]
        );
        assert_eq!(budget, limits.max_total_size - 3 * data.len() as u64);
        // Past the spill size the stream is held in a mapped temporary file.
        let large = b"hello jane.roe@corp-mail.net\n".repeat(SPILL_AT / 10);
        let held = decompress(Format::Gzip, &gz(&large), &limits, &mut budget).unwrap();
        assert!(matches!(held, Content::Mapped(_)));
        assert_eq!(&*held, &large[..]);
    }

    #[test]
    fn truncated_and_corrupt_streams_are_errors() {
        let data = b"some text that compresses\n".repeat(1000);
        let g = gz(&data);
        let mut budget = u64::MAX;
        for (f, bytes) in [
            (Format::Gzip, &g[..g.len() / 2]),
            (Format::Gzip, &b"\x1f\x8b\x08\x00garbage"[..]),
            (Format::Zstd, &b"\x28\xb5\x2f\xfdgarbage"[..]),
            (Format::Bzip2, &b"BZh9garbage"[..]),
            (Format::Xz, &b"\xfd7zXZ\x00garbage"[..]),
        ] {
            let e = decompress(f, bytes, &Limits::default(), &mut budget).unwrap_err();
            assert!(matches!(e, ReadError::Corrupt { .. }), "{f}: {e}");
        }
    }

    #[test]
    fn bombs_hit_the_ratio_and_size_limits() {
        let bomb = gz(&vec![0u8; 8 << 20]);
        let mut budget = u64::MAX;
        let e = decompress(Format::Gzip, &bomb, &Limits::default(), &mut budget).unwrap_err();
        assert!(matches!(e, ReadError::Ratio { .. }), "{e}");
        assert!(e.to_string().contains("--max-ratio"));
        let limits = Limits {
            max_ratio: u64::MAX,
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let e = decompress(Format::Gzip, &bomb, &limits, &mut budget).unwrap_err();
        assert!(e.to_string().contains("--max-member-size"), "{e}");
        let mut small = 1000;
        let e = decompress(
            Format::Gzip,
            &gz(&[b'a'; 5000]),
            &Limits::default(),
            &mut small,
        )
        .unwrap_err();
        assert!(e.to_string().contains("--max-decompressed-size"), "{e}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0xdead_beef_cafe_f00du64;
        for n in 0..300 {
            let mut buf: Vec<u8> = (0..(n % 200))
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for (f, magic) in [
                (Format::Gzip, &b"\x1f\x8b\x08\x00"[..]),
                (Format::Zstd, b"\x28\xb5\x2f\xfd"),
                (Format::Bzip2, b"BZh9"),
                (Format::Xz, b"\xfd7zXZ\x00"),
            ] {
                let mut b = magic.to_vec();
                b.append(&mut buf.clone());
                let mut budget = 1 << 24;
                let _ = decompress(f, &b, &Limits::default(), &mut budget);
            }
            buf.clear();
        }
    }
}
