//! Output files that are atomic and private.
//!
//! Every file the library creates (a redacted copy, a quarantined file, a manifest, a
//! report) is first written to a temporary file in the destination folder, flushed
//! to disk, then renamed to its final name. A crash or a kill mid-write therefore
//! leaves at most a stray `.datasieve-*.tmp` file, never a half-written file under
//! the final name. Files are created readable by the owner only (mode `0600` on
//! unix), and an existing file is never replaced unless the caller asks
//! ([`Overwrite::Replace`]).
//!
//! ```
//! use datasieve::write::{write_file, Overwrite};
//! let dir = tempfile::tempdir()?;
//! let dest = dir.path().join("out/clean.txt");
//! write_file(&dest, b"hello", Overwrite::Refuse)?;
//! assert_eq!(std::fs::read(&dest)?, b"hello");
//! // A second write is refused: the file exists.
//! assert!(write_file(&dest, b"again", Overwrite::Refuse).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Prefix of temporary files, so that strays left by a killed run are recognisable.
pub const TEMP_PREFIX: &str = ".datasieve-";
/// Suffix of temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";

/// What to do when the destination already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overwrite {
    /// Fail with [`WriteError::Exists`] (the default).
    #[default]
    Refuse,
    /// Replace it atomically (`--force`, `--in-place`).
    Replace,
}

/// Why an output could not be written. Always names the path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The destination exists and overwriting was not asked for.
    #[error("{}: already exists (use --force to overwrite)", path.display())]
    Exists {
        /// The destination.
        path: PathBuf,
    },
    /// An I/O error while creating, writing or renaming.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl WriteError {
    fn io(path: &Path, source: io::Error) -> Self {
        WriteError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A file being written under a temporary name next to its destination; it gets
/// its final name only on [`AtomicFile::commit`]. Dropping it without committing
/// removes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: BufWriter<NamedTempFile>,
    dest: PathBuf,
    overwrite: Overwrite,
}

impl AtomicFile {
    /// Starts writing `dest`: creates its parent folders and a private temporary file
    /// beside it. Fails early when `dest` exists and `overwrite` is
    /// [`Overwrite::Refuse`] (the final rename checks again).
    pub fn create(dest: &Path, overwrite: Overwrite) -> Result<Self, WriteError> {
        if overwrite == Overwrite::Refuse && exists(dest) {
            return Err(WriteError::Exists {
                path: dest.to_path_buf(),
            });
        }
        let dir = parent_dir(dest);
        std::fs::create_dir_all(dir).map_err(|e| WriteError::io(dir, e))?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o600));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| WriteError::io(dest, e))?;
        Ok(AtomicFile {
            tmp: BufWriter::with_capacity(1 << 16, tmp),
            dest: dest.to_path_buf(),
            overwrite,
        })
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes the data to disk and renames the temporary file to the destination.
    pub fn commit(self) -> Result<(), WriteError> {
        let dest = self.dest;
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| WriteError::io(&dest, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| WriteError::io(&dest, e))?;
        let persisted = match self.overwrite {
            Overwrite::Refuse => tmp.persist_noclobber(&dest),
            Overwrite::Replace => tmp.persist(&dest),
        };
        if let Err(e) = persisted {
            return Err(if e.error.kind() == io::ErrorKind::AlreadyExists {
                WriteError::Exists { path: dest }
            } else {
                WriteError::io(&dest, e.error)
            });
        }
        sync_dir(parent_dir(&dest));
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tmp.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// Writes `bytes` to `dest` atomically, owner-only.
pub fn write_file(dest: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), WriteError> {
    write_with(dest, overwrite, |w| w.write_all(bytes))
}

/// Writes `dest` atomically with what `fill` writes. When `fill` fails, nothing
/// appears under `dest` and the temporary file is removed.
pub fn write_with(
    dest: &Path,
    overwrite: Overwrite,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let mut file = AtomicFile::create(dest, overwrite)?;
    fill(&mut file).map_err(|e| WriteError::io(dest, e))?;
    file.commit()
}

/// Copies `src` to `dest` atomically; the copy is owner-only.
pub fn copy_file(src: &Path, dest: &Path, overwrite: Overwrite) -> Result<(), WriteError> {
    let mut input = File::open(src).map_err(|e| WriteError::io(src, e))?;
    let mut file = AtomicFile::create(dest, overwrite)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WriteError::io(src, e)),
        };
        file.write_all(&buf[..n])
            .map_err(|e| WriteError::io(dest, e))?;
    }
    file.commit()
}

/// Moves `src` to `dest`, owner-only. Within one file system the file is renamed
/// (first to a temporary name beside `dest`, made private, then to `dest`), so its
/// bytes are never copied; across file systems it is copied atomically and the
/// source removed once the copy is on disk. Either way `dest` only ever holds the
/// whole file.
pub fn move_file(src: &Path, dest: &Path, overwrite: Overwrite) -> Result<(), WriteError> {
    if overwrite == Overwrite::Refuse && exists(dest) {
        return Err(WriteError::Exists {
            path: dest.to_path_buf(),
        });
    }
    let dir = parent_dir(dest);
    std::fs::create_dir_all(dir).map_err(|e| WriteError::io(dir, e))?;
    // Reserve a temporary name beside the destination, then rename the source over it.
    let slot = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| WriteError::io(dest, e))?
        .into_temp_path();
    match std::fs::rename(src, &slot) {
        Ok(()) => {
            set_private(&slot).map_err(|e| WriteError::io(dest, e))?;
            let persisted = match overwrite {
                Overwrite::Refuse => slot.persist_noclobber(dest),
                Overwrite::Replace => slot.persist(dest),
            };
            if let Err(e) = persisted {
                // Put the source back rather than lose it in a temporary file.
                let _ = std::fs::rename(&e.path, src);
                return Err(if e.error.kind() == io::ErrorKind::AlreadyExists {
                    WriteError::Exists {
                        path: dest.to_path_buf(),
                    }
                } else {
                    WriteError::io(dest, e.error)
                });
            }
            sync_dir(dir);
            Ok(())
        }
        Err(_) => {
            // Another file system (or a rename we may not do): copy, then remove.
            drop(slot);
            copy_file(src, dest, overwrite)?;
            std::fs::remove_file(src).map_err(|e| WriteError::io(src, e))
        }
    }
}

/// True when something (a file, a folder, a dangling link) is at `path`.
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Makes an existing file owner-only (a no-op off unix).
pub fn set_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Where the files of a run go under an output folder: each input keeps its path
/// relative to the deepest folder that holds every input argument (a folder
/// argument counts as itself, a file argument as its parent). So `data/` gives
/// `OUT/train/a.jsonl` for `data/train/a.jsonl`, and `data/train data/test` give
/// `OUT/train/...` and `OUT/test/...`.
///
/// ```
/// use std::path::{Path, PathBuf};
/// use datasieve::write::Layout;
/// let layout = Layout::new(&[PathBuf::from("/data/train"), PathBuf::from("/data/test/x.csv")])?;
/// assert_eq!(layout.base(), Path::new("/data"));
/// assert_eq!(layout.relative(Path::new("/data/train/a/b.jsonl")), Path::new("train/a/b.jsonl"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    base: PathBuf,
}

impl Layout {
    /// The layout of a run over `args` (paths as the user gave them; `-` is ignored).
    pub fn new(args: &[PathBuf]) -> io::Result<Self> {
        let mut base: Option<PathBuf> = None;
        for arg in args.iter().filter(|a| a.as_os_str() != "-") {
            let abs = absolute(arg)?;
            let dir = if arg.is_dir() {
                abs
            } else {
                abs.parent().map_or(abs.clone(), Path::to_path_buf)
            };
            base = Some(match base {
                None => dir,
                Some(b) => b
                    .components()
                    .zip(dir.components())
                    .take_while(|(x, y)| x == y)
                    .map(|(x, _)| x)
                    .collect(),
            });
        }
        let base = match base {
            Some(b) => b,
            None => std::env::current_dir()?,
        };
        Ok(Layout { base })
    }

    /// The folder every input is under.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The path of `input` relative to the base (its file name when it is not
    /// under the base).
    pub fn relative(&self, input: &Path) -> PathBuf {
        let abs = absolute(input).unwrap_or_else(|_| input.to_path_buf());
        match abs.strip_prefix(&self.base) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
            _ => PathBuf::from(input.file_name().unwrap_or(input.as_os_str())),
        }
    }
}

/// `path` made absolute against the current folder, with `.` and `..` resolved
/// lexically (symbolic links are not resolved).
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename durable. Best effort: not every platform can open a folder.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_creates_parents_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a/b/c.txt");
        write_file(&dest, b"one", Overwrite::Refuse).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        let err = write_file(&dest, b"two", Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, WriteError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("c.txt") && err.to_string().contains("--force"));
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        write_file(&dest, b"two", Overwrite::Replace).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        assert_eq!(entries(dest.parent().unwrap()), vec!["c.txt"]);
    }

    #[test]
    fn clobber_check_also_holds_at_rename_time() {
        // The destination appears while we write: the rename must not replace it.
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("race.txt");
        let mut f = AtomicFile::create(&dest, Overwrite::Refuse).unwrap();
        f.write_all(b"ours").unwrap();
        std::fs::write(&dest, b"theirs").unwrap();
        assert!(matches!(f.commit(), Err(WriteError::Exists { .. })));
        assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
        assert_eq!(entries(dir.path()), vec!["race.txt"]);
    }

    /// A writer that fails half-way, as a crash mid-run would.
    #[test]
    fn interrupted_write_leaves_no_file_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.jsonl");
        let err = write_with(&dest, Overwrite::Refuse, |w| {
            w.write_all(b"{\"a\":1}\n{\"b\":")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
        assert!(!exists(&dest));
        assert!(entries(dir.path()).is_empty(), "temporary file removed");
        // Same when the writer is dropped (panic, early return) without commit.
        let mut f = AtomicFile::create(&dest, Overwrite::Refuse).unwrap();
        f.write_all(&vec![b'x'; 1 << 20]).unwrap();
        drop(f);
        assert!(!exists(&dest));
        assert!(entries(dir.path()).is_empty());
        // And an existing file being replaced keeps its old content on failure.
        std::fs::write(&dest, b"old").unwrap();
        let _ = write_with(&dest, Overwrite::Replace, |w| {
            w.write_all(b"new, half")?;
            Err(io::Error::other("killed"))
        });
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let a = dir.path().join("a.txt");
        write_file(&a, b"x", Overwrite::Refuse).unwrap();
        assert_eq!(mode(&a), 0o600);
        let src = dir.path().join("src.txt");
        std::fs::write(&src, b"data").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
        let b = dir.path().join("copy/b.txt");
        copy_file(&src, &b, Overwrite::Refuse).unwrap();
        assert_eq!(mode(&b), 0o600);
        let c = dir.path().join("moved/c.txt");
        move_file(&src, &c, Overwrite::Refuse).unwrap();
        assert_eq!(mode(&c), 0o600);
        assert!(!exists(&src));
        assert_eq!(std::fs::read(&c).unwrap(), b"data");
    }

    #[test]
    fn layout_keeps_paths_relative_to_the_common_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("data/train/sub")).unwrap();
        std::fs::create_dir_all(root.join("data/test")).unwrap();
        std::fs::write(root.join("data/test/x.csv"), "a").unwrap();
        let one = Layout::new(&[root.join("data")]).unwrap();
        assert_eq!(
            one.relative(&root.join("data/train/sub/a.jsonl")),
            Path::new("train/sub/a.jsonl")
        );
        let two = Layout::new(&[root.join("data/train"), root.join("data/test/x.csv")]).unwrap();
        assert_eq!(two.base(), root.join("data"));
        assert_eq!(
            two.relative(&root.join("data/test/x.csv")),
            Path::new("test/x.csv")
        );
        let file = Layout::new(&[root.join("data/test/x.csv")]).unwrap();
        assert_eq!(
            file.relative(&root.join("data/test/x.csv")),
            Path::new("x.csv")
        );
        assert_eq!(
            absolute(Path::new("/a/./b/../c")).unwrap(),
            Path::new("/a/c")
        );
    }

    #[test]
    fn move_refuses_to_clobber_and_keeps_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.txt");
        let dest = dir.path().join("d.txt");
        std::fs::write(&src, b"src").unwrap();
        std::fs::write(&dest, b"dest").unwrap();
        assert!(matches!(
            move_file(&src, &dest, Overwrite::Refuse),
            Err(WriteError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&src).unwrap(), b"src");
        assert_eq!(std::fs::read(&dest).unwrap(), b"dest");
        move_file(&src, &dest, Overwrite::Replace).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"src");
        assert_eq!(entries(dir.path()), vec!["d.txt"]);
    }
}
