//! The dense layers' matrix products, C = A·B or C += A·B, on x86-64 processors with AVX2 and
//! FMA (16-lane vectors where the processor has AVX-512).
//!
//! They round exactly as `matrixmultiply`'s FMA kernel, which the dense layers called through
//! ndarray before: the inner dimension is cut into blocks of [`KC`] (256) entries; within a
//! block each output value is one chain of fused multiply-adds in the order of the entries,
//! from zero; the block's sum is then added to C (or, for the first block of C = A·B, added to
//! zero, which turns a −0 into +0 as the FMA kernel's epilogue does). The chapters' pinned
//! numbers therefore stay the same, bit for bit (a test compares every shape kind).
//!
//! What differs is the speed. `matrixmultiply` packs A and B into panels for every call and
//! runs 8 × 8 tiles of 8-lane vectors; here B's rows are read in place (a last vector that
//! would reach past C's columns with masked loads and stores), A's values are broadcast from where they are, and a
//! tile is 6 rows × 4 vectors of 16 lanes. On the two-core AVX-512 machine the course is
//! written on, both kinds of vector issue two FMAs a cycle, so 16 lanes do twice the work.

use std::ops::Range;

use super::Product;
use super::simd::{Avx2, Avx512Zmm, Isa, Simd};

/// `matrixmultiply`'s block of the inner dimension for `f32` (its `S_KC`).
const KC: usize = 256;

/// Rows of a tile: 6 rows × 4 vectors of accumulators, 4 vectors of B and a broadcast value
/// fill 29 of AVX-512's 32 registers; 6 × 2 + 2 + 1 fill 15 of AVX2's 16.
const ROWS: usize = 6;

/// C (m × n, rows `ldc` apart) = A·B, or C += A·B, as `pr` says.
///
/// # Panics
/// If a matrix is shorter than its shape and strides say; the dense layers never pass one.
pub(super) fn gemm(isa: Isa, pr: Product<'_>, c: &mut [f32], ldc: usize) {
    let Product { m, k, n, a, b, ldb, accumulate } = pr;
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, ld: usize, cols: usize| if rows == 0 { 0 } else { (rows - 1) * ld + cols };
    assert!(ldb >= n && ldc >= n && b.len() >= last(k, ldb, n) && c.len() >= last(m, ldc, n));
    if k == 0 {
        // An empty sum leaves C, or zeros it, as matrixmultiply does.
        if !accumulate {
            c.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    assert!(a.data.len() > (m - 1) * a.rs + (k - 1) * a.cs);
    // SAFETY: the assertions above bound every read of A and B and every write of C, and
    // `isa` says which instructions this processor has.
    unsafe {
        match isa {
            Isa::Avx512 => gemm_512(&pr, c, ldc),
            Isa::Avx2 => gemm_256(&pr, c, ldc),
        }
    }
}

compiled_for!(gemm_256, gemm_512, gemm_with, Avx512Zmm, (pr: &Product<'_>, c: &mut [f32], ldc: usize));

/// [`gemm`] on vectors `S`: panels of up to 4 vectors of columns (2 with 16 registers), and a
/// last panel of one partial vector; in a panel the inner dimension block by block, in a block
/// the rows a tile at a time.
#[inline(always)]
unsafe fn gemm_with<S: Simd>(pr: &Product<'_>, c: &mut [f32], ldc: usize) {
    let &Product { m, k, n, a, b, ldb, accumulate } = pr;
    let widest = if S::REGS == 32 { 4 } else { 2 };
    let mut j0 = 0;
    while j0 < n {
        let whole = (n - j0) / S::N;
        let vectors = if whole >= widest { widest } else { whole.clamp(1, 2) };
        let cols = if whole == 0 { n - j0 } else { vectors * S::N };
        for p0 in (0..k).step_by(KC) {
            let inner = p0..(p0 + KC).min(k);
            for i0 in (0..m).step_by(ROWS) {
                let rows = (m - i0).min(ROWS);
                // SAFETY: the caller checked the extents of A, B and C.
                unsafe {
                    let t = Tile {
                        a: a.data.as_ptr().add(i0 * a.rs),
                        rs: a.rs,
                        cs: a.cs,
                        b: b.as_ptr().add(j0),
                        ldb,
                        c: c.as_mut_ptr().add(i0 * ldc + j0),
                        ldc,
                        cols,
                        add: accumulate || p0 > 0,
                    };
                    macro_rules! rows {
                        ($v:literal, $part:literal) => {
                            match rows {
                                6 => tile::<S, 6, $v, $part>(&t, inner.clone()),
                                5 => tile::<S, 5, $v, $part>(&t, inner.clone()),
                                4 => tile::<S, 4, $v, $part>(&t, inner.clone()),
                                3 => tile::<S, 3, $v, $part>(&t, inner.clone()),
                                2 => tile::<S, 2, $v, $part>(&t, inner.clone()),
                                _ => tile::<S, 1, $v, $part>(&t, inner.clone()),
                            }
                        };
                    }
                    match (vectors, whole) {
                        (_, 0) => rows!(1, true),
                        (4, _) => rows!(4, false),
                        (2, _) => rows!(2, false),
                        _ => rows!(1, false),
                    }
                }
            }
        }
        j0 += cols;
    }
}

/// Where a tile reads and writes: A from its first row, B's panel (rows `ldb` apart), C from
/// the tile's first value; `cols` of C's columns are real, and `add` says whether the block's
/// sums go onto C or replace it.
struct Tile {
    a: *const f32,
    rs: usize,
    cs: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    add: bool,
}

/// One block of the inner dimension for `R` rows and `V` vectors of columns (with `PART`, one
/// vector of which only `cols` lanes are C's): each sum a chain of FMAs from zero over
/// `inner`, in order, then onto C (or onto zero).
#[inline(always)]
unsafe fn tile<S: Simd, const R: usize, const V: usize, const PART: bool>(t: &Tile, inner: Range<usize>) {
    // SAFETY (every block below): the caller's extents cover these reads and writes.
    let mut acc = [[unsafe { S::zero() }; V]; R];
    // A partial vector's lanes stop at C's last column, inside B's rows and C's.
    let part = unsafe { S::lanes(0, t.cols.min(S::N)) };
    for p in inner {
        unsafe {
            let row = t.b.add(p * t.ldb);
            let bv: [S::V; V] = std::array::from_fn(|v| {
                if PART { S::load_masked(row, part) } else { S::load(row.add(v * S::N)) }
            });
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = S::splat(*t.a.add(r * t.rs + p * t.cs));
                for (s, b) in acc.iter_mut().zip(bv) {
                    *s = S::fma(av, b, *s);
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (v, sum) in acc.iter().enumerate() {
            unsafe {
                let at = t.c.add(r * t.ldc + v * S::N);
                if PART {
                    let base = if t.add { S::load_masked(at, part) } else { S::zero() };
                    S::store_masked(at, part, S::add(base, *sum));
                } else {
                    let base = if t.add { S::load(at) } else { S::zero() };
                    S::store(at, S::add(base, *sum));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::linalg::general_mat_mul;
    use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
    use rand::{Rng, SeedableRng};

    use super::super::Strided;
    use super::*;

    /// Products of every kind the dense layers ask for (A by rows or by columns, C replaced or
    /// added to), on shapes with tails in every dimension and inner dimensions of one to three
    /// blocks, give `matrixmultiply`'s bits.
    #[test]
    fn products_round_exactly_like_matrixmultiply() {
        let isas = Isa::all();
        if isas.is_empty() {
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let shapes = [
            (1, 1, 1),
            (7, 5, 3),
            (64, 784, 256),
            (13, 300, 10),
            (6, 256, 16),
            (64, 400, 120),
            (5, 120, 84),
            (64, 84, 10),
            (9, 17, 65),
            (3, 600, 33),
            (2, 0, 5),
        ];
        for (m, k, n) in shapes {
            for (by_rows, accumulate) in [(true, true), (false, true), (true, false), (false, false)] {
                let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
                let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let c0: Vec<f32> = (0..m * n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let (rs, cs) = if by_rows { (k.max(1), 1) } else { (1, m) };
                let mut expected = c0.clone();
                if k == 0 {
                    // ndarray cannot view an empty A with these strides: C is kept or zeroed.
                    expected.iter_mut().filter(|_| !accumulate).for_each(|v| *v = 0.0);
                } else {
                    let av = ArrayView2::from_shape((m, k).strides((rs, cs)), &a).unwrap();
                    let bv = ArrayView2::from_shape((k, n), &b).unwrap();
                    let beta = if accumulate { 1.0 } else { 0.0 };
                    let mut cv = ArrayViewMut2::from_shape((m, n), &mut expected).unwrap();
                    general_mat_mul(1.0, &av, &bv, beta, &mut cv);
                }
                for &isa in &isas {
                    let mut c = c0.clone();
                    let strided = Strided { data: &a, rs, cs };
                    gemm(isa, Product { m, k, n, a: strided, b: &b, ldb: n, accumulate }, &mut c, n);
                    let differ = c.iter().zip(&expected).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
                    assert_eq!(differ, 0, "{isa:?}, {m}×{k}×{n}, by rows {by_rows}, accumulate {accumulate}");
                }
            }
        }
    }

    /// B and C inside larger rows (a share of a weight matrix's columns), and a zero product
    /// that must come out +0 when C is replaced.
    #[test]
    fn strided_rows_and_the_sign_of_zero() {
        for isa in Isa::all() {
            let (m, k, n, ld) = (4, 3, 5, 9);
            let a = vec![1.0f32; m * k];
            let mut b = vec![0.0f32; k * ld];
            b[0] = -0.0;
            let mut c = vec![7.0f32; m * ld];
            let a = Strided { data: &a, rs: k, cs: 1 };
            gemm(isa, Product { m, k, n, a, b: &b, ldb: ld, accumulate: false }, &mut c, ld);
            for (i, row) in c.chunks(ld).enumerate() {
                assert!(row[..n].iter().all(|v| v.to_bits() == 0), "{isa:?}, row {i}: {row:?}");
                assert!(row[n..].iter().all(|&v| v == 7.0), "{isa:?}: wrote past the columns");
            }
        }
    }
}
