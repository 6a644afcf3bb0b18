//! The 8-bit Adam step on `f32` blocks, written for AVX-512.
//!
//! The portable loops spend more of their time on instructions than on memory: on one core a
//! step cost the in-cache arithmetic plus the memory traffic, and the arithmetic was twice f32
//! Adam's (decoding, maxima and stochastic encoding besides the update). Here the square root
//! and the division, which alone occupy the divider for about 20 cycles per 16 elements, become
//! AVX-512's approximate reciprocals (`vrsqrt14ps`, `vrcp14ps`, relative error below 2⁻¹⁴):
//! the moments are stored with 3 and 4 mantissa bits, and the update's own rounding noise is far
//! larger than 2⁻¹⁴ of it. The codes are written exactly as the portable [`super::encode_m`] and
//! [`super::encode_u`] write them.

use std::arch::x86_64::*;

use super::{BLOCK, F0, M_BIAS, M_TOP, PREFETCH_CHUNK, U_BIAS, U_TOP, Weyl, prefetch_next_block};

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

/// The block's buffers: `BLOCK` elements of each, and the block's two maxima.
pub(super) struct Block<'a> {
    pub p: &'a mut [f32],
    pub g: &'a [f32],
    pub m: &'a mut [u8],
    pub u: &'a mut [u8],
    pub m_max: &'a mut f32,
    pub u_max: &'a mut f32,
}

/// Both passes over one full block; `noise` are the block's Weyl sequences.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn block(
    k: &Constants,
    b: Block<'_>,
    noise: [Weyl; 2],
    new_m: &mut [f32; BLOCK],
    new_u: &mut [f32; BLOCK],
) {
    let (p, g, m, u) = (&mut b.p[..BLOCK], &b.g[..BLOCK], &mut b.m[..BLOCK], &mut b.u[..BLOCK]);
    let (sm, su) = (super::Scale::new(*b.m_max, M_TOP), super::Scale::new(*b.u_max, U_TOP));
    let s = _mm512_set1_ps;
    let (scale_m, offset_m, scale_u, offset_u) = (s(sm.scale), s(sm.offset), s(su.scale), s(su.offset));
    let (beta1, one_minus_beta1) = (s(k.beta1), s(k.one_minus_beta1));
    let (beta2, one_minus_beta2) = (s(k.beta2), s(k.one_minus_beta2));
    let (neg_step, inv_bc2_sqrt, eps) = (s(k.neg_step), s(k.inv_bc2_sqrt), s(k.eps));
    let (sign, wd, shrink) = (s(k.sign), s(k.wd), s(k.shrink));
    let (bias_m, bias_u) = (_mm512_set1_epi32(M_BIAS as i32), _mm512_set1_epi32(U_BIAS as i32));
    let sign_bit = _mm512_set1_epi32(i32::MIN);
    let smallest = s(f32::MIN_POSITIVE);
    let (mut max_m, mut max_u) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for start in (0..BLOCK).step_by(PREFETCH_CHUNK) {
        prefetch_next_block(start, &[p.as_ptr().cast(), g.as_ptr().cast()], 4);
        for i in (start..start + PREFETCH_CHUNK).step_by(16) {
            // SAFETY (all loads and stores): i + 16 <= BLOCK, the length of every buffer.
            let (mut x, mut grad) =
                unsafe { (_mm512_loadu_ps(p.as_ptr().add(i)), _mm512_loadu_ps(g.as_ptr().add(i))) };
            if !k.plain {
                x = _mm512_mul_ps(x, shrink);
                grad = _mm512_fmadd_ps(wd, x, _mm512_mul_ps(grad, sign));
            }
            let (cm, cu) = unsafe {
                (
                    _mm512_cvtepi8_epi32(_mm_loadu_si128(m.as_ptr().add(i).cast())),
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(u.as_ptr().add(i).cast())),
                )
            };
            let fm =
                _mm512_castsi512_ps(_mm512_slli_epi32::<20>(_mm512_add_epi32(_mm512_abs_epi32(cm), bias_m)));
            let magnitude = _mm512_castps_si512(_mm512_fmsub_ps(fm, scale_m, offset_m));
            let m0 = _mm512_castsi512_ps(_mm512_or_si512(magnitude, _mm512_and_si512(cm, sign_bit)));
            let fu = _mm512_castsi512_ps(_mm512_slli_epi32::<19>(_mm512_add_epi32(cu, bias_u)));
            let u0 = _mm512_fmsub_ps(fu, scale_u, offset_u);
            let m1 = _mm512_fmadd_ps(beta1, m0, _mm512_mul_ps(one_minus_beta1, grad));
            let v = _mm512_fmadd_ps(
                _mm512_mul_ps(u0, beta2),
                u0,
                _mm512_mul_ps(_mm512_mul_ps(grad, one_minus_beta2), grad),
            );
            // √v as v/√v; v = 0 gives 0·(1/√smallest) = 0.
            let u1 = _mm512_mul_ps(v, _mm512_rsqrt14_ps(_mm512_max_ps(v, smallest)));
            let step = _mm512_mul_ps(m1, _mm512_rcp14_ps(_mm512_fmadd_ps(u1, inv_bc2_sqrt, eps)));
            unsafe {
                _mm512_storeu_ps(p.as_mut_ptr().add(i), _mm512_fmadd_ps(step, neg_step, x));
                _mm512_storeu_ps(new_m.as_mut_ptr().add(i), m1);
                _mm512_storeu_ps(new_u.as_mut_ptr().add(i), u1);
            }
            // max(new, old) keeps the old maximum where the new value is NaN, as max_abs does.
            max_m = _mm512_max_ps(_mm512_abs_ps(m1), max_m);
            max_u = _mm512_max_ps(u1, max_u);
        }
    }
    *b.m_max = _mm512_reduce_max_ps(max_m).min(f32::MAX);
    *b.u_max = _mm512_reduce_max_ps(max_u).min(f32::MAX);
    let inv = |max: f32, top: f32| s(if max > 0.0 { top / max } else { 0.0 });
    let (inv_m, inv_u, f0) = (inv(*b.m_max, M_TOP), inv(*b.u_max, U_TOP), s(F0));
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let sequence = |w: Weyl| {
        let start = _mm512_add_epi32(
            _mm512_set1_epi32(w.start as i32),
            _mm512_mullo_epi32(lanes, _mm512_set1_epi32(w.stride as i32)),
        );
        (start, _mm512_set1_epi32(w.stride.wrapping_mul(16) as i32))
    };
    let ((mut noise_m, step_m), (mut noise_u, step_u)) = (sequence(noise[0]), sequence(noise[1]));
    let (top_m, top_u, one, zero) =
        (_mm512_set1_epi32(127), _mm512_set1_epi32(255), _mm512_set1_epi32(1), _mm512_setzero_ps());
    for i in (0..BLOCK).step_by(16) {
        // The first pass asked for the next block's parameters and gradients; this one asks
        // for its codes, which spreads the requests over both passes (measured: 6 % faster on
        // one thread, 10 % on two, than asking for everything in the first).
        if i % PREFETCH_CHUNK == 0 {
            prefetch_next_block(i, &[m.as_ptr(), u.as_ptr()], 1);
        }
        let (m1, u1) =
            unsafe { (_mm512_loadu_ps(new_m.as_ptr().add(i)), _mm512_loadu_ps(new_u.as_ptr().add(i))) };
        let bits = _mm512_add_epi32(
            _mm512_castps_si512(_mm512_fmadd_ps(_mm512_abs_ps(m1), inv_m, f0)),
            _mm512_srli_epi32::<12>(noise_m),
        );
        let q = _mm512_min_epu32(_mm512_sub_epi32(_mm512_srli_epi32::<20>(bits), bias_m), top_m);
        let negative = _mm512_srai_epi32::<31>(_mm512_castps_si512(m1));
        let code_m = _mm512_sub_epi32(_mm512_xor_si512(q, negative), negative);
        let bits = _mm512_add_epi32(
            _mm512_castps_si512(_mm512_fmadd_ps(u1, inv_u, f0)),
            _mm512_srli_epi32::<13>(noise_u),
        );
        let q = _mm512_min_epu32(_mm512_sub_epi32(_mm512_srli_epi32::<19>(bits), bias_u), top_u);
        let code_u = _mm512_mask_max_epu32(q, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(u1, zero), q, one);
        unsafe {
            _mm_storeu_si128(m.as_mut_ptr().add(i).cast(), _mm512_cvtepi32_epi8(code_m));
            _mm_storeu_si128(u.as_mut_ptr().add(i).cast(), _mm512_cvtepi32_epi8(code_u));
        }
        noise_m = _mm512_add_epi32(noise_m, step_m);
        noise_u = _mm512_add_epi32(noise_u, step_u);
    }
}
