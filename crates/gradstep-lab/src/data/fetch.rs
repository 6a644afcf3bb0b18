//! Finding, downloading and checking data files.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Digest;

use super::{DataError, Result};

/// A published checksum of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-1, hex (the source text's convention).
    Sha1(&'static str),
    /// SHA-256, hex.
    Sha256(&'static str),
}

impl Checksum {
    /// Checks the file at `path`.
    ///
    /// # Errors
    /// [`DataError::Io`] if the file cannot be read, [`DataError::Checksum`] if it differs.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::data::{Checksum, DataError};
    ///
    /// let file = std::env::temp_dir().join("gradstep-lab-doc-checksum.txt");
    /// std::fs::write(&file, "abc")?;
    /// Checksum::Sha1("a9993e364706816aba3e25717850c26c9cd0d89d").verify(&file)?;
    /// let wrong = Checksum::Sha256("00").verify(&file);
    /// assert!(matches!(wrong, Err(DataError::Checksum { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, path: &Path) -> Result<()> {
        let mut file =
            std::fs::File::open(path).map_err(|source| DataError::Io { path: path.into(), source })?;
        let mut buf = vec![0u8; 1 << 16];
        let mut sha1 = sha1::Sha1::new();
        let mut sha256 = sha2::Sha256::new();
        loop {
            let n = file.read(&mut buf).map_err(|source| DataError::Io { path: path.into(), source })?;
            if n == 0 {
                break;
            }
            match self {
                Checksum::Sha1(_) => sha1.update(&buf[..n]),
                Checksum::Sha256(_) => sha256.update(&buf[..n]),
            }
        }
        let (algorithm, expected, actual) = match self {
            Checksum::Sha1(e) => ("sha1", *e, hex(&sha1.finalize())),
            Checksum::Sha256(e) => ("sha256", *e, hex(&sha256.finalize())),
        };
        if actual.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(DataError::Checksum { path: path.into(), algorithm, expected: expected.into(), actual })
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A data file with its canonical URL and checksum.
///
/// # Example
/// ```
/// use gradstep_lab::data::airfoil;
///
/// assert_eq!(airfoil::FILE.name, "airfoil_self_noise.dat");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// The file name, as stored in a data directory.
    pub name: &'static str,
    /// Where to download it from.
    pub url: &'static str,
    /// Its published checksum.
    pub checksum: Checksum,
}

/// Where data files are looked for, and whether missing ones are downloaded.
///
/// # Example
/// ```
/// use gradstep_lab::data::DataDir;
///
/// // Only look in one directory and never download (what tests and offline builds want).
/// let dir = DataDir::at("/path/to/data");
/// assert!(!dir.downloads());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    search: Vec<PathBuf>,
    cache: Option<PathBuf>,
    download: bool,
}

/// The environment variable naming a directory that holds the data files.
pub const ENV_VAR: &str = "GRADSTEP_DATA_DIR";

impl DataDir {
    /// `GRADSTEP_DATA_DIR` if set, then the cache directory (`$XDG_CACHE_HOME/gradstep`, or
    /// `$HOME/.cache/gradstep`), downloading into the cache when the `download` feature is on.
    pub fn from_env() -> Self {
        let search: Vec<PathBuf> = std::env::var_os(ENV_VAR).map(PathBuf::from).into_iter().collect();
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("gradstep"));
        Self { search, cache, download: cfg!(feature = "download") }
    }

    /// Only `dir`, without downloading.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { search: vec![dir.into()], cache: None, download: false }
    }

    /// Whether a missing file would be downloaded.
    pub fn downloads(&self) -> bool {
        self.download && self.cache.is_some()
    }

    /// The path of `file`, after checking its checksum; downloads it into the cache if it is
    /// nowhere to be found and downloading is on. A cached file with a wrong checksum (an
    /// interrupted or corrupted download) is fetched again; a wrong file in a directory the
    /// user named is an error.
    ///
    /// # Errors
    /// [`DataError::Checksum`] for a file with the wrong checksum, [`DataError::NotFound`]
    /// if it is nowhere and cannot be downloaded, [`DataError::Download`] or
    /// [`DataError::Io`] if downloading fails.
    ///
    /// # Example
    /// ```no_run
    /// use gradstep_lab::data::{DataDir, airfoil};
    ///
    /// let path = DataDir::from_env().locate(&airfoil::FILE)?;
    /// # Ok::<(), gradstep_lab::data::DataError>(())
    /// ```
    pub fn locate(&self, file: &RemoteFile) -> Result<PathBuf> {
        for dir in &self.search {
            let p = dir.join(file.name);
            if p.is_file() {
                file.checksum.verify(&p)?;
                return Ok(p);
            }
        }
        if let Some(cache) = &self.cache {
            let p = cache.join(file.name);
            if p.is_file() {
                match file.checksum.verify(&p) {
                    Ok(()) => return Ok(p),
                    Err(e @ DataError::Checksum { .. }) if !self.downloads() => return Err(e),
                    Err(DataError::Checksum { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if self.downloads() {
                download(file, &p)?;
                return Ok(p);
            }
        }
        let searched: Vec<String> =
            self.search.iter().chain(&self.cache).map(|d| d.display().to_string()).collect();
        Err(DataError::NotFound {
            name: file.name.into(),
            searched: if searched.is_empty() { "nowhere".into() } else { searched.join(", ") },
            hint: format!(
                "download {} into one of them, or set {ENV_VAR} to a directory that holds it{}",
                file.url,
                if cfg!(feature = "download") {
                    ""
                } else {
                    " (`cargo xtask data` fetches every data set into the cache; builds with the \
                     `download` feature fetch on demand)"
                }
            ),
        })
    }
}

/// Downloads `file` to `dest` through a temporary file, checks it, then renames it into place,
/// so that an interrupted download never leaves a file that looks complete.
#[cfg(feature = "download")]
fn download(file: &RemoteFile, dest: &Path) -> Result<()> {
    use std::io::Write;

    let fail = |message: String| DataError::Download { url: file.url.into(), path: dest.into(), message };
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io { path: dir.into(), source })?;
    let tmp = dest.with_extension("part");
    eprintln!("downloading {} to {}", file.url, dest.display());
    let result = (|| {
        let mut response = ureq::get(file.url).call().map_err(|e| fail(e.to_string()))?;
        let mut reader = response.body_mut().with_config().limit(1 << 30).reader();
        let mut out =
            std::fs::File::create(&tmp).map_err(|source| DataError::Io { path: tmp.clone(), source })?;
        std::io::copy(&mut reader, &mut out).map_err(|e| fail(e.to_string()))?;
        out.flush().map_err(|source| DataError::Io { path: tmp.clone(), source })?;
        file.checksum.verify(&tmp)?;
        std::fs::rename(&tmp, dest).map_err(|source| DataError::Io { path: dest.into(), source })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(not(feature = "download"))]
fn download(file: &RemoteFile, dest: &Path) -> Result<()> {
    Err(DataError::Download {
        url: file.url.into(),
        path: dest.into(),
        message: "this build has no `download` feature".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{shared_data_dir, temp_dir};

    const ABC: RemoteFile = RemoteFile {
        name: "abc.txt",
        url: "http://example.invalid/abc.txt",
        checksum: Checksum::Sha256("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    };

    /// Serves `body` over HTTP on localhost to each of `requests` connections; returns the URL.
    #[cfg(feature = "download")]
    fn serve(body: &'static [u8], requests: usize) -> &'static str {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/abc.txt", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let head =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body).unwrap();
            }
        });
        Box::leak(url.into_boxed_str())
    }

    #[test]
    #[cfg(feature = "download")]
    fn downloads_are_checked_and_land_in_the_cache_atomically() {
        let cache = temp_dir("fetch-dl");
        let dirs = DataDir { search: vec![], cache: Some(cache.clone()), download: true };
        // A good download.
        let good = RemoteFile { url: serve(b"abc", 2), ..ABC };
        let p = dirs.locate(&good).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abc");
        // A corrupted cache entry is fetched again.
        std::fs::write(&p, "ab").unwrap();
        assert_eq!(std::fs::read(dirs.locate(&good).unwrap()).unwrap(), b"abc");
        // A server sending the wrong bytes: a checksum error, and nothing left behind.
        std::fs::remove_file(&p).unwrap();
        let bad = RemoteFile { url: serve(b"abd", 1), ..ABC };
        let err = dirs.locate(&bad).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err}");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
        // Nobody listening: a download error naming the URL.
        let gone = RemoteFile { url: "http://127.0.0.1:9/abc.txt", ..ABC };
        let err = dirs.locate(&gone).unwrap_err();
        assert!(
            matches!(err, DataError::Download { .. }) && err.to_string().contains("127.0.0.1:9"),
            "{err}"
        );
        std::fs::remove_dir_all(cache).unwrap();
    }

    #[test]
    fn the_shared_airfoil_file_has_the_published_checksum() {
        let p = DataDir::at(shared_data_dir()).locate(&crate::data::airfoil::FILE).unwrap();
        assert!(p.ends_with("airfoil_self_noise.dat"));
    }

    #[test]
    fn search_order_checksums_and_missing_files() {
        let (a, b) = (temp_dir("fetch-a"), temp_dir("fetch-b"));
        let dirs = DataDir { search: vec![a.clone(), b.clone()], cache: None, download: false };
        let err = dirs.locate(&ABC).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }));
        assert!(err.to_string().contains("abc.txt") && err.to_string().contains(ENV_VAR));
        std::fs::write(b.join("abc.txt"), "abc").unwrap();
        assert_eq!(dirs.locate(&ABC).unwrap(), b.join("abc.txt"));
        // A wrong file earlier in the search order is reported, not skipped.
        std::fs::write(a.join("abc.txt"), "abd").unwrap();
        let err = dirs.locate(&ABC).unwrap_err();
        assert!(matches!(err, DataError::Checksum { algorithm: "sha256", .. }));
        assert!(err.to_string().contains(&a.join("abc.txt").display().to_string()));
        // A bad cached file without downloading is an error too.
        let cached = DataDir { search: vec![], cache: Some(a.clone()), download: false };
        assert!(matches!(cached.locate(&ABC), Err(DataError::Checksum { .. })));
        std::fs::remove_dir_all(a).unwrap();
        std::fs::remove_dir_all(b).unwrap();
    }
}
