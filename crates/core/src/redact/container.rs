//! Containers on the way out: compressed streams are compressed again with the
//! same codec; zip and tar archives are rebuilt member by member, each member
//! redacted as its own input. Members that do not change are copied as they were
//! (zip members without even being recompressed), and an archive where nothing
//! changes is not rewritten at all.

use std::io::{self, Cursor, Read, Write};

use super::{RedactError, Redacted};
use crate::format::Format;
use crate::read::decompress::read_limited;
use crate::read::{Limits, ReadError};

/// Compresses `data` as `fmt` (gzip, zstd, bzip2, xz) at the codec's default level.
pub(super) fn compress(fmt: Format, data: &[u8]) -> io::Result<Vec<u8>> {
    match fmt {
        Format::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Format::Zstd => zstd::stream::encode_all(data, 3),
        Format::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Format::Xz => {
            let mut e =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6))?;
            e.write_all(data)?;
            e.finish()
        }
        other => Err(io::Error::other(format!(
            "{other} is not a compressed stream"
        ))),
    }
}

/// A redacted member.
pub(super) type Member<'a> =
    dyn FnMut(&str, &str, &[u8], &mut u64) -> Result<Redacted, RedactError> + 'a;

/// Adds a member's result to the archive's.
fn absorb(total: &mut Redacted, r: Redacted) {
    total.findings.extend(r.findings);
    for (k, v) in r.applied {
        *total.applied.entry(k).or_default() += v;
    }
    total.records.add(&r.records);
    total.rechecked += r.rechecked;
}

/// Rebuilds archive `bytes` with every regular member passed through `member`
/// (called with the member's display path, its name and its bytes).
pub(super) fn rewrite_archive(
    fmt: Format,
    path: &str,
    bytes: &[u8],
    limits: &Limits,
    remaining: &mut u64,
    member: &mut Member<'_>,
) -> Result<Redacted, RedactError> {
    let err = |format: &'static str, e: &dyn std::fmt::Display| RedactError::Parse {
        path: path.to_string(),
        message: ReadError::Corrupt {
            format,
            message: e.to_string(),
        }
        .to_string(),
    };
    match fmt {
        Format::Zip => rewrite_zip(path, bytes, limits, remaining, member).map_err(|e| match e {
            ArchiveError::Redact(r) => r,
            ArchiveError::Other(m) => err("zip", &m),
        }),
        Format::Tar => rewrite_tar(path, bytes, limits, remaining, member).map_err(|e| match e {
            ArchiveError::Redact(r) => r,
            ArchiveError::Other(m) => err("tar", &m),
        }),
        other => Err(RedactError::Parse {
            path: path.to_string(),
            message: format!("{other} is not an archive"),
        }),
    }
}

enum ArchiveError {
    Redact(RedactError),
    Other(String),
}

impl From<RedactError> for ArchiveError {
    fn from(e: RedactError) -> Self {
        ArchiveError::Redact(e)
    }
}

impl From<zip::result::ZipError> for ArchiveError {
    fn from(e: zip::result::ZipError) -> Self {
        ArchiveError::Other(e.to_string())
    }
}

impl From<io::Error> for ArchiveError {
    fn from(e: io::Error) -> Self {
        ArchiveError::Other(e.to_string())
    }
}

impl From<ReadError> for ArchiveError {
    fn from(e: ReadError) -> Self {
        ArchiveError::Other(e.to_string())
    }
}

fn rewrite_zip(
    path: &str,
    bytes: &[u8],
    limits: &Limits,
    remaining: &mut u64,
    member: &mut Member<'_>,
) -> Result<Redacted, ArchiveError> {
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;
    let mut zin = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut zout = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zout.set_raw_comment(zin.comment().to_vec().into_boxed_slice())?;
    let mut total = Redacted::default();
    let mut changed = false;
    for i in 0..zin.len() {
        let (name, is_dir, encrypted, method, modified, mode, compressed) = {
            let f = zin.by_index_raw(i)?;
            (
                f.name()
                    .map_or_else(|_| format!("#{i}"), |n| n.into_owned()),
                f.is_dir(),
                f.encrypted(),
                f.compression(),
                f.last_modified(),
                f.unix_mode(),
                f.compressed_size(),
            )
        };
        if is_dir || name.ends_with('/') {
            zout.raw_copy_file(zin.by_index_raw(i)?)?;
            continue;
        }
        if encrypted {
            return Err(ArchiveError::Other(format!(
                "{name}: encrypted member; it cannot be scanned, so the archive is not redacted"
            )));
        }
        let data = read_limited(zin.by_index(i)?, "zip", compressed, limits, remaining)?;
        let r = member(&format!("{path}!{name}"), &name, &data, remaining)?;
        let output = r.output.clone();
        absorb(&mut total, r);
        match output {
            None => zout.raw_copy_file(zin.by_index_raw(i)?)?,
            Some(out) => {
                changed = true;
                let method = match method {
                    CompressionMethod::Stored | CompressionMethod::Deflated => method,
                    _ => CompressionMethod::Deflated,
                };
                let mut opts = SimpleFileOptions::default()
                    .compression_method(method)
                    .large_file(out.len() as u64 >= u32::MAX as u64);
                if let Some(m) = modified {
                    opts = opts.last_modified_time(m);
                }
                if let Some(mode) = mode {
                    opts = opts.unix_permissions(mode);
                }
                zout.start_file(name, opts)?;
                zout.write_all(&out)?;
            }
        }
    }
    let out = zout.finish()?.into_inner();
    if changed {
        total.output = Some(out);
    }
    Ok(total)
}

fn rewrite_tar(
    path: &str,
    bytes: &[u8],
    limits: &Limits,
    remaining: &mut u64,
    member: &mut Member<'_>,
) -> Result<Redacted, ArchiveError> {
    let mut archive = tar::Archive::new(bytes);
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Complete);
    let mut total = Redacted::default();
    let mut changed = false;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        let kind = header.entry_type();
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        let entry_path = entry.path()?.into_owned();
        let link = entry.link_name()?.map(|l| l.into_owned());
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        if kind.is_file() || kind == tar::EntryType::Continuous {
            let size = data.len() as u64;
            if size > limits.max_member_size {
                return Err(ReadError::TooLarge {
                    limit: limits.max_member_size,
                    flag: "--max-member-size",
                }
                .into());
            }
            if size > *remaining {
                return Err(ReadError::TooLarge {
                    limit: limits.max_total_size,
                    flag: "--max-total-size",
                }
                .into());
            }
            *remaining -= size;
            let r = member(&format!("{path}!{name}"), &name, &data, remaining)?;
            if let Some(out) = r.output.clone() {
                changed = true;
                data = out;
            }
            absorb(&mut total, r);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, &entry_path, &data[..])?;
        } else if let (Some(target), true) = (link, kind.is_hard_link() || kind.is_symlink()) {
            builder.append_link(&mut header, &entry_path, &target)?;
        } else if kind.is_pax_global_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            header.set_cksum();
            builder.append(&header, &data[..])?;
        } else {
            builder.append_data(&mut header, &entry_path, &data[..])?;
        }
    }
    let out = builder.into_inner()?;
    if changed {
        total.output = Some(out);
    }
    Ok(total)
}
