//! The 8-bit Adam step on `f32` blocks, written for AVX-512.
//!
//! The portable loops spend more of their time on instructions than on memory: on one core a
//! step cost the in-cache arithmetic plus the memory traffic, and the arithmetic was twice f32
//! Adam's (decoding, maxima and stochastic encoding besides the update). Three things bring it
//! down here:
//! - The square root and the division, which alone occupy the divider for about 20 cycles per
//!   16 elements, become AVX-512's approximate reciprocals (`vrsqrt14ps`, `vrcp14ps`, relative
//!   error below 2⁻¹⁴): the moments are stored with 3 and 4 mantissa bits, and the update's own
//!   rounding noise is far larger than 2⁻¹⁴ of it.
//! - Constants that multiply a decoded moment are folded into its block's scale (β₁ into the
//!   first moment's, √β₂ into the root's), and the step size into the reciprocal's argument, so
//!   the update is four fused multiply-adds around the two reciprocals.
//! - The two passes over a block are interleaved with those of its neighbour: while the first
//!   pass computes block `i + 1`'s update, streaming its bytes from memory, the second encodes
//!   block `i`'s new moments, which are in the first-level cache. A block's second pass cannot
//!   start before its first has ended (it needs the block's new maxima), so it runs one block
//!   behind. Run one after the other, the first pass waits on memory and the second leaves memory
//!   idle, and a step took the time of both; interleaved, each hides the other.
//!
//! The codes are written exactly as the portable [`super::encode_m`] and [`super::encode_u`]
//! write them, from the same noise.

use std::arch::x86_64::*;

use super::super::parallel::{STREAM_CHUNK, prefetch_ahead};
use super::{BLOCK, Buffers, F0, M_BIAS, M_TOP, Scale, U_BIAS, U_TOP, Weyl};

/// One step's constants in `f32`.
#[derive(Clone, Copy)]
pub(super) struct Constants {
    pub beta1: f32,
    pub one_minus_beta1: f32,
    pub beta2: f32,
    pub one_minus_beta2: f32,
    pub neg_step: f32,
    pub inv_bc2_sqrt: f32,
    pub eps: f32,
    pub sign: f32,
    pub wd: f32,
    pub shrink: f32,
    pub plain: bool,
}

impl Constants {
    /// Whether the step size can be folded into the reciprocal (see [`Update`]): not for a zero
    /// or subnormal learning rate, whose quotients overflow. The portable loops take such steps.
    pub(super) fn foldable(&self) -> bool {
        (self.inv_bc2_sqrt / self.neg_step).is_finite() && (self.eps / self.neg_step).is_finite()
    }
}

/// The new moments of two blocks in full precision, `[block][m or √v]`: the one whose first pass
/// runs and the one whose second pass runs.
pub(super) type Scratch = [[[f32; BLOCK]; 2]; 2];

/// Every block of `b`, whose first element is element `offset` of the whole buffer, at step `t`;
/// `b` holds whole blocks only.
///
/// # Safety
/// The CPU must support AVX-512F, and `k.foldable()` must hold.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn blocks(
    k: &Constants,
    b: Buffers<'_, f32>,
    t: u64,
    offset: usize,
    scratch: &mut Scratch,
) {
    let update = Update::new(k);
    let (this, behind) = scratch.split_at_mut(1);
    let (mut this, mut behind) = (&mut this[0], &mut behind[0]);
    // The block whose codes wait for their second pass.
    let mut pending: Option<(Encode, &mut [u8], &mut [u8])> = None;
    let blocks = b.p.chunks_exact_mut(BLOCK).zip(b.g.chunks_exact(BLOCK));
    let codes = b.m.chunks_exact_mut(BLOCK).zip(b.u.chunks_exact_mut(BLOCK));
    let maxima = b.m_max.iter_mut().zip(b.u_max.iter_mut());
    for (i, (((p, g), (m, u)), (m_max, u_max))) in blocks.zip(codes).zip(maxima).enumerate() {
        let decode = Decode::new(&update, *m_max, *u_max);
        let (mut top_m, mut top_u) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for j in (0..BLOCK).step_by(16) {
            // The stream of bytes is continuous across blocks now, so the requests run a fixed
            // distance ahead, as in other updates, rather than a block ahead (measured: 7 %
            // faster on one thread).
            if j % STREAM_CHUNK == 0 {
                prefetch_ahead(p.as_ptr().cast(), j, 4);
                prefetch_ahead(g.as_ptr().cast(), j, 4);
                prefetch_ahead(m.as_ptr(), j, 1);
                prefetch_ahead(u.as_ptr(), j, 1);
            }
            // SAFETY: j + 16 <= BLOCK, the length of every slice here.
            unsafe {
                let x = p.as_mut_ptr().add(j);
                let (cm, cu) = (m.as_ptr().add(j), u.as_ptr().add(j));
                let (new_m, new_u) = (this[0].as_mut_ptr().add(j), this[1].as_mut_ptr().add(j));
                update.sixteen(
                    &decode,
                    x,
                    g.as_ptr().add(j),
                    (cm, cu),
                    (new_m, new_u),
                    (&mut top_m, &mut top_u),
                );
                if let Some((encode, m, u)) = &mut pending {
                    let new = (behind[0].as_ptr().add(j), behind[1].as_ptr().add(j));
                    encode.sixteen(new, m.as_mut_ptr().add(j), u.as_mut_ptr().add(j));
                }
            }
        }
        *m_max = _mm512_reduce_max_ps(top_m).min(f32::MAX);
        *u_max = _mm512_reduce_max_ps(top_u).min(f32::MAX);
        let first = (offset + i * BLOCK) as u64;
        pending = Some((Encode::new(*m_max, *u_max, [Weyl::new(t, first, 0), Weyl::new(t, first, 1)]), m, u));
        std::mem::swap(&mut this, &mut behind);
    }
    if let Some((mut encode, m, u)) = pending {
        for j in (0..BLOCK).step_by(16) {
            // SAFETY: j + 16 <= BLOCK, as above.
            unsafe {
                let new = (behind[0].as_ptr().add(j), behind[1].as_ptr().add(j));
                encode.sixteen(new, m.as_mut_ptr().add(j), u.as_mut_ptr().add(j));
            }
        }
    }
}

/// The update's constants as vectors. With `s = -lr/(1 - β₁ᵗ)` and `c = 1/√(1 - β₂ᵗ)`, Adam's
/// `x + s·m / (c·√v + ε)` is `x + m · 1/(√v·(c/s) + ε/s)`: one multiply-add and one reciprocal.
struct Update {
    /// β₁ and √β₂, which [`Decode`] folds into each block's scales.
    beta1: f32,
    sqrt_beta2: f32,
    one_minus_beta1: __m512,
    one_minus_beta2: __m512,
    c_over_s: __m512,
    eps_over_s: __m512,
    sign: __m512,
    wd: __m512,
    shrink: __m512,
    plain: bool,
}

impl Update {
    #[target_feature(enable = "avx512f")]
    fn new(k: &Constants) -> Self {
        let s = _mm512_set1_ps;
        Self {
            beta1: k.beta1,
            sqrt_beta2: k.beta2.sqrt(),
            one_minus_beta1: s(k.one_minus_beta1),
            one_minus_beta2: s(k.one_minus_beta2),
            c_over_s: s(k.inv_bc2_sqrt / k.neg_step),
            eps_over_s: s(k.eps / k.neg_step),
            sign: s(k.sign),
            wd: s(k.wd),
            shrink: s(k.shrink),
            plain: k.plain,
        }
    }

    /// The first pass on 16 elements: Adam's update of `x` from the codes `cm` and `cu`, the new
    /// moments written to `new` and their largest magnitudes kept in `top`.
    ///
    /// # Safety
    /// Every pointer must be valid for 16 elements.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn sixteen(
        &self,
        d: &Decode,
        x: *mut f32,
        g: *const f32,
        (cm, cu): (*const u8, *const u8),
        (new_m, new_u): (*mut f32, *mut f32),
        (top_m, top_u): (&mut __m512, &mut __m512),
    ) {
        // SAFETY: the caller's.
        let (mut p, mut grad, cm, cu) = unsafe {
            (
                _mm512_loadu_ps(x),
                _mm512_loadu_ps(g),
                _mm512_cvtepi8_epi32(_mm_loadu_si128(cm.cast())),
                _mm512_cvtepu8_epi32(_mm_loadu_si128(cu.cast())),
            )
        };
        if !self.plain {
            p = _mm512_mul_ps(p, self.shrink);
            grad = _mm512_fmadd_ps(self.wd, p, _mm512_mul_ps(grad, self.sign));
        }
        // β₁·m and √β₂·√v, read off the codes (the sign of m is the sign of its code).
        let fm =
            _mm512_slli_epi32::<20>(_mm512_add_epi32(_mm512_abs_epi32(cm), _mm512_set1_epi32(M_BIAS as i32)));
        let magnitude = _mm512_castps_si512(_mm512_fmsub_ps(_mm512_castsi512_ps(fm), d.scale_m, d.offset_m));
        // magnitude | (cm & sign bit)
        let m0 = _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xF8>(
            magnitude,
            cm,
            _mm512_set1_epi32(i32::MIN),
        ));
        let fu = _mm512_slli_epi32::<19>(_mm512_add_epi32(cu, _mm512_set1_epi32(U_BIAS as i32)));
        let u0 = _mm512_fmsub_ps(_mm512_castsi512_ps(fu), d.scale_u, d.offset_u);
        let m1 = _mm512_fmadd_ps(self.one_minus_beta1, grad, m0);
        let v = _mm512_fmadd_ps(u0, u0, _mm512_mul_ps(_mm512_mul_ps(grad, self.one_minus_beta2), grad));
        // √v as v/√v; v = 0 gives 0·(1/√smallest) = 0.
        let u1 = _mm512_mul_ps(v, _mm512_rsqrt14_ps(_mm512_max_ps(v, _mm512_set1_ps(f32::MIN_POSITIVE))));
        let step = _mm512_rcp14_ps(_mm512_fmadd_ps(u1, self.c_over_s, self.eps_over_s));
        // SAFETY: the caller's.
        unsafe {
            _mm512_storeu_ps(x, _mm512_fmadd_ps(m1, step, p));
            _mm512_storeu_ps(new_m, m1);
            _mm512_storeu_ps(new_u, u1);
        }
        // max(new, old) keeps the old maximum where the new value is NaN, as max_abs does.
        *top_m = _mm512_max_ps(_mm512_abs_ps(m1), *top_m);
        *top_u = _mm512_max_ps(u1, *top_u);
    }
}

/// A block's decoding scales, with β₁ folded into the first moment's and √β₂ into the root's.
struct Decode {
    scale_m: __m512,
    offset_m: __m512,
    scale_u: __m512,
    offset_u: __m512,
}

impl Decode {
    #[target_feature(enable = "avx512f")]
    fn new(k: &Update, m_max: f32, u_max: f32) -> Self {
        let (sm, su) = (Scale::new(m_max, M_TOP), Scale::new(u_max, U_TOP));
        let (b1, rb2) = (k.beta1, k.sqrt_beta2);
        let s = _mm512_set1_ps;
        Self {
            scale_m: s(sm.scale * b1),
            offset_m: s(sm.offset * b1),
            scale_u: s(su.scale * rb2),
            offset_u: s(su.offset * rb2),
        }
    }
}

/// A block's encoding: the inverse scales of its new maxima and the rounding noise of the next
/// 16 elements of each moment.
struct Encode {
    inv_m: __m512,
    inv_u: __m512,
    noise_m: __m512i,
    noise_u: __m512i,
    stride_m: __m512i,
    stride_u: __m512i,
}

impl Encode {
    #[target_feature(enable = "avx512f")]
    fn new(m_max: f32, u_max: f32, noise: [Weyl; 2]) -> Self {
        let inv = |max: f32, top: f32| _mm512_set1_ps(if max > 0.0 { top / max } else { 0.0 });
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let start = |w: Weyl| {
            _mm512_add_epi32(
                _mm512_set1_epi32(w.start as i32),
                _mm512_mullo_epi32(lanes, _mm512_set1_epi32(w.stride as i32)),
            )
        };
        let stride = |w: Weyl| _mm512_set1_epi32(w.stride.wrapping_mul(16) as i32);
        Self {
            inv_m: inv(m_max, M_TOP),
            inv_u: inv(u_max, U_TOP),
            noise_m: start(noise[0]),
            noise_u: start(noise[1]),
            stride_m: stride(noise[0]),
            stride_u: stride(noise[1]),
        }
    }

    /// The second pass on 16 elements: the codes of the new moments `new`.
    ///
    /// # Safety
    /// Every pointer must be valid for 16 elements.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn sixteen(&mut self, (new_m, new_u): (*const f32, *const f32), m: *mut u8, u: *mut u8) {
        // SAFETY: the caller's.
        let (m1, u1) = unsafe { (_mm512_loadu_ps(new_m), _mm512_loadu_ps(new_u)) };
        let f0 = _mm512_set1_ps(F0);
        // The codes are found with their biases (min against the biased top code) and the bias
        // taken off after: M_BIAS for the first moment; the root's U_BIAS is a multiple of 256,
        // so the byte the code is narrowed to drops it.
        let bits = _mm512_add_epi32(
            _mm512_castps_si512(_mm512_fmadd_ps(_mm512_abs_ps(m1), self.inv_m, f0)),
            _mm512_srli_epi32::<12>(self.noise_m),
        );
        let q = _mm512_min_epu32(_mm512_srli_epi32::<20>(bits), _mm512_set1_epi32((M_BIAS + 127) as i32));
        let q = _mm512_sub_epi32(q, _mm512_set1_epi32(M_BIAS as i32));
        let negative = _mm512_cmplt_epi32_mask(_mm512_castps_si512(m1), _mm512_setzero_si512());
        let code_m = _mm512_mask_sub_epi32(q, negative, _mm512_setzero_si512(), q);
        let bits = _mm512_add_epi32(
            _mm512_castps_si512(_mm512_fmadd_ps(u1, self.inv_u, f0)),
            _mm512_srli_epi32::<13>(self.noise_u),
        );
        let q = _mm512_min_epu32(_mm512_srli_epi32::<19>(bits), _mm512_set1_epi32((U_BIAS + 255) as i32));
        // A positive root is never rounded to 0.
        let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(u1, _mm512_setzero_ps());
        let code_u = _mm512_mask_max_epu32(q, positive, q, _mm512_set1_epi32((U_BIAS + 1) as i32));
        // SAFETY: the caller's.
        unsafe {
            _mm_storeu_si128(m.cast(), _mm512_cvtepi32_epi8(code_m));
            _mm_storeu_si128(u.cast(), _mm512_cvtepi32_epi8(code_u));
        }
        self.noise_m = _mm512_add_epi32(self.noise_m, self.stride_m);
        self.noise_u = _mm512_add_epi32(self.noise_u, self.stride_u);
    }
}
