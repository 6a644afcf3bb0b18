//! The numeric kernels the update rules share: the moving averages of the first and second
//! moments, and bias correction. Each is written once, in the exact operation order of
//! PyTorch's CPU kernels, so that an `f64` run agrees with `torch.optim` to the last bits.

use crate::{Error, Float, Result};

/// ε in the element type. The configs check ε > 0 in `f64`, but an ε below about 1e-45 rounds
/// to 0 in `f32`, and where the moments are 0 the update would divide 0 by 0: the parameters
/// would turn NaN without a word. Called before an update changes anything.
#[inline]
pub(crate) fn eps_of<T: Float>(eps: f64) -> Result<T> {
    let e = T::of(eps);
    if e > T::zero() {
        Ok(e)
    } else {
        Err(Error::Hyperparameter {
            name: "eps",
            value: eps,
            rule: "rounds to 0 in the parameters' float type",
        })
    }
}

/// A precomputed weight $w$ for [`lerp`], the form PyTorch uses for the first-moment EMA
/// (`exp_avg.lerp_(grad, 1 - β₁)`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lerp<T> {
    coeff: T,
    small: bool,
}

impl<T: Float> Lerp<T> {
    /// The weight of the new value: $w = 1-β$ for an EMA with decay β.
    #[inline]
    pub(crate) fn ema(beta: f64) -> Self {
        let w = T::of(1.0 - beta);
        let small = w.abs() < T::of(0.5);
        Self { coeff: if small { w } else { -(T::one() - w) }, small }
    }

    /// The weight $w$ itself (`a.lerp_(b, w)`), rounded once to `T` as ATen does.
    #[inline]
    pub(crate) fn weight(w: f64) -> Self {
        let w = T::of(w);
        let small = w.abs() < T::of(0.5);
        Self { coeff: if small { w } else { -(T::one() - w) }, small }
    }
}

/// Linear interpolation $a + w(b - a)$, evaluated as ATen's `lerp` does: from `a` when
/// $|w| < ½$ and from `b` otherwise, which keeps the result exact at both ends.
///
/// As an exponential moving average, $m \leftarrow \beta m + (1-\beta) g$ is
/// `lerp(m, g, 1 - β)`.
#[inline(always)]
pub(crate) fn lerp<T: Float>(a: T, b: T, w: &Lerp<T>) -> T {
    // `base + coeff·(b - a)` with (a, w) or (b, w - 1): the same roundings as ATen's two
    // branches (w - 1 = -(1 - w) exactly), but a select instead of a branch.
    let base = if w.small { a } else { b };
    base + w.coeff * (b - a)
}

/// [`lerp`] with its multiply and add fused into one rounding: for a loop whose results are
/// rounded far more coarsely afterwards (8-bit moments), where the fused form costs one
/// instruction less.
#[inline(always)]
pub(crate) fn lerp_fused<T: Float>(a: T, b: T, w: &Lerp<T>) -> T {
    let base = if w.small { a } else { b };
    w.coeff.mul_add(b - a, base)
}

/// The EMA of the squared gradient, $v \leftarrow \beta v + (1-\beta) g^2$, as PyTorch computes
/// it (`v.mul_(β).addcmul_(g, g, value=1-β)`): `v·β + ((1-β)·g)·g`.
#[inline(always)]
pub(crate) fn ema_square<T: Float>(v: T, g: T, beta: T, one_minus_beta: T) -> T {
    v * beta + one_minus_beta * g * g
}

/// The bias correction $1 - \beta^t$ of an EMA started at zero, after `t` updates.
///
/// It is computed in `f64` and only then rounded to the element type: for β₂ = 0.999 and
/// small `t`, $1-\beta_2^t$ is a difference of nearly equal numbers, and forming
/// $\beta_2^t$ in `f32` would lose most of its digits (optax makes the same point). `powf`
/// with a float exponent is what Python's `beta ** step` calls.
#[inline]
pub(crate) fn bias_correction(beta: f64, t: u64) -> f64 {
    1.0 - beta.powf(t as f64)
}

/// What every update does to the raw gradient first: negate it under `maximize` and add
/// coupled L2 weight decay $\lambda x$ (PyTorch: `grad = -grad; grad = grad.add(param, alpha=λ)`).
///
/// Branch-free, so the loops that use it vectorise: the sign is ±1 (exact), and without
/// coupled decay λ is 0, and $g + 0\cdot x = g$ for every finite $x$.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GradPrep<T> {
    sign: T,
    wd: T,
}

impl<T: Float> GradPrep<T> {
    pub(crate) fn new(maximize: bool, weight_decay: f64, coupled: bool) -> Self {
        let sign = if maximize { -T::one() } else { T::one() };
        let wd = if coupled && weight_decay != 0.0 { T::of(weight_decay) } else { T::zero() };
        Self { sign, wd }
    }

    #[inline(always)]
    pub(crate) fn apply(&self, g: T, x: T) -> T {
        g * self.sign + self.wd * x
    }
}

/// The factor $1 - \eta\lambda$ of decoupled weight decay, or exactly 1 without it
/// ($x \cdot 1 = x$, so the loop needs no branch).
#[inline]
pub(crate) fn decoupled_shrink<T: Float>(lr: f64, weight_decay: f64, decoupled: bool) -> T {
    if decoupled && weight_decay != 0.0 { T::of(1.0 - lr * weight_decay) } else { T::one() }
}

/// The sign of `x` with $\operatorname{sign}(0) = 0$ (`jnp.sign`, `torch.sign`), unlike
/// [`f64::signum`], which gives ±1 at ±0.
#[inline(always)]
pub(crate) fn sign<T: Float>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x // 0, or NaN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_is_exact_at_both_ends_and_an_ema_in_between() {
        let w0 = Lerp::<f64>::ema(1.0);
        let w1 = Lerp::<f64>::ema(0.0);
        assert_eq!(lerp(0.1, 0.7, &w0), 0.1);
        assert_eq!(lerp(0.1, 0.7, &w1), 0.7);
        let w = Lerp::<f64>::ema(0.9);
        assert!((lerp(1.0, 2.0, &w) - 1.1).abs() < 1e-15);
        let w = Lerp::<f64>::ema(0.2);
        assert!((lerp(1.0, 2.0, &w) - 1.8).abs() < 1e-15);
    }

    #[test]
    fn bias_correction_keeps_its_digits_for_small_steps() {
        assert_eq!(bias_correction(0.9, 1), 1.0 - 0.9);
        let bc = bias_correction(0.999, 1);
        assert!((bc - 1e-3).abs() < 1e-16);
        assert_eq!(bias_correction(0.5, 0), 0.0);
    }

    #[test]
    fn an_eps_that_rounds_to_zero_is_an_error() {
        assert_eq!(eps_of::<f32>(1e-8), Ok(1e-8_f32));
        assert!(eps_of::<f32>(1e-50).is_err());
        assert_eq!(eps_of::<f64>(1e-50), Ok(1e-50));
    }

    #[test]
    fn sign_of_zero_is_zero() {
        assert_eq!((sign(-2.0_f64), sign(0.0_f64), sign(3.0_f32)), (-1.0, 0.0, 1.0));
    }
}
