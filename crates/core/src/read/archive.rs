//! Archives (zip, tar): every regular member is handed out with its name, under
//! [`Limits`]. Tar members are slices of the archive (nothing is copied); zip
//! members are decompressed in memory, stopping at the size and ratio limits.

use super::decompress::read_limited;
use super::Content;
use super::{Limits, ReadError};
use crate::format::Format;

/// The bytes of one archive member: a slice of the archive (tar), or read out of
/// it (zip; past [`super::SPILL_AT`] bytes a mapped temporary file).
#[derive(Debug)]
pub enum Member<'a> {
    /// Stored as is in the archive.
    Borrowed(&'a [u8]),
    /// Decompressed.
    Read(Content),
}

impl std::ops::Deref for Member<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Member::Borrowed(b) => b,
            Member::Read(c) => c,
        }
    }
}

/// Calls `f` with the name and the bytes (or the error) of each member of the
/// archive `bytes`, in archive order, passing `remaining` along (the budget left
/// for this input). Returns an error when the archive itself cannot be read, which
/// may happen after some members (a truncated tar).
pub fn for_each_member<'a>(
    format: Format,
    bytes: &'a [u8],
    limits: &Limits,
    remaining: &mut u64,
    mut f: impl FnMut(&str, Result<Member<'a>, ReadError>, &mut u64),
) -> Result<(), ReadError> {
    match format {
        Format::Zip => zip_members(bytes, limits, remaining, &mut f),
        Format::Tar => tar_members(bytes, remaining, &mut f),
        other => Err(ReadError::Unsupported(format!("{other} is not an archive"))),
    }
}

fn corrupt(format: &'static str, e: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt {
        format,
        message: e.to_string(),
    }
}

fn zip_members<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    remaining: &mut u64,
    f: &mut impl FnMut(&str, Result<Member<'a>, ReadError>, &mut u64),
) -> Result<(), ReadError> {
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| corrupt("zip", e))?;
    for i in 0..zip.len() {
        let name = match zip.name_for_index(i) {
            Some(Ok(n)) => n.into_owned(),
            _ => format!("#{i}"),
        };
        if name.ends_with('/') {
            continue;
        }
        let data = match zip.by_index(i) {
            Ok(file) if file.is_dir() => continue,
            Ok(file) if file.encrypted() => Err(ReadError::Unsupported(
                "encrypted zip member; not scanned".into(),
            )),
            Ok(file) => {
                let compressed = file.compressed_size();
                read_limited(file, "zip", compressed, limits, remaining).map(Member::Read)
            }
            Err(e) => Err(corrupt("zip", e)),
        };
        f(&name, data, remaining);
    }
    Ok(())
}

fn tar_members<'a>(
    bytes: &'a [u8],
    remaining: &mut u64,
    f: &mut impl FnMut(&str, Result<Member<'a>, ReadError>, &mut u64),
) -> Result<(), ReadError> {
    let mut archive = tar::Archive::new(bytes);
    let entries = archive.entries().map_err(|e| corrupt("tar", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| corrupt("tar", e))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let name = entry.path().map_or_else(
            |_| String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            |p| p.to_string_lossy().into_owned(),
        );
        let name = name.trim_start_matches("./").to_string();
        let start = entry.raw_file_position() as usize;
        let size = entry.size() as usize;
        match start.checked_add(size).filter(|&e| e <= bytes.len()) {
            Some(end) => f(&name, Ok(Member::Borrowed(&bytes[start..end])), remaining),
            None => {
                f(
                    &name,
                    Err(corrupt("tar", "member runs past the end of the archive")),
                    remaining,
                );
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn make_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    pub(crate) fn make_tar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    type Members = Vec<(String, Result<Vec<u8>, String>)>;

    fn collect(format: Format, bytes: &[u8]) -> (Members, Result<(), String>) {
        let mut out = Vec::new();
        let mut budget = u64::MAX;
        let r = for_each_member(format, bytes, &Limits::default(), &mut budget, |n, d, _| {
            out.push((
                n.to_string(),
                d.map(|c| c.to_vec()).map_err(|e| e.to_string()),
            ));
        });
        (out, r.map_err(|e| e.to_string()))
    }

    #[test]
    fn a_large_zip_member_is_read_into_a_mapped_file() {
        let big: Vec<u8> = (0..super::super::SPILL_AT + 100)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let zip = make_zip(&[("big.txt", &big), ("small.txt", b"hi")]);
        let mut budget = u64::MAX;
        let mut seen = Vec::new();
        for_each_member(
            Format::Zip,
            &zip,
            &Limits::default(),
            &mut budget,
            |n, d, _| {
                let d = d.unwrap();
                let mapped = matches!(d, Member::Read(Content::Mapped(_)));
                seen.push((n.to_string(), mapped, d.len()));
                if n == "big.txt" {
                    assert_eq!(&*d, &big[..]);
                }
            },
        )
        .unwrap();
        assert_eq!(
            seen,
            [
                ("big.txt".to_string(), true, big.len()),
                ("small.txt".to_string(), false, 2)
            ]
        );
        assert_eq!(budget, u64::MAX - big.len() as u64 - 2);
    }

    #[test]
    fn lists_zip_and_tar_members() {
        let members: &[(&str, &[u8])] = &[("a.txt", b"hello"), ("dir/b.jsonl", b"{}\n")];
        for (f, bytes) in [
            (Format::Zip, make_zip(members)),
            (Format::Tar, make_tar(members)),
        ] {
            let (got, r) = collect(f, &bytes);
            assert!(r.is_ok());
            assert_eq!(got.len(), 2);
            assert_eq!(got[1].0, "dir/b.jsonl");
            assert_eq!(got[1].1.as_deref().unwrap(), b"{}\n");
        }
    }

    #[test]
    fn corrupt_archives_are_errors() {
        let z = make_zip(&[("a.txt", &b"hello world ".repeat(100))]);
        let (_, r) = collect(Format::Zip, &z[..z.len() / 2]);
        assert!(r.unwrap_err().contains("zip"));
        // Damage the compressed data only: the member fails, the archive opens.
        let mut bad = z.clone();
        for b in &mut bad[40..60] {
            *b ^= 0x55;
        }
        let (got, r) = collect(Format::Zip, &bad);
        assert!(r.is_ok());
        assert!(got[0].1.is_err(), "{:?}", got[0].1);
        let t = make_tar(&[("a.txt", &[b'x'; 2000])]);
        let (got, _) = collect(Format::Tar, &t[..1000]);
        assert!(got[0].1.is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x0123_4567_89ab_cdefu64;
        let z = make_zip(&[("a", b"abc"), ("b", b"def")]);
        let t = make_tar(&[("a", b"abc")]);
        for n in 0..300 {
            for base in [&z, &t] {
                let mut buf = base.clone();
                for _ in 0..(n % 8) + 1 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let i = (seed as usize) % buf.len();
                    buf[i] = (seed >> 32) as u8;
                }
                let _ = collect(Format::Zip, &buf);
                let _ = collect(Format::Tar, &buf);
            }
        }
    }
}
