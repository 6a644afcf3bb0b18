//! Adam and AdamW with their two moments stored in bfloat16: half the state memory, and 20
//! bytes moved per `f32` parameter and step instead of 28.

use serde::{Deserialize, Serialize};

use super::kernels::{GradPrep, Lerp, bias_correction, decoupled_shrink, ema_square, eps_of, lerp};
use super::parallel::{Threads, for_each_chunk_at};
use super::{AdamConfig, AdamWConfig, Optimizer, check_adam_family};
use crate::error::{Error, check_len, check_non_negative, check_same_len, next_step};
use crate::{Float, Result};

/// A bfloat16 number: the top 16 bits of an `f32` (sign, the full 8-bit exponent, 7 mantissa
/// bits). It has `f32`'s range, so a second moment never overflows or flushes to zero where the
/// `f32` one would not, and about 2.4 significant digits.
///
/// It is saved as the number it stands for (so a checkpoint reads like any other, and a
/// non-finite entry is `null`, as serde_json writes one), and loaded by rounding to nearest,
/// which gives back exactly the saved number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bf16(pub u16);

impl Serialize for Bf16 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_f32(self.to_f32())
    }
}

impl<'de> Deserialize<'de> for Bf16 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        f32::deserialize(d).map(Self::from_f32)
    }
}

impl Bf16 {
    /// The `f32` this number stands for (exact).
    #[inline(always)]
    pub fn to_f32(self) -> f32 {
        f32::from_bits(u32::from(self.0) << 16)
    }

    /// `x` rounded to the nearest bfloat16 (ties to even); NaN stays NaN.
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        if x.is_nan() {
            return Self(0x7fc0);
        }
        let bits = x.to_bits();
        let round = 0x7fff + ((bits >> 16) & 1);
        Self((bits.wrapping_add(round) >> 16) as u16)
    }

    /// `x` rounded down or up to one of its two bfloat16 neighbours, up with probability equal to
    /// the distance from the lower one (in units of the gap), as decided by the 16 bits `noise`:
    /// adding them below the kept bits carries into the kept ones exactly that often. The
    /// expected result is `x` itself.
    #[inline(always)]
    pub fn from_f32_stochastic(x: f32, noise: u32) -> Self {
        // A NaN's exponent is all ones and the carry cannot clear it: NaN stays NaN, and
        // infinity (mantissa zero) stays infinity since noise < 2^16 never carries out of it.
        Self((x.to_bits().wrapping_add(noise & 0xffff) >> 16) as u16)
    }
}

/// 32 well-mixed bits from a counter (Wellons' `lowbias32`): the rounding noise of element `i`
/// at step `t` depends on nothing else, so a run is the same for any number of threads and
/// resumes from a checkpoint bit for bit.
#[cfg(test)]
fn noise(t: u64, i: usize) -> u32 {
    mix(noise_seed(t, (i as u64 >> 32) as u32) ^ i as u32)
}

/// The part of [`noise`]'s counter that is fixed for a step and the high half of the index:
/// the loop then hashes `seed ^ low half` in 32-bit lanes only.
#[inline]
pub(super) fn noise_seed(t: u64, index_high: u32) -> u32 {
    (t as u32).wrapping_mul(0x9e37_79b9) ^ index_high.rotate_left(16)
}

#[inline(always)]
pub(super) fn mix(mut z: u32) -> u32 {
    z ^= z >> 16;
    z = z.wrapping_mul(0x7feb_352d);
    z ^= z >> 15;
    z = z.wrapping_mul(0x846c_a68b);
    z ^ (z >> 16)
}

/// Adam ([`Adam`](super::Adam)'s update and hyperparameters) with the first and second moment
/// kept in bfloat16 ([`Bf16`]); the parameters, the gradient and all arithmetic stay in `T`.
///
/// Each step reads $m$ and $v$ from bfloat16, computes the update as Adam does (the new
/// moments in full precision are used for this step's update), and writes the new moments back
/// with **stochastic rounding**. Rounding to nearest would stall the second moment: with
/// β₂ = 0.999 a step changes $v$ by about 0.1 %, less than half of bfloat16's relative spacing
/// of 2⁻⁷ ≈ 0.8 %, so $v$ would stop moving once it is large. Stochastic rounding keeps every
/// moment unbiased, so the EMAs follow their `f32` counterparts on average. The rounding noise
/// comes from a hash of (step, index), so runs are deterministic.
///
/// Why bfloat16 rather than block-wise 8-bit state (Dettmers et al. 2022): bfloat16 keeps `f32`'s
/// exponent, so it needs no per-block scale and no quantisation map, stays an elementwise,
/// vectorisable pass, and still moves 20 bytes per `f32` parameter instead of 28 (read and
/// write the parameter, read the gradient, read and write two 2-byte moments), which is what
/// bounds the step's speed on large buffers. 8-bit state would save another 4 bytes per
/// parameter at the cost of a second, non-elementwise pass.
///
/// AMSGrad is not available (a third buffer of maxima in bfloat16 would defeat the purpose):
/// a config with `amsgrad` is an [`Error::Hyperparameter`].
///
/// # Example
///
/// ```
/// use gradstep::{AdamBf16, AdamConfig, Optimizer};
///
/// let opt = AdamBf16::from_config(AdamConfig { lr: 0.1, ..Default::default() })?;
/// let mut x = vec![1.0_f32, -2.0];
/// let mut state = opt.init(x.len());
/// for _ in 0..100 {
///     let grad = [2.0 * x[0], 2.0 * x[1]]; // f(x) = |x|²
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!(x[0].abs() < 0.05 && x[1].abs() < 0.05);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Kingma, Ba (2015), *Adam: A Method for Stochastic Optimization*, ICLR.
/// - Zamirai, Zhang, Aberger, De Sa (2020), *Revisiting BFloat16 Training* (stochastic rounding
///   of optimizer state).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdamConfig", into = "AdamConfig")]
pub struct AdamBf16 {
    config: AdamConfig,
}

/// State of [`AdamBf16`]: the step count and the two moments in bfloat16.
///
/// Loading one checks it as a step would: both moments of one length, every entry finite, and
/// the second moment's entries `>= 0`; an edited checkpoint that breaks these is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawAdamBf16State")]
pub struct AdamBf16State {
    /// Number of steps taken, $t$.
    pub step: u64,
    /// First moment $m$.
    pub exp_avg: Vec<Bf16>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<Bf16>,
}

/// [`AdamBf16State`] as read, before its checks.
#[derive(Deserialize)]
struct RawAdamBf16State {
    step: u64,
    exp_avg: Vec<Bf16>,
    exp_avg_sq: Vec<Bf16>,
}

impl TryFrom<RawAdamBf16State> for AdamBf16State {
    type Error = Error;
    fn try_from(r: RawAdamBf16State) -> Result<Self> {
        check_same_len(&[("exp_avg", r.exp_avg.len()), ("exp_avg_sq", r.exp_avg_sq.len())])?;
        let finite = |b: &Bf16| b.to_f32().is_finite();
        if !r.exp_avg.iter().all(finite) || !r.exp_avg_sq.iter().all(|b| finite(b) && b.to_f32() >= 0.0) {
            return Err(Error::InvalidState { what: "moments", rule: "must be finite, and the second >= 0" });
        }
        Ok(Self { step: r.step, exp_avg: r.exp_avg, exp_avg_sq: r.exp_avg_sq })
    }
}

super::compact_adam!(AdamBf16, AdamBf16State, "bfloat16");

impl AdamBf16State {
    /// Zero moments for `len` parameters.
    pub fn zeros(len: usize) -> Self {
        Self { step: 0, exp_avg: vec![Bf16::default(); len], exp_avg_sq: vec![Bf16::default(); len] }
    }

    fn check(&self, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_avg_sq", len, self.exp_avg_sq.len())
    }
}

impl AdamBf16 {
    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdamBf16State,
        threads: impl Threads,
    ) -> Result<()> {
        let n = params.len();
        check_len("gradient", n, grads.len())?;
        state.check(n)?;
        let c = &self.config;
        let t = next_step(state.step)?;
        let eps = eps_of::<T>(c.eps)?;
        let (b1, b2) = c.betas;
        let bc1 = bias_correction(b1, t);
        let bc2 = bias_correction(b2, t);
        let k = Kernel {
            t,
            w1: Lerp::<T>::ema(b1),
            beta2: T::of(b2),
            one_minus_b2: T::of(1.0 - b2),
            neg_step: T::of(-(c.lr / bc1)),
            inv_bc2_sqrt: T::of(1.0 / bc2.sqrt()),
            eps,
            prep: GradPrep::<T>::new(c.maximize, c.weight_decay, !c.decoupled_weight_decay),
            shrink: decoupled_shrink::<T>(c.lr, c.weight_decay, c.decoupled_weight_decay),
        };
        for_each_chunk_at(
            threads,
            params,
            grads,
            [&mut state.exp_avg[..], &mut state.exp_avg_sq[..]],
            #[inline(always)]
            |offset, p, g, [m, v]| k.apply(offset, p, g, m, v),
        )?;
        state.step = t;
        Ok(())
    }
}

/// One step's constants, and the fused loop over a contiguous part of the buffers.
struct Kernel<T> {
    t: u64,
    w1: Lerp<T>,
    beta2: T,
    one_minus_b2: T,
    neg_step: T,
    /// $1/\sqrt{1-\beta_2^t}$: a multiplication where Adam divides, one division less per
    /// element (about 7 % of the loop's time, measured on one AVX-512 core) at the cost of one
    /// rounding: the update differs from Adam's in the last bit at most.
    inv_bc2_sqrt: T,
    eps: T,
    prep: GradPrep<T>,
    shrink: T,
}

impl<T: Float> Kernel<T> {
    /// Updates `p` (which starts at element `offset` of the whole buffer) and its moments, in
    /// segments that do not cross a multiple of 2³², so that the noise counter's high half is
    /// constant within each and the loop hashes in 32-bit lanes.
    #[inline(always)]
    fn apply(&self, offset: usize, p: &mut [T], g: &[T], m: &mut [Bf16], v: &mut [Bf16]) {
        let n = p.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let mut start = 0;
        while start < n {
            let index = (offset + start) as u64;
            let room = (1u64 << 32) - (index & 0xffff_ffff);
            let end = n.min(start.saturating_add(usize::try_from(room).unwrap_or(usize::MAX)));
            let seed = noise_seed(self.t, (index >> 32) as u32);
            self.segment(
                seed,
                index as u32,
                &mut p[start..end],
                &g[start..end],
                &mut m[start..end],
                &mut v[start..end],
            );
            start = end;
        }
    }

    /// The fused loop: Adam's update in `T` and the moments written back stochastically rounded.
    #[inline(always)]
    fn segment(&self, seed: u32, first: u32, p: &mut [T], g: &[T], m: &mut [Bf16], v: &mut [Bf16]) {
        let n = p.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let widen = |b: Bf16| T::of(f64::from(b.to_f32()));
        let narrow = |x: T| x.to_f64_lossless() as f32;
        for i in 0..n {
            let x = p[i] * self.shrink;
            let g = self.prep.apply(g[i], x);
            let mi = lerp(widen(m[i]), g, &self.w1);
            let vi = ema_square(widen(v[i]), g, self.beta2, self.one_minus_b2);
            let r = mix(seed ^ first.wrapping_add(i as u32));
            m[i] = Bf16::from_f32_stochastic(narrow(mi), r);
            v[i] = Bf16::from_f32_stochastic(narrow(vi), r >> 16);
            let denom = vi.sqrt() * self.inv_bc2_sqrt + self.eps;
            p[i] = x + self.neg_step * mi / denom;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{FirstSteps, first_steps};

    #[test]
    fn bf16_round_trips_and_rounds_to_nearest_even() {
        for x in [0.0_f32, -0.0, 1.0, -2.5, 3.0e38, 1.0e-38, f32::INFINITY] {
            let b = Bf16::from_f32(x);
            assert_eq!(Bf16::from_f32(b.to_f32()), b);
            assert!(b.to_f32() == x || (b.to_f32() - x).abs() <= x.abs() / 256.0, "{x}");
        }
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa, 1.
        assert_eq!(Bf16::from_f32(1.0 + 1.0 / 256.0).to_f32(), 1.0);
        assert!(Bf16::from_f32(f32::NAN).to_f32().is_nan());
        assert!(Bf16::from_f32_stochastic(f32::NAN, 0xffff).to_f32().is_nan());
        assert_eq!(Bf16::from_f32_stochastic(f32::INFINITY, 0xffff).to_f32(), f32::INFINITY);
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let x = 1.0_f32 + 0.3 / 128.0; // 30 % of the way from 1 to the next bfloat16
        let n = 1 << 16;
        let mean: f64 =
            (0..n).map(|i| f64::from(Bf16::from_f32_stochastic(x, noise(7, i)).to_f32())).sum::<f64>()
                / n as f64;
        assert!((mean - f64::from(x)).abs() < 2e-5, "{mean} vs {x}");
        let ups = (0..n).filter(|&i| Bf16::from_f32_stochastic(x, noise(7, i)).to_f32() > 1.0).count();
        assert!((ups as f64 / n as f64 - 0.3).abs() < 0.01);
    }

    #[test]
    fn amsgrad_and_bad_hyperparameters_are_errors() {
        assert!(AdamBf16::from_config(AdamConfig { amsgrad: true, ..Default::default() }).is_err());
        assert!(AdamBf16::from_config(AdamConfig { lr: -1.0, ..Default::default() }).is_err());
        assert!(serde_json::from_str::<AdamBf16>(r#"{"betas": [1.5, 0.9]}"#).is_err());
        let opt = AdamBf16::from_config(AdamConfig::default()).unwrap();
        let json = r#"{"step": 1, "exp_avg": [1.0], "exp_avg_sq": [-1.0]}"#;
        assert!(serde_json::from_str::<AdamBf16State>(json).is_err());
        let mut state = opt.init(3);
        state.exp_avg_sq.pop();
        assert!(matches!(
            opt.step(&mut [1.0_f32; 3], &[1.0; 3], &mut state),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn first_step_matches_adam_and_threads_change_nothing() {
        let (compact, FirstSteps { x0, g, compact: (a, sa), full: (b, _) }) =
            first_steps(AdamBf16::from_config);
        // From zero moments the first update uses the full-precision moments, so it is Adam's
        // to within the one rounding of the multiplied bias correction: an error of an ulp or two
        // in an update of size lr, plus the rounding of x - update.
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 4.0 * f32::EPSILON * (x.abs() + 1e-2), "{x} vs {y}");
        }
        let mut c = x0;
        let mut sc = compact.init(c.len());
        compact.step_parallel(&mut c, &g, &mut sc, 3).unwrap();
        assert_eq!(a, c);
        assert_eq!(sa, sc);
    }
}
