//! Readers: give the scanner a byte slice. Large regular files are memory-mapped,
//! small files, pipes and stdin are read; compressed streams ([`decompress`]) and
//! archive members ([`archive`]) are expanded under hard [`Limits`] on size and
//! ratio. What must be held whole past [`SPILL_AT`] bytes (a large pipe, a
//! decompressed tar or JSON document) goes to a temporary file that is mapped
//! ([`Spill`]), so that the heap does not grow with it.
//!
//! ```
//! use datasieve::read::{decompress::decompress, Limits};
//! use datasieve::format::Format;
//! let mut budget = Limits::default().max_total_size;
//! let err = decompress(Format::Gzip, b"\x1f\x8b\x08 not really gzip", &Limits::default(), &mut budget);
//! assert!(err.unwrap_err().to_string().contains("gzip"));
//! ```

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

pub mod archive;
pub mod decompress;

/// Hard limits on what compressed streams and archives may expand to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most bytes one compressed stream or archive member may decompress to.
    pub max_member_size: u64,
    /// Most bytes all compressed streams and members of one input may decompress
    /// to, together.
    pub max_total_size: u64,
    /// Largest decompressed/compressed size ratio of a stream or member (checked
    /// once it holds more than [`RATIO_FLOOR`] bytes).
    pub max_ratio: u64,
    /// Deepest nesting of archives (an archive inside an archive is depth 2).
    pub max_archive_depth: usize,
}

/// Parses a byte size: a number with an optional unit (`K`, `M`, `G`, `T`, with or
/// without `B`/`iB`; powers of 1024).
///
/// ```
/// use datasieve::read::parse_size;
/// assert_eq!(parse_size("4GiB"), Ok(4 << 30));
/// assert_eq!(parse_size("500m"), Ok(500 << 20));
/// assert_eq!(parse_size("1234"), Ok(1234));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number like 512M or 4GiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("invalid size unit in {text:?}: use K, M, G or T")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Decompressed sizes up to this are never refused for their ratio: small,
/// very regular files compress extremely well without being bombs.
pub const RATIO_FLOOR: u64 = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_member_size: 4 << 30,
            max_total_size: 4 << 30,
            max_ratio: 200,
            max_archive_depth: 3,
        }
    }
}

/// Why a compressed stream or archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The data is corrupt or cut short.
    #[error("{format} data is corrupt or truncated: {message}")]
    Corrupt {
        /// Format name (`gzip`, `zip`, ...).
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// A stream or member expands past the size limit.
    #[error("decompressed size exceeds the limit of {limit} bytes ({flag})")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
        /// The option that sets it.
        flag: &'static str,
    },
    /// A stream or member expands too much for its compressed size.
    #[error("compression ratio exceeds {max_ratio} ({compressed} bytes expand past {decompressed} bytes; --max-ratio): possible decompression bomb")]
    Ratio {
        /// The limit.
        max_ratio: u64,
        /// Compressed size.
        compressed: u64,
        /// Decompressed bytes when the read stopped.
        decompressed: u64,
    },
    /// Archives nested deeper than allowed.
    #[error("nested archive deeper than {0} levels (--max-archive-depth); not scanned")]
    TooDeep(usize),
    /// Something the library does not read (encrypted member, ...).
    #[error("{0}")]
    Unsupported(String),
    /// The decompressed bytes could not be held (their temporary file failed).
    #[error("{0}")]
    Spill(String),
}

impl ReadError {
    /// A [`Spill`] that failed, as the error of the stream or member it held.
    pub(crate) fn spill(e: std::io::Error) -> Self {
        ReadError::Spill(e.to_string())
    }
}

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

impl AsRef<[u8]> for Content {
    fn as_ref(&self) -> &[u8] {
        self
    }
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

/// Slices shorter than this are not prefaulted (small files are read, not
/// mapped; a system call would cost more than it saves).
const PREFAULT_MIN: usize = 1 << 20;

/// Maps the pages of `bytes` (those entirely inside it) into the process before
/// they are read, where the system can: one `madvise(MADV_POPULATE_READ)` for
/// the whole range instead of one page fault every 16 pages as a scan first
/// touches a memory-mapped file (the 210 MB corpus at `-j1`: 0.829 -> 0.799 s
/// median of 15 alternated runs, warm page cache; BENCHMARKS.md, "Twelfth
/// session"). Callers prefault what they are about
/// to scan, a chunk at a time, so that on a cold page cache reading from disk
/// still overlaps the scan of the chunks before. No effect on the bytes; errors
/// (an old kernel, a file truncated under the map) are ignored: the pages then
/// fault in as they are read, as without this call.
pub fn prefault(bytes: &[u8]) {
    if bytes.len() < PREFAULT_MIN {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf reads a constant of the system.
        #[allow(unsafe_code)]
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(0);
        if page == 0 {
            return;
        }
        let start = (bytes.as_ptr() as usize).next_multiple_of(page);
        let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
        if end > start {
            // SAFETY: the range covers whole pages inside `bytes`, memory that is
            // mapped and readable for as long as the borrow lives; POPULATE_READ
            // only faults those pages in for reading (it neither writes them nor
            // changes the mapping), and fails without effect where it cannot.
            #[allow(unsafe_code)]
            let _ = unsafe {
                libc::madvise(
                    start as *mut libc::c_void,
                    end - start,
                    libc::MADV_POPULATE_READ,
                )
            };
        }
    }
}

/// Reads all of a reader (stdin, a pipe): held in memory up to [`SPILL_AT`]
/// bytes, past that in a temporary file (see [`Spill`]).
pub fn read_all(reader: impl Read) -> std::io::Result<Content> {
    let mut spill = Spill::new(SPILL_AT);
    std::io::copy(
        &mut std::io::BufReader::with_capacity(256 << 10, reader),
        &mut spill,
    )?;
    spill.finish()
}

/// Bytes that must be held whole (a pipe, a decompressed stream or archive
/// member in a format that is not scanned block by block) stay in memory up to
/// this size; larger ones go to a temporary file.
pub const SPILL_AT: usize = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// Bytes written in order and then read whole, without holding them all on the
/// heap: in memory up to a threshold, past it in an unlinked temporary file (in
/// `TMPDIR`) that [`Spill::finish`] memory-maps, so that what is held is page
/// cache the kernel can drop, not anonymous memory. When no temporary file can be
/// created the bytes stay in memory and [`Spill::note`] says why.
#[derive(Debug)]
pub struct Spill {
    mem: Vec<u8>,
    file: Option<std::io::BufWriter<File>>,
    len: u64,
    threshold: usize,
    note: Option<String>,
}

impl Spill {
    /// An empty buffer that moves to a temporary file past `threshold` bytes.
    pub fn new(threshold: usize) -> Self {
        Spill {
            mem: Vec::new(),
            file: None,
            len: 0,
            threshold,
            note: None,
        }
    }

    /// Appends `data`. Fails only when writing the temporary file fails (a full
    /// disk): the bytes cannot be held then. (Also `std::io::Write`.)
    pub fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.len += data.len() as u64;
        if let Some(file) = &mut self.file {
            return file
                .write_all(data)
                .map_err(|e| spill_error("writing to", e));
        }
        if self.note.is_none() && self.mem.len() + data.len() > self.threshold {
            match tempfile::tempfile() {
                Ok(file) => {
                    let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
                    file.write_all(&self.mem)
                        .and_then(|()| file.write_all(data))
                        .map_err(|e| spill_error("writing to", e))?;
                    self.mem = Vec::new();
                    self.file = Some(file);
                    return Ok(());
                }
                Err(e) => {
                    self.note = Some(format!(
                        "held in memory: no temporary file could be created ({e}); set TMPDIR to a writable folder"
                    ))
                }
            }
        }
        self.mem.extend_from_slice(data);
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why the bytes stayed in memory past the threshold, if they did.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The bytes written: in memory, or the temporary file mapped (it disappears
    /// with the map).
    pub fn finish(self) -> std::io::Result<Content> {
        let Some(file) = self.file else {
            return Ok(Content::Owned(self.mem));
        };
        let file = file
            .into_inner()
            .map_err(|e| spill_error("writing to", e.into_error()))?;
        // SAFETY: the file is unlinked and private to this process; nothing else
        // can change it while it is mapped.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }
            .map_err(|e| spill_error("mapping", e))?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Content::Mapped(map))
    }
}

impl std::io::Write for Spill {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.append(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn spill_error(what: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!("{what} the temporary file that holds the decompressed or piped bytes: {e} (TMPDIR sets its folder)"),
    )
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
    fn spill_holds_small_data_in_memory_and_large_data_in_a_mapped_file() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut small = Spill::new(1 << 20);
        small.append(&data[..1000]).unwrap();
        small.append(&data[1000..2000]).unwrap();
        assert_eq!(small.len(), 2000);
        let held = small.finish().unwrap();
        assert!(matches!(held, Content::Owned(_)));
        assert_eq!(&*held, &data[..2000]);
        let mut large = Spill::new(1 << 20);
        for part in data.chunks(300_001) {
            large.append(part).unwrap();
        }
        assert_eq!(large.len(), data.len() as u64);
        assert!(large.note().is_none());
        let held = large.finish().unwrap();
        assert!(matches!(held, Content::Mapped(_)));
        assert_eq!(&*held, &data[..]);
        assert!(Spill::new(10).finish().unwrap().is_empty());
    }

    #[test]
    fn a_large_pipe_is_held_in_a_mapped_file() {
        let data = vec![b'x'; SPILL_AT + 12345];
        let held = read_all(&data[..]).unwrap();
        assert!(matches!(held, Content::Mapped(_)));
        assert_eq!(held.len(), data.len());
        assert!(matches!(
            read_all(&b"small"[..]).unwrap(),
            Content::Owned(_)
        ));
    }

    /// Minor page faults of the calling thread so far.
    #[cfg(target_os = "linux")]
    fn thread_faults() -> i64 {
        // SAFETY: getrusage writes the struct it is given.
        #[allow(unsafe_code)]
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
            usage.ru_minflt
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn prefaulted_pages_are_read_without_faults() {
        let data: Vec<u8> = (0..16_000_000u32).map(|i| (i * 13 % 241) as u8).collect();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &data).unwrap();
        // Reads one byte of every page of `bytes`; returns the faults it took.
        let touch = |bytes: &[u8]| {
            let before = thread_faults();
            let sum = bytes
                .iter()
                .step_by(512)
                .fold(0u64, |s, &b| s + u64::from(b));
            std::hint::black_box(sum);
            thread_faults() - before
        };
        let lazy = read_file(file.path(), 1).unwrap();
        assert!(matches!(lazy, Content::Mapped(_)));
        // (a sub-slice that starts and ends inside pages)
        let inner = 1001..data.len() - 999;
        let cold = touch(&lazy[inner.clone()]);
        let eager = read_file(file.path(), 1).unwrap();
        prefault(&eager[inner.clone()]);
        let warm = touch(&eager[inner.clone()]);
        // (16 MB fault in 14 times here, in large folios; 4 KiB pages, 64 KiB
        // around each fault, would take ~250)
        assert!(cold > 2, "a mapped file faults as it is read: {cold}");
        // (the two pages cut by the slice's ends may still fault)
        assert!(warm <= 2, "prefaulted: {warm} faults");
        assert_eq!(&eager[inner.clone()], &data[inner]);
        // Short slices are left alone; heap memory is populated like any other,
        // its bytes unchanged.
        prefault(&data);
        prefault(&data[..10]);
        prefault(&[]);
        assert_eq!(&*eager, &data[..]);
        assert_eq!(data[12_345], (12_345u32 * 13 % 241) as u8);
    }

    #[test]
    fn binary_sniffing() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary(b"plain text"));
    }
}
