//! NASA's airfoil self-noise data, prepared as the source's `get_data_ch11` does.
//!
//! 1,503 measurements of 5 features (frequency, angle of attack, chord length, free-stream
//! velocity, suction-side displacement thickness) and the scaled sound pressure level. Every
//! column, the target included, is standardised with its mean and population standard
//! deviation over all rows; then the first 1,500 rows are kept.
//!
//! Source: UCI Machine Learning Repository, Brooks, Pope and Marcolini (1989), CC BY 4.0.

use std::path::Path;

use ndarray::{Array1, Array2, Axis};

use super::{Checksum, DataDir, DataError, Minibatches, RemoteFile, Result, Sampling};

/// The file as the source text downloads it.
pub const FILE: RemoteFile = RemoteFile {
    name: "airfoil_self_noise.dat",
    url: "http://d2l-data.s3-accelerate.amazonaws.com/airfoil_self_noise.dat",
    checksum: Checksum::Sha1("76e5be1548fd8222e5074cf0faae75edff8cf93f"),
};

/// Number of rows kept, as in the source (`n = 1500`).
pub const ROWS: usize = 1500;
/// Number of features.
pub const FEATURES: usize = 5;

/// The standardised airfoil data: 1,500 × 5 features and 1,500 targets, `f32` like the source.
///
/// # Example
/// ```no_run
/// use gradstep_lab::data::airfoil::Airfoil;
///
/// let data = Airfoil::load()?; // GRADSTEP_DATA_DIR, the cache, or a download
/// assert_eq!(data.features().dim(), (1500, 5));
/// # Ok::<(), gradstep_lab::data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Airfoil {
    features: Array2<f32>,
    targets: Array1<f32>,
}

impl Airfoil {
    /// Finds the file with [`DataDir::from_env`] (downloading it if needed) and loads it.
    ///
    /// # Errors
    /// See [`DataDir::locate`] and [`Airfoil::from_file`].
    pub fn load() -> Result<Self> {
        Self::load_from(&DataDir::from_env())
    }

    /// Finds the file in `dir` and loads it.
    ///
    /// # Errors
    /// See [`DataDir::locate`] and [`Airfoil::from_file`].
    ///
    /// # Example
    /// ```no_run
    /// use gradstep_lab::data::{DataDir, airfoil::Airfoil};
    ///
    /// let data = Airfoil::load_from(&DataDir::at("../shared/data"))?;
    /// # Ok::<(), gradstep_lab::data::DataError>(())
    /// ```
    pub fn load_from(dir: &DataDir) -> Result<Self> {
        Self::from_file_unchecked(&dir.locate(&FILE)?)
    }

    /// Loads the file at `path` after checking its SHA-1 against the published one.
    ///
    /// # Errors
    /// [`DataError::Io`] if it cannot be read, [`DataError::Checksum`] if it is not the
    /// published file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        FILE.checksum.verify(path.as_ref())?;
        Self::from_file_unchecked(path)
    }

    /// Loads a file in the same format without checking its checksum (an edited copy, say);
    /// every row is still checked.
    ///
    /// # Errors
    /// [`DataError::Parse`] for a row that is not 6 finite numbers, [`DataError::Truncated`]
    /// for fewer than 1,500 rows, [`DataError::Io`] if it cannot be read.
    pub fn from_file_unchecked(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| DataError::Io { path: path.into(), source })?;
        let text = std::str::from_utf8(&text).map_err(|e| DataError::Parse {
            path: path.into(),
            line: 1 + text[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
            message: "not UTF-8 text".into(),
        })?;
        let mut values: Vec<f64> = Vec::with_capacity(1503 * 6);
        let mut rows = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != FEATURES + 1 {
                return Err(DataError::Parse {
                    path: path.into(),
                    line: i + 1,
                    message: format!(
                        "expected {} tab-separated numbers, found {}",
                        FEATURES + 1,
                        fields.len()
                    ),
                });
            }
            for f in fields {
                let v: f64 = f.trim().parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                    DataError::Parse {
                        path: path.into(),
                        line: i + 1,
                        message: format!("`{f}` is not a finite number"),
                    }
                })?;
                values.push(v);
            }
            rows += 1;
        }
        if rows < ROWS {
            return Err(DataError::Truncated {
                path: path.into(),
                message: format!("{rows} rows, expected at least {ROWS}"),
            });
        }
        let mut data =
            Array2::from_shape_vec((rows, FEATURES + 1), values).expect("rows × 6 values were read");
        let mean = data.mean_axis(Axis(0)).expect("there are rows");
        let std = data.std_axis(Axis(0), 0.0);
        if let Some(j) = std.iter().position(|s| *s == 0.0) {
            return Err(DataError::Parse {
                path: path.into(),
                line: 0,
                message: format!("column {} is constant", j + 1),
            });
        }
        data -= &mean;
        data /= &std;
        let kept = data.slice(ndarray::s![..ROWS, ..]).mapv(|v| v as f32);
        Ok(Self {
            features: kept.slice(ndarray::s![.., ..FEATURES]).to_owned(),
            targets: kept.column(FEATURES).to_owned(),
        })
    }

    /// The 1,500 × 5 standardised features.
    pub fn features(&self) -> &Array2<f32> {
        &self.features
    }

    /// The 1,500 standardised targets.
    pub fn targets(&self) -> &Array1<f32> {
        &self.targets
    }

    /// The number of examples (1,500).
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Always false: a loaded data set has 1,500 examples.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Seeded minibatches of indices into this data set.
    ///
    /// # Errors
    /// [`DataError::Argument`] if `batch` is 0.
    pub fn minibatches(&self, batch: usize, sampling: Sampling, seed: u64) -> Result<Minibatches> {
        Minibatches::new(self.len(), batch, sampling, seed)
    }

    /// Copies the rows `idx` into `x` (and their targets into `y`), reusing their storage.
    ///
    /// # Errors
    /// [`DataError::Argument`] if an index is not below the number of examples; the buffers
    /// are then left as they were.
    ///
    /// # Example
    /// ```no_run
    /// # use gradstep_lab::data::{Sampling, airfoil::Airfoil};
    /// let data = Airfoil::load()?;
    /// let (mut x, mut y) = (Default::default(), Default::default());
    /// let mut batches = data.minibatches(10, Sampling::WithoutReplacement, 0)?;
    /// for idx in batches.epoch() {
    ///     data.gather(idx, &mut x, &mut y)?;
    ///     assert_eq!(x.len(), 10 * 5);
    /// }
    /// # Ok::<(), gradstep_lab::data::DataError>(())
    /// ```
    pub fn gather(&self, idx: &[usize], x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        if let Some(i) = idx.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::Argument {
                name: "idx",
                rule: format!("index {i} is out of range for a set of {} examples", self.len()),
            });
        }
        x.clear();
        y.clear();
        for &i in idx {
            x.extend(self.features.row(i).iter());
            y.push(self.targets[i]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{shared_data_dir, temp_dir};

    fn real() -> Airfoil {
        Airfoil::load_from(&DataDir::at(shared_data_dir())).unwrap()
    }

    #[test]
    fn the_real_file_is_standardised_and_cut_to_1500_rows() {
        let d = real();
        assert_eq!(d.features().dim(), (1500, 5));
        assert_eq!(d.len(), 1500);
        // Means over the kept 1,500 of 1,503 rows are close to, not exactly, 0; stds near 1.
        for col in d.features().columns().into_iter().chain([d.targets().view()]) {
            let m = col.mean().unwrap();
            let s = col.std(0.0);
            assert!(m.abs() < 0.01 && (s - 1.0).abs() < 0.01, "mean {m}, std {s}");
        }
        // The first row of the raw file is 800 0 0.3048 71.3 0.00266337 126.201.
        assert!(d.features()[[0, 0]] < -0.6 && d.features()[[0, 1]] < -1.0);
        assert_eq!(Airfoil::from_file(shared_data_dir().join(FILE.name)).unwrap(), d);
    }

    #[test]
    fn corrupt_truncated_and_wrong_files_are_typed_errors_naming_the_file() {
        let dir = temp_dir("airfoil");
        let good = std::fs::read_to_string(shared_data_dir().join(FILE.name)).unwrap();
        let p = dir.join(FILE.name);

        // Truncated: the checksum catches it, and the unchecked loader counts the rows.
        std::fs::write(&p, &good[..good.len() / 2]).unwrap();
        let err = Airfoil::from_file(&p).unwrap_err();
        assert!(matches!(err, DataError::Checksum { algorithm: "sha1", .. }), "{err}");
        assert!(err.to_string().contains(&p.display().to_string()));
        let cut: String = good.lines().take(700).map(|l| format!("{l}\n")).collect();
        std::fs::write(&p, cut).unwrap();
        let err = Airfoil::from_file_unchecked(&p).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }) && err.to_string().contains("700 rows"), "{err}");

        // Corrupt: a bad number and a missing field, with their line numbers.
        let bad = good.replacen("0.3048", "0.30x8", 1);
        std::fs::write(&p, &bad).unwrap();
        assert!(matches!(Airfoil::from_file(&p), Err(DataError::Checksum { .. })));
        let err = Airfoil::from_file_unchecked(&p).unwrap_err();
        assert!(
            matches!(err, DataError::Parse { line: 1, .. }) && err.to_string().contains("0.30x8"),
            "{err}"
        );
        let mut lines: Vec<&str> = good.lines().collect();
        lines[9] = "800\t0\t0.3048";
        std::fs::write(&p, lines.join("\n")).unwrap();
        assert!(matches!(Airfoil::from_file_unchecked(&p), Err(DataError::Parse { line: 10, .. })));
        std::fs::write(&p, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(Airfoil::from_file_unchecked(&p), Err(DataError::Parse { .. })));

        // Missing.
        let err = Airfoil::load_from(&DataDir::at(dir.join("nowhere"))).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }) && err.to_string().contains(FILE.name));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn gather_copies_the_requested_rows() {
        let d = real();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        d.gather(&[3, 0], &mut x, &mut y).unwrap();
        assert!(d.gather(&[0, 1500], &mut x, &mut y).is_err());
        assert_eq!(&x[..5], d.features().row(3).as_slice().unwrap());
        assert_eq!(y, [d.targets()[3], d.targets()[0]]);
    }
}
