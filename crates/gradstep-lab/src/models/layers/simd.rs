//! The vector instructions the lab's x86-64 kernels run on (the direct convolutions in
//! `direct`, the dense layers' products in `gemm`): which ones this processor has, and a
//! small trait over 8- and 16-lane vectors that lets each kernel be written once.

use std::arch::x86_64::{
    __m256, __m256i, __m512, __mmask16, _mm256_add_ps, _mm256_andnot_si256, _mm256_cmpgt_epi32,
    _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_set1_epi32,
    _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps, _mm512_add_ps, _mm512_fmadd_ps,
    _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};

/// The vector instructions the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    /// AVX-512F and VL: 16 lanes (or 8), 32 registers.
    Avx512,
    /// 8 lanes, 16 registers, with FMA.
    Avx2,
}

impl Isa {
    /// The widest this processor has, or `None` without AVX2 and FMA (then `matrixmultiply`
    /// runs another kernel, with other roundings: convolutions take the im2col path, and
    /// dense layers multiply through ndarray).
    pub(super) fn detect() -> Option<Isa> {
        use std::arch::is_x86_feature_detected as has;
        if !(has!("avx2") && has!("fma")) {
            return None;
        }
        // The AVX-512 kernels also run 8-lane vectors in its 32 registers (AVX-512VL).
        Some(if has!("avx512f") && has!("avx512vl") { Isa::Avx512 } else { Isa::Avx2 })
    }

    /// Every kernel set this processor runs (for tests).
    #[cfg(test)]
    pub(super) fn all() -> Vec<Isa> {
        match Isa::detect() {
            Some(Isa::Avx512) => vec![Isa::Avx512, Isa::Avx2],
            Some(Isa::Avx2) => vec![Isa::Avx2],
            None => vec![],
        }
    }
}

/// A vector of `f32` lanes and the few operations the kernels use. The kernels are written
/// once, generic over it, and inlined into small functions that enable its instruction set
/// ([`compiled_for!`] defines them).
pub(super) trait Simd {
    /// Lanes per vector.
    const N: usize;
    /// Vector registers, which bound a tile's accumulators.
    const REGS: usize;
    type V: Copy;
    /// Which lanes a masked load or store touches.
    type M: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The lanes `lo..hi` (within 0..=N).
    unsafe fn lanes(lo: usize, hi: usize) -> Self::M;
    /// The lanes of `m` from `p`, zero in the others, which are not read.
    unsafe fn load_masked(p: *const f32, m: Self::M) -> Self::V;
    /// Writes the lanes of `m` to `p`, and nothing else.
    unsafe fn store_masked(p: *mut f32, m: Self::M, v: Self::V);
    /// a·b + c, rounded once.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
}

/// The lanes `lo..hi` of 8, as AVX2's masked loads and stores take them.
#[inline(always)]
unsafe fn ymm_lanes(lo: usize, hi: usize) -> __m256i {
    // SAFETY: the caller has AVX2.
    unsafe {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let below = |n: usize| _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes);
        _mm256_andnot_si256(below(lo), below(hi))
    }
}

#[inline(always)]
unsafe fn ymm_store_masked(p: *mut f32, m: __m256i, v: __m256) {
    // SAFETY: the caller has AVX2; masked-off lanes are not written.
    unsafe { _mm256_maskstore_ps(p, m, v) }
}

/// The lanes `lo..hi` of 16.
#[inline(always)]
unsafe fn zmm_lanes(lo: usize, hi: usize) -> __mmask16 {
    let below = |n: usize| if n >= 16 { u16::MAX } else { (1u16 << n) - 1 };
    below(hi) & !below(lo)
}

#[inline(always)]
unsafe fn zmm_load_masked(p: *const f32, m: __mmask16) -> __m512 {
    // SAFETY: the caller has AVX-512F; masked-off lanes are not read.
    unsafe { _mm512_maskz_loadu_ps(m, p) }
}

#[inline(always)]
unsafe fn zmm_store_masked(p: *mut f32, m: __mmask16, v: __m512) {
    // SAFETY: the caller has AVX-512F; masked-off lanes are not written.
    unsafe { _mm512_mask_storeu_ps(p, m, v) }
}

/// Eight lanes with AVX2 and FMA: 16 registers.
pub(super) struct Avx2;
/// Eight lanes with AVX-512's 32 registers (AVX-512VL).
pub(super) struct Avx512Ymm;
/// Sixteen lanes with AVX-512.
pub(super) struct Avx512Zmm;

macro_rules! simd {
    ($t:ty, $regs:literal, ymm) => {
        simd!(
            $t,
            8,
            $regs,
            __m256,
            _mm256_setzero_ps,
            _mm256_set1_ps,
            _mm256_loadu_ps,
            _mm256_storeu_ps,
            __m256i,
            ymm_lanes,
            _mm256_maskload_ps,
            ymm_store_masked,
            _mm256_fmadd_ps,
            _mm256_add_ps
        );
    };
    ($t:ty, $regs:literal, zmm) => {
        simd!(
            $t,
            16,
            $regs,
            __m512,
            _mm512_setzero_ps,
            _mm512_set1_ps,
            _mm512_loadu_ps,
            _mm512_storeu_ps,
            __mmask16,
            zmm_lanes,
            zmm_load_masked,
            zmm_store_masked,
            _mm512_fmadd_ps,
            _mm512_add_ps
        );
    };
    ($t:ty, $n:literal, $regs:literal, $v:ty, $zero:ident, $splat:ident, $load:ident, $store:ident, $m:ty, $lanes:ident, $load_masked:ident, $store_masked:ident, $fma:ident, $add:ident) => {
        impl Simd for $t {
            const N: usize = $n;
            const REGS: usize = $regs;
            type V = $v;
            type M = $m;
            #[inline(always)]
            unsafe fn zero() -> $v {
                unsafe { $zero() }
            }
            #[inline(always)]
            unsafe fn splat(x: f32) -> $v {
                unsafe { $splat(x) }
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> $v {
                unsafe { $load(p) }
            }
            #[inline(always)]
            unsafe fn store(p: *mut f32, v: $v) {
                unsafe { $store(p, v) }
            }
            #[inline(always)]
            unsafe fn lanes(lo: usize, hi: usize) -> $m {
                unsafe { $lanes(lo, hi) }
            }
            #[inline(always)]
            unsafe fn load_masked(p: *const f32, m: $m) -> $v {
                unsafe { $load_masked(p, m) }
            }
            #[inline(always)]
            unsafe fn store_masked(p: *mut f32, m: $m, v: $v) {
                unsafe { $store_masked(p, m, v) }
            }
            #[inline(always)]
            unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                unsafe { $fma(a, b, c) }
            }
            #[inline(always)]
            unsafe fn add(a: $v, b: $v) -> $v {
                unsafe { $add(a, b) }
            }
        }
    };
}
simd!(Avx2, 16, ymm);
simd!(Avx512Ymm, 32, ymm);
simd!(Avx512Zmm, 32, zmm);

/// Defines `$avx2` and `$avx512`, which run `$body::<Avx2>` and `$body::<Avx512Zmm>` (or, for
/// the weight gradient's narrow tiles, `Avx512Ymm`) with their instruction sets enabled.
macro_rules! compiled_for {
    ($avx2:ident, $avx512:ident, $body:ident, $wide:ty, ($($arg:ident: $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2($($arg: $ty),*) {
            unsafe { $body::<Avx2>($($arg),*) }
        }
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn $avx512($($arg: $ty),*) {
            unsafe { $body::<$wide>($($arg),*) }
        }
    };
}
