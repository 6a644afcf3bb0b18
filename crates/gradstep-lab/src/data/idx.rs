//! The IDX format of MNIST and Fashion-MNIST, for readers who download Fashion-MNIST (the
//! source text's data set, which the course cannot ship).
//!
//! An IDX file is two zero bytes, a type byte (0x08 = unsigned byte), the number of
//! dimensions, each dimension as a big-endian `u32`, then the data. Files may be gzipped
//! (`.gz`), as they are distributed. Fashion-MNIST's four files are
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
//! `t10k-labels-idx1-ubyte` (each with or without `.gz`); get them from
//! <https://github.com/zalandoresearch/fashion-mnist>.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{DataError, ImageSet, Result};

/// The ten Fashion-MNIST classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];

/// An unsigned-byte IDX array: its dimensions and its data, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, e.g. [60000, 28, 28].
    pub dims: Vec<usize>,
    /// The values, `dims.iter().product()` of them.
    pub data: Vec<u8>,
}

/// Reads a whole file, decompressing it if it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    if raw.len() < 2 || raw[..2] != [0x1f, 0x8b] {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            DataError::Truncated { path: path.into(), message: "the gzip stream ends early".into() }
        } else {
            DataError::Parse { path: path.into(), line: 0, message: format!("corrupt gzip data: {e}") }
        }
    })?;
    Ok(out)
}

/// Reads an unsigned-byte IDX file (gzipped or not).
///
/// # Errors
/// [`DataError::Parse`] for a bad header, an unsupported element type or trailing bytes;
/// [`DataError::Truncated`] if the data is shorter than the header says;
/// [`DataError::Io`] if the file cannot be read.
///
/// # Example
/// ```
/// use gradstep_lab::data::idx::read_idx;
///
/// let file = std::env::temp_dir().join("gradstep-lab-doc.idx1");
/// std::fs::write(&file, [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])?;
/// let a = read_idx(&file)?;
/// assert_eq!((a.dims, a.data), (vec![3], vec![7, 2, 1]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = read_maybe_gzip(path)?;
    let bad = |message: String| DataError::Parse { path: path.into(), line: 0, message };
    let short = |message: String| DataError::Truncated { path: path.into(), message };
    if bytes.len() < 4 {
        return Err(short(format!("{} bytes, too short for an IDX header", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(format!("bad magic bytes {:02x} {:02x}, expected 00 00", bytes[0], bytes[1])));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
            bytes[2]
        )));
    }
    let ndims = usize::from(bytes[3]);
    if ndims == 0 {
        return Err(bad("zero dimensions".into()));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(short(format!("the header needs {header} bytes, the file has {}", bytes.len())));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let have = bytes.len() - header;
    if have < count {
        return Err(short(format!("the header promises {count} values ({dims:?}), the file holds {have}")));
    }
    if have > count {
        return Err(bad(format!("{} trailing bytes after {count} values", have - count)));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Reads an image file (n × rows × cols) and its label file (n) into an [`ImageSet`] with
/// pixels scaled to [0, 1], like `ToTensor()`.
///
/// # Errors
/// Those of [`read_idx`]; [`DataError::Parse`] if the files' shapes or counts disagree or a
/// label is not below `classes`.
pub fn read_images(images: impl AsRef<Path>, labels: impl AsRef<Path>, classes: usize) -> Result<ImageSet> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    let img = read_idx(ip)?;
    let lab = read_idx(lp)?;
    if img.dims.len() != 3 {
        return Err(DataError::Parse {
            path: ip.into(),
            line: 0,
            message: format!("expected 3 dimensions, found {:?}", img.dims),
        });
    }
    if lab.dims.len() != 1 || lab.dims[0] != img.dims[0] {
        return Err(DataError::Parse {
            path: lp.into(),
            line: 0,
            message: format!("labels {:?} do not match {} images in {}", lab.dims, img.dims[0], ip.display()),
        });
    }
    if let Some(l) = lab.data.iter().find(|&&l| usize::from(l) >= classes) {
        return Err(DataError::Parse {
            path: lp.into(),
            line: 0,
            message: format!("label {l} is not below {classes}"),
        });
    }
    let pixels = img.data.iter().map(|&p| f32::from(p) / 255.0).collect();
    ImageSet::new(pixels, lab.data, (img.dims[1], img.dims[2]), classes)
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    [dir.join(format!("{stem}.gz")), dir.join(stem)].into_iter().find(|p| p.is_file()).ok_or_else(|| {
        DataError::NotFound {
            name: stem.into(),
            searched: dir.display().to_string(),
            hint: "download Fashion-MNIST from https://github.com/zalandoresearch/fashion-mnist".into(),
        }
    })
}

/// Fashion-MNIST's training and test sets (60,000 and 10,000 images of 28 × 28) from the four
/// IDX files in `dir`.
///
/// # Errors
/// [`DataError::NotFound`] if a file is missing; those of [`read_images`].
///
/// # Example
/// ```no_run
/// let (train, test) = gradstep_lab::data::idx::load_fashion_mnist("data/fashion-mnist")?;
/// assert_eq!((train.len(), test.len()), (60_000, 10_000));
/// # Ok::<(), gradstep_lab::data::DataError>(())
/// ```
pub fn load_fashion_mnist(dir: impl AsRef<Path>) -> Result<(ImageSet, ImageSet)> {
    let dir = dir.as_ref();
    let train =
        read_images(find(dir, "train-images-idx3-ubyte")?, find(dir, "train-labels-idx1-ubyte")?, 10)?;
    let test = read_images(find(dir, "t10k-images-idx3-ubyte")?, find(dir, "t10k-labels-idx1-ubyte")?, 10)?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::data::temp_dir;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_small_fashion_mnist_directory_loads() {
        let dir = temp_dir("idx-ok");
        let px: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 4) as u8).collect();
        std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gz(&idx(&[3, 4, 5], &px))).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gz(&idx(&[3], &[9, 0, 4]))).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[1, 4, 5], &px[..20])).unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[1], &[2])).unwrap();
        let (train, test) = load_fashion_mnist(&dir).unwrap();
        assert_eq!((train.len(), train.image_shape(), train.labels()), (3, (4, 5), &[9, 0, 4][..]));
        assert_eq!(train.pixels()[[1, 0]], 80.0 / 255.0);
        assert_eq!((test.len(), test.labels()), (1, &[2][..]));
        std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
        let err = load_fashion_mnist(&dir).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }) && err.to_string().contains("t10k-labels"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_idx_files_are_typed_errors_naming_the_file() {
        let dir = temp_dir("idx-bad");
        let p = dir.join("x-idx3-ubyte");
        let good = idx(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 3].to_vec(), "truncated"),
            (good[..6].to_vec(), "truncated"),
            ([good.clone(), vec![0]].concat(), "trailing"),
            ([&[1u8, 0][..], &good[2..]].concat(), "magic"),
            ([&[0u8, 0, 0x0d][..], &good[3..]].concat(), "not supported"),
            (gz(&good)[..20].to_vec(), "truncated"),
        ];
        for (bytes, what) in cases {
            std::fs::write(&p, bytes).unwrap();
            let err = read_idx(&p).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(what) && msg.contains("x-idx3-ubyte"), "{what}: {msg}");
        }
        let mut corrupt = gz(&good);
        let n = corrupt.len();
        corrupt[n - 6] ^= 0xff; // the CRC
        std::fs::write(&p, corrupt).unwrap();
        assert!(matches!(read_idx(&p), Err(DataError::Parse { .. })));
        // Labels that do not match the images.
        let lp = dir.join("l-idx1-ubyte");
        std::fs::write(&p, &good).unwrap();
        std::fs::write(&lp, idx(&[3], &[0, 1, 2])).unwrap();
        assert!(matches!(read_images(&p, &lp, 10), Err(DataError::Parse { .. })));
        std::fs::write(&lp, idx(&[2], &[0, 11])).unwrap();
        assert!(read_images(&p, &lp, 10).unwrap_err().to_string().contains("label 11"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
