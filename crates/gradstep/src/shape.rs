//! The shape of a parameter tensor, for the optimizers that look at more than its elements.

use serde::{Deserialize, Deserializer, Serialize};

/// The dimensions of a parameter tensor, stored row-major (the last index varies fastest),
/// as in PyTorch and ndarray's default layout.
///
/// Element-wise optimizers (SGD, Adam, …) never need it: they run on the flat buffer. The
/// optimizers that do, read it once, when the state is made ([`crate::Optimizer::init_shaped`]),
/// and keep it in the state, so every step still takes the same flat `&mut [T]`:
///
/// - [`crate::Adafactor`] factors the second moment of a tensor with two or more dimensions
///   over its last two (one row and one column statistic per matrix; leading dimensions are a
///   batch of matrices, as in PyTorch) and keeps a full one for a vector or a scalar;
/// - [`crate::Muon`] orthogonalises a matrix's momentum and rejects any other shape with
///   [`crate::Error::Shape`];
/// - [`crate::Lamb`] computes its trust ratio per tensor, which needs no shape, only that
///   each tensor is stepped on its own.
///
/// A `Shape` serialises as its list of dimensions; a plain number reads as a vector, so
/// [`crate::ParamGroups`] saved with tensor lengths still load.
///
/// ```
/// use gradstep::Shape;
///
/// let w = Shape::matrix(3, 4);
/// assert_eq!((w.len(), w.as_matrix(), w.dims()), (12, Some((3, 4)), &[3, 4][..]));
/// assert_eq!(Shape::vector(5).as_matrix(), None);
/// assert_eq!(Shape::new(&[2, 3, 4]).as_batched_matrix(), Some((2, 3, 4)));
/// assert_eq!(Shape::from(7), Shape::vector(7));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Shape {
    dims: Vec<usize>,
}

impl Shape {
    /// A tensor with these dimensions; `&[]` is a scalar (one element).
    pub fn new(dims: &[usize]) -> Self {
        Self { dims: dims.to_vec() }
    }

    /// A vector of `len` elements.
    pub fn vector(len: usize) -> Self {
        Self { dims: vec![len] }
    }

    /// A `rows × cols` matrix, stored row by row.
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Self { dims: vec![rows, cols] }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// Number of elements: the product of the dimensions (saturating, so that a shape read
    /// from a corrupt file gives a length no buffer has, and a length error, not an overflow).
    pub fn len(&self) -> usize {
        self.dims.iter().fold(1_usize, |n, &d| n.saturating_mul(d))
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(rows, cols)` if the tensor is a matrix (exactly two dimensions).
    pub fn as_matrix(&self) -> Option<(usize, usize)> {
        match self.dims[..] {
            [r, c] => Some((r, c)),
            _ => None,
        }
    }

    /// `(batch, rows, cols)` if the tensor has two or more dimensions: the last two are the
    /// matrix, the ones before are a batch of such matrices (their product; 1 for a matrix).
    pub fn as_batched_matrix(&self) -> Option<(usize, usize, usize)> {
        let n = self.dims.len();
        if n < 2 {
            return None;
        }
        let batch = self.dims[..n - 2].iter().fold(1_usize, |b, &d| b.saturating_mul(d));
        Some((batch, self.dims[n - 2], self.dims[n - 1]))
    }
}

impl From<usize> for Shape {
    fn from(len: usize) -> Self {
        Self::vector(len)
    }
}

impl From<(usize, usize)> for Shape {
    fn from((rows, cols): (usize, usize)) -> Self {
        Self::matrix(rows, cols)
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Self {
        Self::new(dims)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Self::new(&dims)
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Len(usize),
            Dims(Vec<usize>),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Len(n) => Self::vector(n),
            Repr::Dims(dims) => Self { dims },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_read_from_numbers_or_lists_and_never_overflow() {
        let s: Shape = serde_json::from_str("6").unwrap();
        assert_eq!(s, Shape::vector(6));
        let s: Shape = serde_json::from_str("[2, 3]").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "[2,3]");
        let huge = Shape::new(&[usize::MAX, 3]);
        assert_eq!(huge.len(), usize::MAX);
        assert_eq!(Shape::new(&[]).len(), 1);
        assert_eq!(Shape::new(&[4, 0]).as_batched_matrix(), Some((1, 4, 0)));
        assert!(serde_json::from_str::<Shape>("-1").is_err());
    }
}
