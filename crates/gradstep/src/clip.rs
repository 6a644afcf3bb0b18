//! Gradient clipping, by value and by global norm, applied to the gradients before a step.

use crate::error::check;
use crate::{Float, Result};

/// Clamps every gradient entry to $[-c, c]$ (`torch.nn.utils.clip_grad_value_`,
/// `optax.clip(c)`). NaN entries stay NaN.
///
/// ```
/// let mut g = [3.0_f32, -0.5, -7.0];
/// gradstep::clip::clip_by_value(&mut g, 1.0)?;
/// assert_eq!(g, [1.0, -0.5, -1.0]);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # Errors
/// [`crate::Error::Hyperparameter`] if `limit` is not > 0.
pub fn clip_by_value<T: Float>(grads: &mut [T], limit: f64) -> Result<()> {
    check("limit", limit, limit > 0.0, "must be > 0")?;
    let (hi, lo) = (T::of(limit), T::of(-limit));
    for g in grads {
        // Written as comparisons, not `clamp`, so a NaN passes through rather than panicking.
        if *g > hi {
            *g = hi;
        } else if *g < lo {
            *g = lo;
        }
    }
    Ok(())
}

/// The Euclidean norm of all the tensors together, $\sqrt{\sum_i \lVert g_i\rVert^2}$,
/// accumulated in `f64`.
pub fn global_norm<T: Float>(grads: &[&[T]]) -> f64 {
    grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&x| x.to_f64_lossless() * x.to_f64_lossless())
        .sum::<f64>()
        .sqrt()
}

/// Rescales all the tensors together so that their global norm is at most `max_norm`, and
/// returns the norm before clipping (`torch.nn.utils.clip_grad_norm_`).
///
/// With total norm $n$ the gradients are multiplied by $\min(1, c/(n + 10^{-6}))$, PyTorch's
/// formula. optax's `clip_by_global_norm` multiplies by $c/n$ when $n \ge c$, without the
/// $10^{-6}$; the two differ in the seventh digit. A non-finite norm is returned as it is and
/// the gradients are left alone (see [`crate::SkipNonFinite`] to skip such a step).
///
/// ```
/// use gradstep::clip::clip_by_global_norm;
/// let (mut a, mut b) = (vec![3.0_f64], vec![4.0_f64]);
/// let norm = clip_by_global_norm(&mut [&mut a[..], &mut b[..]], 1.0)?;
/// assert_eq!(norm, 5.0);
/// assert!((a[0] - 0.6).abs() < 1e-6 && (b[0] - 0.8).abs() < 1e-6);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # Errors
/// [`crate::Error::Hyperparameter`] if `max_norm` is not > 0.
pub fn clip_by_global_norm<T: Float>(grads: &mut [&mut [T]], max_norm: f64) -> Result<f64> {
    check("max_norm", max_norm, max_norm > 0.0, "must be > 0")?;
    let total = grads.iter().flat_map(|g| g.iter()).map(|&x| x.to_f64_lossless().powi(2)).sum::<f64>().sqrt();
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let c = T::of(coef);
        for g in grads.iter_mut().flat_map(|g| g.iter_mut()) {
            *g *= c;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_gradients_are_left_alone() {
        let mut a = vec![0.1_f32, 0.2];
        let n = clip_by_global_norm(&mut [&mut a[..]], 1.0).unwrap();
        assert_eq!(a, [0.1, 0.2]);
        assert!((n - 0.05f64.sqrt()).abs() < 1e-7);
        assert!(clip_by_global_norm(&mut [&mut a[..]], 0.0).is_err());
        assert!(clip_by_value(&mut a, -1.0).is_err());
    }

    #[test]
    fn global_norm_spans_tensors() {
        assert_eq!(global_norm::<f64>(&[&[3.0], &[0.0, 4.0]]), 5.0);
    }
}
