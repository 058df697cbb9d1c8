//! Sources: turns the paths a user names into a sorted list of inputs. Folders are
//! walked (hidden files included, `.gitignore` not honoured, symlinks not followed
//! unless asked, `.git` internals skipped unless asked).

use std::path::{Path, PathBuf};

/// One thing to scan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// Standard input (named `-`).
    Stdin,
    /// A file on disk.
    File(PathBuf),
}

impl Input {
    /// The path shown in reports.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// How folders are walked.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Follow symbolic links.
    pub follow_links: bool,
    /// Also scan inside `.git` folders.
    pub include_git: bool,
}

/// A path that could not be listed.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkError {
    /// The path.
    pub path: String,
    /// Why.
    pub message: String,
}

/// Expands user arguments into inputs (sorted, de-duplicated) and errors.
pub fn collect_inputs(args: &[PathBuf], opts: &WalkOptions) -> (Vec<Input>, Vec<WalkError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        walk_one(arg, opts, &mut inputs, &mut errors);
    }
    inputs.sort();
    inputs.dedup();
    (inputs, errors)
}

fn walk_one(root: &Path, opts: &WalkOptions, inputs: &mut Vec<Input>, errors: &mut Vec<WalkError>) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(opts.follow_links)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| opts.include_git || e.depth() == 0 || e.file_name() != ".git");
    for entry in walker {
        match entry {
            Ok(e) => {
                let ft = e.file_type();
                if ft.is_file() || (ft.is_symlink() && e.depth() == 0) {
                    inputs.push(Input::File(e.into_path()));
                } else if ft.is_symlink() && !opts.follow_links && e.depth() > 0 {
                    // Not followed: skipped silently, as documented.
                } else if !ft.is_dir() && !ft.is_symlink() {
                    // Sockets, fifos, devices: only scanned when named directly.
                    if e.depth() == 0 {
                        inputs.push(Input::File(e.into_path()));
                    }
                }
            }
            Err(err) => {
                let path = err.path().unwrap_or(root).display().to_string();
                let message = match err.io_error() {
                    Some(io) => io.to_string(),
                    None => err.to_string(),
                };
                errors.push(WalkError { path, message });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_hidden_files_skips_git_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        std::fs::write(root.join(".env"), "x").unwrap();
        std::fs::write(root.join("sub/b.txt"), "x").unwrap();
        std::fs::write(root.join("a.txt"), "x").unwrap();
        let (inputs, errors) = collect_inputs(&[root.to_path_buf()], &WalkOptions::default());
        assert!(errors.is_empty());
        let names: Vec<String> = inputs
            .iter()
            .map(|i| {
                i.display()
                    .trim_start_matches(&root.display().to_string())
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["/.env", "/a.txt", "/sub/b.txt"]);
        let (inputs, _) = collect_inputs(
            &[root.to_path_buf()],
            &WalkOptions {
                include_git: true,
                ..Default::default()
            },
        );
        assert_eq!(inputs.len(), 4);
    }

    #[test]
    fn missing_path_is_an_error_not_a_panic() {
        let (inputs, errors) =
            collect_inputs(&[PathBuf::from("/no/such/dir/x")], &WalkOptions::default());
        assert!(inputs.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].path.contains("/no/such/dir/x"));
    }
}
