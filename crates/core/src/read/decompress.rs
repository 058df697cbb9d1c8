//! Compressed streams (gzip, zstd, bzip2, xz), decompressed in memory under
//! [`Limits`]: a stream that grows past the member or total size, or past the
//! allowed ratio, stops with a clear error instead of filling memory.

use std::io::Read;

use super::{Limits, ReadError, RATIO_FLOOR};
use crate::format::Format;

/// Decompresses a whole `input` stream of `format`. `remaining` is the budget left
/// for this input (see [`Limits::max_total_size`]); it is reduced by the output
/// size.
pub fn decompress(
    format: Format,
    input: &[u8],
    limits: &Limits,
    remaining: &mut u64,
) -> Result<Vec<u8>, ReadError> {
    let name = format_name(format);
    let reader: Box<dyn Read + '_> = match format {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Format::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(input).map_err(|e| ReadError::Corrupt {
                format: name,
                message: e.to_string(),
            })?,
        ),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        Format::Xz => Box::new(lzma_rust2::XzReader::new(input, true)),
        other => {
            return Err(ReadError::Unsupported(format!(
                "{other} is not a compressed stream"
            )))
        }
    };
    read_limited(reader, name, input.len() as u64, limits, remaining)
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

/// Reads all of `reader` (the decoder of `compressed` bytes) under the limits.
pub(crate) fn read_limited(
    mut reader: impl Read,
    format: &'static str,
    compressed: u64,
    limits: &Limits,
    remaining: &mut u64,
) -> Result<Vec<u8>, ReadError> {
    let mut out: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let message = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    format!("unexpected end of stream ({e})")
                } else {
                    e.to_string()
                };
                return Err(ReadError::Corrupt { format, message });
            }
        };
        let len = (out.len() + n) as u64;
        if len > limits.max_member_size {
            return Err(ReadError::TooLarge {
                limit: limits.max_member_size,
                flag: "--max-member-size",
            });
        }
        if len > *remaining {
            return Err(ReadError::TooLarge {
                limit: limits.max_total_size,
                flag: "--max-decompressed-size",
            });
        }
        if len > RATIO_FLOOR && len > compressed.max(1).saturating_mul(limits.max_ratio) {
            return Err(ReadError::Ratio {
                max_ratio: limits.max_ratio,
                compressed,
                decompressed: len,
            });
        }
        out.extend_from_slice(&buf[..n]);
    }
    *remaining -= out.len() as u64;
    Ok(out)
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
            decompress(Format::Gzip, &gz(&data), &limits, &mut budget).unwrap(),
            data
        );
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(
            decompress(Format::Zstd, &z, &limits, &mut budget).unwrap(),
            data
        );
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&data).unwrap();
        let bz = bz.finish().unwrap();
        assert_eq!(
            decompress(Format::Bzip2, &bz, &limits, &mut budget).unwrap(),
            data
        );
        assert_eq!(budget, limits.max_total_size - 3 * data.len() as u64);
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
