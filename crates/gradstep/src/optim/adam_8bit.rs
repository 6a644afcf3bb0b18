//! Adam and AdamW with their two moments stored in 8 bits each, in blocks of [`BLOCK`]
//! (2,048) parameters that share one scale (block-wise quantisation, Dettmers et al. 2022): a quarter
//! of the state memory, and 16 bytes moved per `f32` parameter and step instead of 28.

#[cfg(target_arch = "x86_64")]
use std::any::TypeId;

use serde::{Deserialize, Serialize};

use super::adam_bf16::mix;
use super::kernels::{GradPrep, Lerp, bias_correction, decoupled_shrink, eps_of, lerp_fused};
use super::parallel::{Threads, prefetch, with_wide_vectors};
use super::{AdamConfig, AdamWConfig, Optimizer, check_adam_family};
use crate::error::{Error, check_len, check_non_negative, next_step};
use crate::{Float, Result};

#[cfg(target_arch = "x86_64")]
mod avx512;

/// Parameters per block: each block of the two moments has its own scale, its largest
/// magnitude. Dettmers et al. use 2,048; the block's new moments (two buffers of this many
/// elements) stay in the first-level cache between the step's two passes over the block.
pub const BLOCK: usize = 2048;

/// Both codes are read off the bits of an `f32` `F(q)`: the code `q` of the first moment's
/// magnitude (0..=127) stands for `F(q) = from_bits((q + M_BIAS) << 20)`, 4 exponent and 3
/// mantissa bits (the layout of FP8's E4M3), and the code of the second moment's root (0..=255)
/// for `from_bits((q + U_BIAS) << 19)`, 4 and 4 bits. Both start at `F(0) = 2⁻¹⁵`, and a code
/// stands for `F(q) - F(0)`, so that 0 is exactly 0 and the smallest steps are a sixteenth
/// (first moment: an eighth) of 2⁻¹⁵, relative to the block's maximum.
const M_BIAS: u32 = 896;
const U_BIAS: u32 = 1792;
/// `F(0)` of both codes.
const F0: f32 = 1.0 / 32768.0;
/// The largest number of each code, `F(127) - F(0)` and `F(255) - F(0)`: a block's maximum is
/// scaled to it.
const M_TOP: f32 = 1.875 - F0;
const U_TOP: f32 = 1.9375 - F0;

/// A block's maximum turned into the two numbers that decode its codes: `scale·F(q) - offset`.
#[derive(Clone, Copy)]
struct Scale {
    scale: f32,
    offset: f32,
}

impl Scale {
    #[inline(always)]
    fn new(max: f32, top: f32) -> Self {
        let scale = max / top;
        // F0 is a power of two: F0·scale is exact (or flushes to 0 with it), so a zero code reads
        // as exactly 0.
        Self { scale, offset: F0 * scale }
    }
}

/// The first moment a code stands for: the code is the magnitude's code `q`, negated (as an
/// `i8`) for a negative moment, so that 0 has one code and the sign costs one `abs`.
#[inline(always)]
fn decode_m(c: u8, s: Scale) -> f32 {
    let signed = i32::from(c as i8);
    let q = signed.unsigned_abs();
    let magnitude = f32::from_bits((q + M_BIAS) << 20).mul_add(s.scale, -s.offset);
    f32::from_bits(magnitude.to_bits() | (signed as u32 & 0x8000_0000))
}

/// The second moment's root a code stands for.
#[inline(always)]
fn decode_u(c: u8, s: Scale) -> f32 {
    f32::from_bits((u32::from(c) + U_BIAS) << 19).mul_add(s.scale, -s.offset)
}

/// The code of the first moment `m` in a block whose maximum is `top / inv`, rounded
/// stochastically: `noise` (below 2²⁰), added to the 20 mantissa bits that are dropped, carries
/// into the 3 kept ones exactly as often as the number lies towards the next code up, when the
/// noise is uniform. NaN and anything above the top go to the top code.
#[inline(always)]
fn encode_m(m: f32, inv: f32, noise: u32) -> u8 {
    let bits = m.abs().mul_add(inv, F0).to_bits().wrapping_add(noise);
    // Only a NaN's bits (any sign) can lie below F0's: they wrap to the top code.
    let q = (bits >> 20).wrapping_sub(M_BIAS).min(127) as i32;
    let negative = (m.to_bits() as i32) >> 31; // 0 or -1
    ((q ^ negative) - negative) as u8
}

/// The code of the second moment's root `u ≥ 0`, rounded stochastically as [`encode_m`] does
/// (`noise` below 2¹⁹). A positive `u` is never rounded to 0: that would leave only ε to divide
/// the first moment by.
#[inline(always)]
fn encode_u(u: f32, inv: f32, noise: u32) -> u8 {
    let bits = u.mul_add(inv, F0).to_bits().wrapping_add(noise);
    let q = (bits >> 19).wrapping_sub(U_BIAS).min(255);
    q.max(u32::from(u > 0.0)) as u8
}

/// Adam ([`Adam`](super::Adam)'s update and hyperparameters) with both moments kept in 8 bits,
/// block-wise; the parameters, the gradient and all arithmetic stay in `T`.
///
/// Every block of [`Adam8bit::BLOCK`] parameters stores, for each moment, one byte per parameter and its
/// largest magnitude as an `f32`. The bytes are small floating-point numbers relative to that
/// maximum: the first moment $m$ as a sign and 4 exponent and 3 mantissa bits (FP8's E4M3
/// layout); the second moment as its **square root** $u = \sqrt{v}$ in 4 exponent and 4
/// mantissa bits. Storing $\sqrt{v}$ halves the range of magnitudes a block must cover (gradients
/// that differ by $2^{15}$ rather than their squares), and the update needs $\sqrt{v}$ anyway.
///
/// Each step reads a block's codes, computes Adam's update with the new moments in full
/// precision, then finds the block's new maxima and writes the codes back with **stochastic
/// rounding** (noise from Weyl sequences in the step and the index, see `Weyl`): with
/// 3 or 4 mantissa bits, rounding to nearest would freeze the moments outright, since one step of
/// β₂ = 0.999 moves $v$ by 0.1 % and neighbouring codes are 6 to 12 % apart. A nonzero root never
/// rounds to 0, so a small first moment is never divided by ε alone.
///
/// Why a float code rather than Dettmers et al.'s dynamic tree map: the map's 256 values must be
/// searched for the nearest one, element by element, while these codes are read off the bits
/// of an `f32` with a shift and a subtraction, so both passes over a block are vector loops.
/// Read and write the parameter, read the gradient, read and write two 1-byte moments: 16 bytes
/// per `f32` parameter (plus 16 bytes per block).
///
/// On x86-64 processors with AVX-512, full blocks of `f32` parameters go through loops written
/// for it, which take the square root and the division of the update from the approximate
/// reciprocals `vrsqrt14ps` and `vrcp14ps` (relative error below 2⁻¹⁴, against the codes'
/// 2⁻⁴ to 2⁻³), and encode one block while they update the next: without them the step costs
/// twice the instructions of `f32` Adam and is no faster than it. A run is the same for any
/// number of threads, and on every processor with AVX-512; elsewhere (and for a zero or
/// subnormal learning rate), the portable loops compute the same rules with exact square roots
/// and divisions, and the parameters differ in the last bits of their updates.
///
/// AMSGrad is not available: a config with `amsgrad` is an [`Error::Hyperparameter`].
///
/// A non-finite gradient makes that element's moments non-finite, as in Adam, and its block's
/// maximum infinite: the block is then scaled by the largest finite `f32`, its other moments are
/// stored as 0 and stay finite. Wrap the optimizer in [`SkipNonFinite`](crate::SkipNonFinite) to
/// skip such steps instead.
///
/// # Example
///
/// ```
/// use gradstep::{Adam8bit, AdamConfig, Optimizer};
///
/// let opt = Adam8bit::from_config(AdamConfig { lr: 0.1, ..Default::default() })?;
/// let mut x = vec![1.0_f32, -2.0];
/// let mut state = opt.init(x.len());
/// for _ in 0..100 {
///     let grad = [2.0 * x[0], 2.0 * x[1]]; // f(x) = |x|²
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!(x[0].abs() < 0.05 && x[1].abs() < 0.05);
/// assert_eq!(state.exp_avg.len() + state.exp_avg_sq_root.len(), 4); // two bytes per parameter
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Kingma, Ba (2015), *Adam: A Method for Stochastic Optimization*, ICLR.
/// - Dettmers, Lewis, Shleifer, Zettlemoyer (2022), *8-bit Optimizers via Block-wise
///   Quantization*, ICLR (blocks of 2,048 with their own absolute maximum).
/// - Micikevicius et al. (2022), *FP8 Formats for Deep Learning* (the E4M3 layout).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdamConfig", into = "AdamConfig")]
pub struct Adam8bit {
    config: AdamConfig,
}

/// State of [`Adam8bit`]: the step count, the two moments' codes and each block's maxima.
///
/// Loading one checks it as a step would: the two code buffers of one length, one maximum per
/// block of each (the last block may be shorter), every maximum finite and `>= 0`; an edited
/// checkpoint that breaks these is an error. Any byte is a valid code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawAdam8bitState")]
pub struct Adam8bitState {
    /// Number of steps taken, $t$.
    pub step: u64,
    /// First moment $m$, one code per parameter.
    pub exp_avg: Vec<u8>,
    /// The largest $|m|$ of each block.
    pub exp_avg_max: Vec<f32>,
    /// Square root of the second moment, $\sqrt{v}$, one code per parameter.
    pub exp_avg_sq_root: Vec<u8>,
    /// The largest $\sqrt{v}$ of each block.
    pub exp_avg_sq_root_max: Vec<f32>,
}

/// [`Adam8bitState`] as read, before its checks.
#[derive(Deserialize)]
struct RawAdam8bitState {
    step: u64,
    exp_avg: Vec<u8>,
    exp_avg_max: Vec<f32>,
    exp_avg_sq_root: Vec<u8>,
    exp_avg_sq_root_max: Vec<f32>,
}

impl TryFrom<RawAdam8bitState> for Adam8bitState {
    type Error = Error;
    fn try_from(r: RawAdam8bitState) -> Result<Self> {
        let s = Self {
            step: r.step,
            exp_avg: r.exp_avg,
            exp_avg_max: r.exp_avg_max,
            exp_avg_sq_root: r.exp_avg_sq_root,
            exp_avg_sq_root_max: r.exp_avg_sq_root_max,
        };
        s.check(s.exp_avg.len())?;
        let good = |x: &f32| x.is_finite() && *x >= 0.0;
        if !s.exp_avg_max.iter().all(good) || !s.exp_avg_sq_root_max.iter().all(good) {
            return Err(Error::InvalidState { what: "block maxima", rule: "must hold finite entries >= 0" });
        }
        Ok(s)
    }
}

impl Adam8bitState {
    /// Zero moments for `len` parameters.
    pub fn zeros(len: usize) -> Self {
        let blocks = len.div_ceil(BLOCK);
        Self {
            step: 0,
            exp_avg: vec![0; len],
            exp_avg_max: vec![0.0; blocks],
            exp_avg_sq_root: vec![0; len],
            exp_avg_sq_root_max: vec![0.0; blocks],
        }
    }

    /// The moments the codes stand for, $m$ and $v$ (the square of the stored root), as `f32`.
    pub fn moments(&self) -> (Vec<f32>, Vec<f32>) {
        let scaled = |codes: &[u8], max: &[f32], top: f32, decode: fn(u8, Scale) -> f32| -> Vec<f32> {
            codes
                .chunks(BLOCK)
                .zip(max)
                .flat_map(|(c, &mx)| c.iter().map(move |&c| decode(c, Scale::new(mx, top))))
                .collect()
        };
        let m = scaled(&self.exp_avg, &self.exp_avg_max, M_TOP, decode_m);
        let u = scaled(&self.exp_avg_sq_root, &self.exp_avg_sq_root_max, U_TOP, decode_u);
        (m, u.into_iter().map(|u| u * u).collect())
    }

    fn check(&self, len: usize) -> Result<()> {
        let blocks = len.div_ceil(BLOCK);
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_avg_sq_root", len, self.exp_avg_sq_root.len())?;
        check_len("exp_avg_max", blocks, self.exp_avg_max.len())?;
        check_len("exp_avg_sq_root_max", blocks, self.exp_avg_sq_root_max.len())
    }
}

super::compact_adam!(Adam8bit, Adam8bitState, "8-bit");

impl Adam8bit {
    /// Parameters per block of the moments: 2,048, as in Dettmers et al.
    pub const BLOCK: usize = BLOCK;

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut Adam8bitState,
        threads: impl Threads,
    ) -> Result<()> {
        self.run_with(params, grads, state, threads, true)
    }

    /// A step on `threads` threads; `fast` allows the AVX-512 loops (tests compare both).
    fn run_with<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut Adam8bitState,
        threads: impl Threads,
        fast: bool,
    ) -> Result<()> {
        let n = params.len();
        check_len("gradient", n, grads.len())?;
        state.check(n)?;
        let c = &self.config;
        let t = next_step(state.step)?;
        let eps = eps_of::<T>(c.eps)?;
        let (b1, b2) = c.betas;
        let neg_step = -(c.lr / bias_correction(b1, t));
        let inv_bc2_sqrt = 1.0 / bias_correction(b2, t).sqrt();
        let plain = c.weight_decay == 0.0 && !c.maximize;
        let k = Kernel {
            t,
            w1: Lerp::<T>::ema(b1),
            beta2: T::of(b2),
            one_minus_b2: T::of(1.0 - b2),
            neg_step: T::of(neg_step),
            inv_bc2_sqrt: T::of(inv_bc2_sqrt),
            eps,
            prep: GradPrep::<T>::new(c.maximize, c.weight_decay, !c.decoupled_weight_decay),
            shrink: decoupled_shrink::<T>(c.lr, c.weight_decay, c.decoupled_weight_decay),
            plain,
            #[cfg(target_arch = "x86_64")]
            fast: (fast
                && TypeId::of::<T>() == TypeId::of::<f32>()
                && std::arch::is_x86_feature_detected!("avx512f"))
            .then(|| {
                let coupled = !c.decoupled_weight_decay && c.weight_decay != 0.0;
                avx512::Constants {
                    beta1: b1 as f32,
                    one_minus_beta1: (1.0 - b1) as f32,
                    beta2: b2 as f32,
                    one_minus_beta2: (1.0 - b2) as f32,
                    neg_step: neg_step as f32,
                    inv_bc2_sqrt: inv_bc2_sqrt as f32,
                    eps: eps.to_f64_lossless() as f32,
                    sign: if c.maximize { -1.0 } else { 1.0 },
                    wd: if coupled { c.weight_decay as f32 } else { 0.0 },
                    shrink: decoupled_shrink::<f32>(c.lr, c.weight_decay, c.decoupled_weight_decay),
                    plain,
                }
            })
            .filter(avx512::Constants::foldable),
        };
        let parts = threads.parts(n);
        let Adam8bitState { exp_avg, exp_avg_max, exp_avg_sq_root, exp_avg_sq_root_max, .. } = state;
        let buffers = Buffers {
            p: params,
            g: grads,
            m: exp_avg,
            m_max: exp_avg_max,
            u: exp_avg_sq_root,
            u_max: exp_avg_sq_root_max,
        };
        split(threads, parts, 0, buffers, &k);
        state.step = t;
        Ok(())
    }
}

/// A whole number of blocks of every buffer (the last block may be short).
struct Buffers<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [u8],
    m_max: &'a mut [f32],
    u: &'a mut [u8],
    u_max: &'a mut [f32],
}

impl<'a, T> Buffers<'a, T> {
    /// The first `blocks` blocks and the rest.
    fn split_at_block(self, blocks: usize) -> (Self, Self) {
        let mid = blocks * BLOCK;
        let (p1, p2) = self.p.split_at_mut(mid);
        let (g1, g2) = self.g.split_at(mid);
        let (m1, m2) = self.m.split_at_mut(mid);
        let (u1, u2) = self.u.split_at_mut(mid);
        let (mm1, mm2) = self.m_max.split_at_mut(blocks);
        let (um1, um2) = self.u_max.split_at_mut(blocks);
        let head = Buffers { p: p1, g: g1, m: m1, m_max: mm1, u: u1, u_max: um1 };
        (head, Buffers { p: p2, g: g2, m: m2, m_max: mm2, u: u2, u_max: um2 })
    }
}

/// Cuts the buffers at a block boundary in proportion to the threads each part gets, until each
/// part has one thread; as `parallel::for_each_chunk_at`, but a block is never split.
fn split<T: Float>(how: impl Threads, threads: usize, offset: usize, b: Buffers<'_, T>, k: &Kernel<T>) {
    if threads <= 1 {
        with_wide_vectors(
            #[inline(always)]
            || k.blocks(offset, b),
        );
        return;
    }
    let left = threads / 2;
    let blocks = b.m_max.len() / threads * left;
    let mid = blocks * BLOCK;
    let (head, tail) = b.split_at_block(blocks);
    how.join(|| split(how, left, offset, head, k), || split(how, threads - left, offset + mid, tail, k));
}

/// One step's constants, and the two passes over each block.
struct Kernel<T> {
    t: u64,
    w1: Lerp<T>,
    beta2: T,
    one_minus_b2: T,
    neg_step: T,
    /// $1/\sqrt{1-\beta_2^t}$, multiplied where Adam divides, as in `AdamBf16`.
    inv_bc2_sqrt: T,
    eps: T,
    prep: GradPrep<T>,
    shrink: T,
    /// No weight decay of either kind and no `maximize`: `prep` and `shrink` do nothing.
    plain: bool,
    /// The constants of the AVX-512 loops, when `T` is `f32` and the CPU has AVX-512F.
    #[cfg(target_arch = "x86_64")]
    fast: Option<avx512::Constants>,
}

impl<T: Float> Kernel<T> {
    /// Every block of `b`, whose first element is element `offset` of the whole buffer.
    #[inline(always)]
    fn blocks(&self, offset: usize, b: Buffers<'_, T>) {
        #[cfg(target_arch = "x86_64")]
        let b = match &self.fast {
            Some(fast) if b.p.len() >= BLOCK => {
                let full = b.p.len() / BLOCK;
                let (head, rest) = b.split_at_block(full);
                let Buffers { p, g, m, m_max, u, u_max } = head;
                let head = Buffers { p: as_f32_mut(p), g: as_f32(g), m, m_max, u, u_max };
                let mut scratch = [[[0.0_f32; BLOCK]; 2]; 2];
                // SAFETY: `fast` is only set when the CPU has AVX-512F and the constants fold.
                unsafe { avx512::blocks(fast, head, self.t, offset, &mut scratch) };
                return self.portable_blocks(offset + full * BLOCK, rest);
            }
            _ => b,
        };
        self.portable_blocks(offset, b)
    }

    /// [`Kernel::blocks`] with the portable loops.
    #[inline(always)]
    fn portable_blocks(&self, offset: usize, b: Buffers<'_, T>) {
        if b.p.is_empty() {
            return;
        }
        let mut new_m = [T::zero(); BLOCK];
        let mut new_u = [T::zero(); BLOCK];
        let blocks =
            b.p.chunks_mut(BLOCK)
                .zip(b.g.chunks(BLOCK))
                .zip(b.m.chunks_mut(BLOCK).zip(b.u.chunks_mut(BLOCK)));
        for (i, ((p, g), (m, u))) in blocks.enumerate() {
            let n = p.len();
            let first = (offset + i * BLOCK) as u64;
            let noise = [Weyl::new(self.t, first, 0), Weyl::new(self.t, first, 1)];
            let (new_m, new_u) = (&mut new_m[..n], &mut new_u[..n]);
            let scales = (Scale::new(b.m_max[i], M_TOP), Scale::new(b.u_max[i], U_TOP));
            // Adam's update, a few elements at a time, with the next block asked for meanwhile.
            for start in (0..n).step_by(PREFETCH_CHUNK) {
                prefetch_next_block(start, &[p.as_ptr().cast(), g.as_ptr().cast()], size_of::<T>());
                prefetch_next_block(start, &[m.as_ptr(), u.as_ptr()], 1);
                let r = start..n.min(start + PREFETCH_CHUNK);
                let (p, g, codes) = (&mut p[r.clone()], &g[r.clone()], (&m[r.clone()], &u[r.clone()]));
                let new = (&mut new_m[r.clone()], &mut new_u[r]);
                if self.plain {
                    self.update::<true>(p, g, codes, scales, new);
                } else {
                    self.update::<false>(p, g, codes, scales, new);
                }
            }
            b.m_max[i] = store(m, new_m, M_TOP, noise[0], |y, inv, r| encode_m(y, inv, r >> 12));
            b.u_max[i] = store(u, new_u, U_TOP, noise[1], |y, inv, r| encode_u(y, inv, r >> 13));
        }
    }

    /// Adam's update of a few elements, from moments read off their codes and scales; the new
    /// moments in full precision go to `new_m` and `new_u` (the root of the new second moment).
    /// `PLAIN` when there is no weight decay and no `maximize`, so that the loop skips the four
    /// operations that would leave `x` and `g` unchanged.
    #[inline(always)]
    fn update<const PLAIN: bool>(
        &self,
        p: &mut [T],
        g: &[T],
        (m, u): (&[u8], &[u8]),
        (sm, su): (Scale, Scale),
        (new_m, new_u): (&mut [T], &mut [T]),
    ) {
        let n = p.len();
        let (g, m, u) = (&g[..n], &m[..n], &u[..n]);
        let (new_m, new_u) = (&mut new_m[..n], &mut new_u[..n]);
        for i in 0..n {
            let x = if PLAIN { p[i] } else { p[i] * self.shrink };
            let g = if PLAIN { g[i] } else { self.prep.apply(g[i], x) };
            let mi = lerp_fused(widen(decode_m(m[i], sm)), g, &self.w1);
            let ui: T = widen(decode_u(u[i], su));
            let ui = (ui * ui).mul_add(self.beta2, self.one_minus_b2 * g * g).sqrt();
            new_m[i] = mi;
            new_u[i] = ui;
            p[i] = (mi / ui.mul_add(self.inv_bc2_sqrt, self.eps)).mul_add(self.neg_step, x);
        }
    }
}

/// Elements per call of [`prefetch_next_block`].
const PREFETCH_CHUNK: usize = 64;

/// Asks for the cache lines of the next block that match elements `start..start + 64` of this
/// one, for buffers that start at `bases` and hold `size`-byte elements. A step is two short
/// passes per block, the first waiting on memory and the second not touching it; without this,
/// the second pass leaves the memory system idle and the two costs add up (measured: a step on
/// 10⁷ parameters took the time of the in-cache arithmetic plus that of the memory traffic).
#[inline(always)]
fn prefetch_next_block(start: usize, bases: &[*const u8], size: usize) {
    for &base in bases {
        prefetch::<false>(base, (BLOCK + start) * size, PREFETCH_CHUNK * size);
    }
}

/// Writes the codes of one block's new values and returns their largest magnitude, the block's
/// new maximum (the largest finite `f32`, if it is infinite, so that a zero code still reads as 0).
#[inline(always)]
fn store<T: Float>(
    codes: &mut [u8],
    values: &[T],
    top: f32,
    noise: Weyl,
    encode: impl Fn(f32, f32, u32) -> u8,
) -> f32 {
    let max = max_abs(values).min(f32::MAX);
    let inv = if max > 0.0 { top / max } else { 0.0 };
    let codes = &mut codes[..values.len()];
    for (i, (c, &x)) in codes.iter_mut().zip(values).enumerate() {
        *c = encode(narrow(x), inv, noise.at(i as u32));
    }
    max
}

/// Rounding noise from two Weyl sequences, one along the steps and one along the parameters:
/// the noise of element `i` at step `t` is the top bits of `t·a + i·b` (mod 2³²), with `a` and
/// `b` odd constants from the golden ratio and √2 (√3 and √5 for the second moment). Along the
/// steps, one parameter's noise is the golden-ratio sequence, as evenly spread over [0, 1) as a
/// sequence can be, so its roundings average out faster than random ones; and it costs one
/// vector add per element where a hash costs two multiplications and six shifts and xors (a
/// third of the step's time). It depends on nothing but `t` and `i`: a run is the same on any
/// number of threads and resumes from a checkpoint bit for bit.
#[derive(Clone, Copy)]
struct Weyl {
    /// The sequence at the block's first element.
    start: u32,
    stride: u32,
}

impl Weyl {
    const STEP: [u32; 2] = [0x9e37_79b9, 0xbb67_ae85];
    const INDEX: [u32; 2] = [0x6a09_e667, 0x3c6e_f373];

    /// The noise of the block starting at element `first` at step `t`, for moment `which`.
    fn new(t: u64, first: u64, which: usize) -> Self {
        let (a, b) = (Self::STEP[which], Self::INDEX[which]);
        // The high halves of t and of the index go through the hash, so that steps or indices
        // that differ by 2³² do not repeat the noise.
        let high = mix((t >> 32) as u32 ^ ((first >> 32) as u32).rotate_left(16));
        let start = (t as u32).wrapping_mul(a).wrapping_add((first as u32).wrapping_mul(b)) ^ high;
        Self { start, stride: b }
    }

    /// The noise of the block's element `i` (its top bits are the most evenly spread).
    #[inline(always)]
    fn at(self, i: u32) -> u32 {
        self.start.wrapping_add(i.wrapping_mul(self.stride))
    }
}

/// The largest |x| as an `f32` (NaN entries are passed over), in 64 independent lanes so that
/// the loop vectorises without reordering a floating-point reduction (and four vector registers
/// of maxima do not wait on each other).
#[inline(always)]
fn max_abs<T: Float>(xs: &[T]) -> f32 {
    const LANES: usize = 64;
    let mut lanes = [0.0_f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            let a = narrow(x).abs();
            *l = if a > *l { a } else { *l };
        }
    }
    let rest = chunks.remainder().iter().map(|&x| narrow(x).abs());
    lanes.into_iter().chain(rest).fold(0.0, |a, b| if b > a { b } else { a })
}

/// `x` as the `f32` slice it is; only called when `T` is `f32`.
#[cfg(target_arch = "x86_64")]
fn as_f32_mut<T: Float>(x: &mut [T]) -> &mut [f32] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: T is f32 (checked just above), so the slice is one of f32.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len()) }
}

/// [`as_f32_mut`] for a shared slice.
#[cfg(target_arch = "x86_64")]
fn as_f32<T: Float>(x: &[T]) -> &[f32] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: T is f32 (checked just above).
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) }
}

#[inline(always)]
fn widen<T: Float>(x: f32) -> T {
    T::of(f64::from(x))
}

#[inline(always)]
fn narrow<T: Float>(x: T) -> f32 {
    x.to_f64_lossless() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{FirstSteps, first_steps};

    #[test]
    fn codes_cover_their_ranges_in_order() {
        // Scales for a block whose maximum is the top code: codes read as F(q) - F(0).
        let (sm, su) = (Scale::new(M_TOP, M_TOP), Scale::new(U_TOP, U_TOP));
        assert_eq!(decode_m(127, sm), M_TOP);
        assert_eq!(decode_m(-127i8 as u8, sm), -M_TOP);
        assert_eq!(decode_m(1, sm), 2f32.powi(-18));
        assert_eq!(decode_m(0, sm), 0.0);
        assert_eq!(decode_u(255, su), U_TOP);
        assert_eq!(decode_u(1, su), 2f32.powi(-19));
        assert_eq!(decode_u(0, su), 0.0);
        // Increasing codes stand for increasing numbers, and each code encodes to itself.
        for q in 1..=127i8 {
            assert!(decode_m(q as u8, sm) > decode_m(q as u8 - 1, sm));
            assert_eq!(encode_m(decode_m(q as u8, sm), 1.0, 0), q as u8);
            assert_eq!(encode_m(-decode_m(q as u8, sm), 1.0, 0), (-q) as u8);
        }
        for q in 1..=255u8 {
            assert!(decode_u(q, su) > decode_u(q - 1, su));
            assert_eq!(encode_u(decode_u(q, su), 1.0, 0), q);
        }
        // A block's maximum reads back as itself (up to the rounding of the scale, which the
        // noise rounds up, as it does with probability 1 - 2⁻²⁰ or more).
        let s = Scale::new(0.37, M_TOP);
        assert!((decode_m(encode_m(-0.37, M_TOP / 0.37, (1 << 20) - 1), s) + 0.37).abs() < 1e-7);
    }

    #[test]
    fn encoding_clamps_and_keeps_a_positive_root_off_zero() {
        let (most_m, most_u) = ((1 << 20) - 1, (1 << 19) - 1);
        assert_eq!(encode_m(M_TOP * (1.0 + f32::EPSILON), 1.0, most_m), 127);
        assert_eq!((encode_m(f32::NAN, 1.0, 0) as i8).unsigned_abs(), 127);
        assert_eq!((encode_m(-f32::NAN, 1.0, most_m) as i8).unsigned_abs(), 127);
        assert_eq!(encode_m(f32::INFINITY, 0.5, 0), 127);
        assert_eq!(encode_m(1e-9, 1.0, 0), 0);
        assert_eq!(encode_m(-1e-9, 1.0, 0), 0);
        assert_eq!(encode_u(U_TOP * (1.0 + f32::EPSILON), 1.0, most_u), 255);
        assert_eq!(encode_u(f32::NAN, 1.0, most_u), 255);
        assert_eq!(encode_u(-f32::NAN, 1.0, most_u), 255);
        assert_eq!(encode_u(1e-30, 1.0, 0), 1);
        assert_eq!(encode_u(0.0, 1.0, most_u), 0);
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        // 30 % of the way from one code to the next, with noise from a hash and from the Weyl
        // sequence of one element over 2¹⁶ steps.
        let (sm, su) = (Scale::new(M_TOP, M_TOP), Scale::new(U_TOP, U_TOP));
        let xm = -(decode_m(120, sm) + 0.3 * (decode_m(121, sm) - decode_m(120, sm)));
        let xu = decode_u(200, su) + 0.3 * (decode_u(201, su) - decode_u(200, su));
        let n = 1 << 16;
        type Noise = dyn Fn(u32) -> u32;
        let hash: &Noise = &|i| mix(i);
        let weyl: &Noise = &|t| Weyl::new(u64::from(t), 12 * BLOCK as u64, 0).at(37);
        for noise in [hash, weyl] {
            let mean =
                |f: &dyn Fn(u32) -> f32| (0..n).map(|i| f64::from(f(noise(i)))).sum::<f64>() / f64::from(n);
            let m = mean(&|r| decode_m(encode_m(xm, 1.0, r >> 12), sm));
            let u = mean(&|r| decode_u(encode_u(xu, 1.0, r >> 13), su));
            assert!((m - f64::from(xm)).abs() < 1e-3 * f64::from(xm.abs()), "{m} vs {xm}");
            assert!((u - f64::from(xu)).abs() < 1e-3 * f64::from(xu), "{u} vs {xu}");
        }
    }

    #[test]
    fn amsgrad_bad_hyperparameters_and_bad_states_are_errors() {
        assert!(Adam8bit::from_config(AdamConfig { amsgrad: true, ..Default::default() }).is_err());
        assert!(Adam8bit::from_config(AdamConfig { lr: -1.0, ..Default::default() }).is_err());
        assert!(serde_json::from_str::<Adam8bit>(r#"{"betas": [1.5, 0.9]}"#).is_err());
        let good = r#"{"step": 1, "exp_avg": [1, 255], "exp_avg_max": [0.5], "exp_avg_sq_root": [0, 7], "exp_avg_sq_root_max": [2.0]}"#;
        assert!(serde_json::from_str::<Adam8bitState>(good).is_ok());
        for bad in [
            r#"{"step": 1, "exp_avg": [1, 255], "exp_avg_max": [-0.5], "exp_avg_sq_root": [0, 7], "exp_avg_sq_root_max": [2.0]}"#,
            r#"{"step": 1, "exp_avg": [1, 255], "exp_avg_max": [0.5, 1.0], "exp_avg_sq_root": [0, 7], "exp_avg_sq_root_max": [2.0]}"#,
            r#"{"step": 1, "exp_avg": [1, 255], "exp_avg_max": [0.5], "exp_avg_sq_root": [0], "exp_avg_sq_root_max": [2.0]}"#,
            r#"{"step": 1, "exp_avg": [1, 256], "exp_avg_max": [0.5], "exp_avg_sq_root": [0, 7], "exp_avg_sq_root_max": [2.0]}"#,
        ] {
            assert!(serde_json::from_str::<Adam8bitState>(bad).is_err(), "{bad}");
        }
        let opt = Adam8bit::from_config(AdamConfig::default()).unwrap();
        let mut state = opt.init(BLOCK + 1);
        state.exp_avg_max.pop();
        assert!(matches!(
            opt.step(&mut vec![1.0_f32; BLOCK + 1], &vec![1.0; BLOCK + 1], &mut state),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn first_step_matches_adam_and_threads_change_nothing() {
        let (compact, FirstSteps { x0, g, compact: (a, sa), full: (b, sb) }) =
            first_steps(Adam8bit::from_config);
        // From zero moments the first update uses the full-precision moments: Adam's to within
        // the rounding of the multiplied bias correction and, on AVX-512, the approximate
        // reciprocals' 2⁻¹⁴ of the update (lr = 1e-2).
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 4.0 * f32::EPSILON * x.abs() + 1e-2 / 8192.0, "{x} vs {y}");
        }
        // The stored moments are the f32 ones to within one code (12.5 % for m, 6.25 % for √v),
        // or, below the smallest code, to within 2⁻¹⁴ of their block's maximum.
        let (m, v) = sa.moments();
        for (i, (&mq, &vq)) in m.iter().zip(&v).enumerate() {
            let (me, ve) = (sb.exp_avg[i], sb.exp_avg_sq[i]);
            let (m_floor, u_floor) =
                (sa.exp_avg_max[i / BLOCK] / 16384.0, sa.exp_avg_sq_root_max[i / BLOCK] / 16384.0);
            assert!((mq - me).abs() <= 0.125 * me.abs() + m_floor, "m {mq} vs {me}");
            assert!((vq.sqrt() - ve.sqrt()).abs() <= 0.0625 * ve.sqrt() + u_floor, "v {vq} vs {ve}");
        }
        for threads in [2, 3] {
            let mut c = x0.clone();
            let mut sc = compact.init(x0.len());
            compact.step_parallel(&mut c, &g, &mut sc, threads).unwrap();
            compact.step_parallel(&mut c, &g, &mut sc, threads).unwrap();
            let (mut d, mut sd) = (a.clone(), sa.clone());
            compact.step(&mut d, &g, &mut sd).unwrap();
            assert_eq!(c, d);
            assert_eq!(sc, sd);
        }
    }

    /// The AVX-512 loops against the portable ones on three blocks and a short one: one step
    /// from the same state (after 19 portable steps) writes codes by the same rules, so they
    /// differ only where an approximate reciprocal moves a value across a rounding threshold, by
    /// one code, and the parameters by a tiny fraction of a step; and 20 steps of each stay within
    /// a small fraction of the distance Adam can travel. (On a CPU without AVX-512 both runs take
    /// the portable loops.)
    #[test]
    fn avx512_loops_agree_with_the_portable_ones() {
        let n = 3 * BLOCK + 7;
        let lr = 1e-2;
        let plain = AdamConfig { lr, ..Default::default() };
        // Without and with decoupled weight decay, and with coupled decay while ascending.
        for config in [
            plain,
            AdamConfig { weight_decay: 0.1, decoupled_weight_decay: true, ..plain },
            AdamConfig { weight_decay: 0.1, maximize: true, ..plain },
        ] {
            let opt = Adam8bit::from_config(config).unwrap();
            let grad = |t: usize| -> Vec<f32> {
                (0..n).map(|i| ((i as f32) * 0.11 + t as f32).cos() * 10f32.powi(i as i32 % 5 - 4)).collect()
            };
            let mut x: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin()).collect();
            let mut y = x.clone();
            let (mut sx, mut sy) = (opt.init(n), opt.init(n));
            for t in 0..19 {
                opt.run_with(&mut x, &grad(t), &mut sx, 1, true).unwrap();
                opt.run_with(&mut y, &grad(t), &mut sy, 1, false).unwrap();
            }
            let far = x.iter().zip(&y).map(|(x, y)| (x - y).abs()).fold(0.0_f32, f32::max);
            assert!(f64::from(far) < 0.05 * 19.0 * lr, "after 19 steps the parameters differ by {far}");
            let (mut a, mut b, mut sa, mut sb) = (y.clone(), y, sy.clone(), sy);
            opt.run_with(&mut a, &grad(19), &mut sa, 1, true).unwrap();
            opt.run_with(&mut b, &grad(19), &mut sb, 1, false).unwrap();
            let worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0_f32, f32::max);
            assert!(f64::from(worst) < 1e-3 * lr, "one step: parameters differ by {worst}");
            let mut apart = 0;
            for (codes_a, codes_b, signed) in
                [(&sa.exp_avg, &sb.exp_avg, true), (&sa.exp_avg_sq_root, &sb.exp_avg_sq_root, false)]
            {
                for (&ca, &cb) in codes_a.iter().zip(codes_b) {
                    let (ca, cb) = if signed {
                        (i32::from(ca as i8), i32::from(cb as i8))
                    } else {
                        (i32::from(ca), i32::from(cb))
                    };
                    assert!((ca - cb).abs() <= 1, "codes {ca} and {cb}");
                    apart += usize::from(ca != cb);
                }
            }
            assert!(apart < n / 100, "{apart} of {} codes differ", 2 * n);
            for (ma, mb) in sa.exp_avg_max.iter().zip(&sb.exp_avg_max) {
                assert!((ma - mb).abs() <= 1e-3 * mb, "block maxima {ma} and {mb}");
            }
        }
    }

    /// A zero learning rate cannot be folded into the AVX-512 loops' reciprocal (it would divide
    /// by zero): such steps take the portable loops, and leave the parameters where they are,
    /// zero gradients (whose root is 0) included; the moments still move.
    #[test]
    fn a_zero_learning_rate_leaves_the_parameters_alone() {
        for (lr, weight_decay) in [(0.0, 0.0), (0.0, 0.1), (1e-45, 0.0)] {
            let opt = Adam8bit::from_config(AdamConfig { lr, weight_decay, ..Default::default() }).unwrap();
            let n = 2 * BLOCK + 5;
            let x0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
            let g: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { 0.0 } else { (i as f32).cos() }).collect();
            let (mut x, mut state) = (x0.clone(), opt.init(n));
            for _ in 0..3 {
                opt.step(&mut x, &g, &mut state).unwrap();
            }
            assert_eq!(x, x0, "lr {lr}, weight decay {weight_decay}");
            assert!(state.exp_avg_max.iter().all(|&m| m > 0.0));
        }
    }

    #[test]
    fn an_infinite_gradient_zeroes_its_blocks_other_moments_and_nothing_panics() {
        let opt = Adam8bit::from_config(AdamConfig::default()).unwrap();
        let n = 2 * BLOCK;
        let mut x = vec![1.0_f64; n];
        let mut g = vec![0.5; n];
        let mut state = opt.init(n);
        g[3] = f64::INFINITY;
        opt.step(&mut x, &g, &mut state).unwrap();
        g[3] = 0.5;
        opt.step(&mut x, &g, &mut state).unwrap();
        assert!(x[..BLOCK].iter().enumerate().all(|(i, x)| i == 3 || x.is_finite()));
        assert!(x[BLOCK..].iter().all(|x| x.is_finite()));
    }
}
