//! Readers: give the scanner a byte slice. Large regular files are memory-mapped,
//! small files, pipes and stdin are read.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// Files at least this large are memory-mapped by default.
pub const DEFAULT_MMAP_THRESHOLD: u64 = 1 << 20;
/// Bytes looked at to decide whether a file is binary.
pub const BINARY_SNIFF_LEN: usize = 8192;

/// The bytes of one input.
#[derive(Debug)]
pub enum Content {
    /// Read into memory.
    Owned(Vec<u8>),
    /// Memory-mapped.
    Mapped(memmap2::Mmap),
}

impl Deref for Content {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Content::Owned(v) => v,
            Content::Mapped(m) => m,
        }
    }
}

/// Reads a file: memory-mapped when it is a regular file of at least
/// `mmap_threshold` bytes, read otherwise.
pub fn read_file(path: &Path, mmap_threshold: u64) -> std::io::Result<Content> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    if meta.is_file() && meta.len() >= mmap_threshold && meta.len() > 0 {
        // SAFETY: the map is read-only and private to this process. If another process
        // truncates the file while we scan it, reads past the new end raise SIGBUS;
        // like ripgrep we accept this for the speed of mmap on large inputs, and
        // users can disable mmap (`--no-mmap`) where inputs change under us.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        return Ok(Content::Mapped(map));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    (&file).read_to_end(&mut buf)?;
    Ok(Content::Owned(buf))
}

/// Reads all of a reader (stdin, a pipe).
pub fn read_all(mut reader: impl Read) -> std::io::Result<Content> {
    let mut buf = Vec::new();
    reader.read_to_end(&mut buf)?;
    Ok(Content::Owned(buf))
}

/// True when the first bytes hold a NUL byte, the usual sign of a binary file.
pub fn looks_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF_LEN)]).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_read_large_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        std::fs::write(&p, b"hello world").unwrap();
        assert!(matches!(read_file(&p, 1 << 20).unwrap(), Content::Owned(_)));
        let c = read_file(&p, 1).unwrap();
        assert!(matches!(c, Content::Mapped(_)));
        assert_eq!(&*c, b"hello world");
        assert!(read_file(dir.path(), 1).is_err());
    }

    #[test]
    fn binary_sniffing() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary(b"plain text"));
    }
}
