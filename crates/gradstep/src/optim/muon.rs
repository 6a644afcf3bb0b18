//! Muon: momentum, orthogonalised by a Newton–Schulz iteration, for matrix parameters.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, s};
use serde::{Deserialize, Serialize};

use super::checks::StateCheck;
use super::kernels::{Lerp, lerp};
use super::parallel::Threads;
use super::reduce::sum_of_squares;
use super::scratch::Scratch;
use crate::error::{check, check_len, check_non_negative, check_positive};
use crate::{Error, Float, Result, Shape};

/// How [`Muon`] scales its learning rate with the shape of an $A\times B$ matrix
/// ($A$ = rows = fan-out, $B$ = cols = fan-in); PyTorch's `adjust_lr_fn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustLr {
    /// $\eta\sqrt{\max(1, A/B)}$: Keller Jordan's original (PyTorch's default, `None`).
    #[default]
    Original,
    /// $0.2\,\eta\sqrt{\max(A, B)}$: Moonshot's, which gives the update the RMS of an AdamW
    /// update, so AdamW's learning rate and weight decay carry over.
    MatchRmsAdamw,
    /// $\eta\sqrt{A/B}$: Bernstein's spectral scaling, the original without its clamp at 1.
    SpectralUnclamped,
}

impl AdjustLr {
    fn ratio(self, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        match self {
            Self::Original => 1.0_f64.max(a / b).sqrt(),
            Self::MatchRmsAdamw => 0.2 * a.max(b).sqrt(),
            Self::SpectralUnclamped => (a / b).sqrt(),
        }
    }
}

/// Hyperparameters of [`Muon`]; names and defaults follow `torch.optim.Muon`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MuonConfig {
    /// Learning rate η (default 1e-3).
    pub lr: f64,
    /// Decoupled weight decay λ: $X \leftarrow (1-\eta\lambda)X$ (default 0.1).
    pub weight_decay: f64,
    /// Momentum μ (default 0.95).
    pub momentum: f64,
    /// Orthogonalise $g + \mu(B - g)$ instead of the buffer $B$ (default on).
    pub nesterov: bool,
    /// Coefficients (a, b, c) of the quintic $aX + b(XX^\top)X + c(XX^\top)^2X$
    /// (default (3.4445, -4.7750, 2.0315)).
    pub ns_coefficients: (f64, f64, f64),
    /// Floor of the Frobenius norm the matrix is divided by first (default 1e-7).
    pub eps: f64,
    /// Number of Newton–Schulz iterations (default 5, fewer than 100).
    pub ns_steps: u32,
    /// Learning-rate scaling with the shape (default [`AdjustLr::Original`]).
    pub adjust_lr_fn: AdjustLr,
}

impl Default for MuonConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: (3.4445, -4.7750, 2.0315),
            eps: 1e-7,
            ns_steps: 5,
            adjust_lr_fn: AdjustLr::Original,
        }
    }
}

/// Muon ("MomentUm Orthogonalized by Newton–Schulz"), PyTorch's convention, for 2-D
/// parameters only.
///
/// Symbols: η = `lr`, λ = `weight_decay`, μ = `momentum`, (a, b, c) = `ns_coefficients`,
/// $k$ = `ns_steps`. Step $t$ of an $A\times B$ matrix $X$ with gradient $G_t$, $M_0 = 0$:
///
/// $$
/// \begin{aligned}
/// M_t &= \mu M_{t-1} + (1-\mu) G_t, \qquad
/// \tilde M_t = \begin{cases} G_t + \mu(M_t - G_t) & \text{nesterov}\\ M_t & \text{else}\end{cases}\\
/// Y_0 &= \tilde M_t / \max(\lVert\tilde M_t\rVert_F, \varepsilon), \qquad
/// Y_{j+1} = a Y_j + \bigl(b\,S_j + c\,S_j^2\bigr) Y_j,\quad S_j = Y_j Y_j^\top,\\
/// X_t &= (1-\eta\lambda) X_{t-1} - \eta\,s(A, B)\, Y_k ,
/// \end{aligned}
/// $$
///
/// with $s$ from [`AdjustLr`]; a tall matrix is transposed for the iteration so that
/// $S_j$ is the smaller Gram matrix. The iteration drives every singular value of
/// $\tilde M_t$ towards 1 (with the default coefficients only roughly: Jordan reports
/// values spread over about 0.5 to 1.5, which costs nothing in training) while keeping its
/// singular vectors: the update is about $UV^\top$ of the momentum's SVD
/// $U\Sigma V^\top$, a step of the same size in every direction the gradient has.
///
/// PyTorch runs the iteration in bfloat16 (fast on a GPU, and the iteration tolerates it);
/// gradstep runs it in the parameters' type `T`, so an `f64` run agrees with PyTorch's
/// algorithm with the cast left out (the golden fixtures are generated that way). The
/// momentum is an EMA (`lerp`), as in PyTorch, not the sum $\mu M + G$ of Jordan's post.
///
/// Muon is for the hidden layers' weight matrices; embeddings, biases, gains and the output
/// layer go to another optimizer (AdamW in the papers), e.g. in one set of
/// [`crate::ParamGroups`] over [`crate::AnyOptimizer`]. Give the shape with
/// [`Optimizer::init_shaped`](crate::Optimizer::init_shaped): a state made by
/// [`Optimizer::init`](crate::Optimizer::init) (a vector) and any shape that is not a matrix
/// are rejected with [`Error::Shape`], as PyTorch rejects them. The
/// state keeps the iteration's work matrices, so a step allocates none of its own after the
/// first (matrixmultiply, which computes the products, allocates its packing buffer in each
/// call).
///
/// # Example
///
/// ```
/// use gradstep::{Muon, Optimizer, Shape};
///
/// let opt = Muon::new(0.1)?;
/// let mut w = vec![0.0_f64; 4];
/// let mut state = opt.init_shaped(&Shape::matrix(2, 2))?;
/// opt.step(&mut w, &[4.0, 0.0, 0.0, 0.01], &mut state)?; // a badly scaled gradient
/// // Both singular directions move by about the same amount.
/// assert!(w[0] < -0.05 && w[3] < -0.05 && (w[0] / w[3] - 1.0).abs() < 0.5);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Jordan et al. (2024), *Muon: An optimizer for hidden layers in neural networks*,
///   <https://kellerjordan.github.io/posts/muon/>.
/// - Liu et al. (2025), *Muon is Scalable for LLM Training*, <https://arxiv.org/abs/2502.16982>
///   ([`AdjustLr::MatchRmsAdamw`]).
/// - Bernstein (2025), *Deriving Muon*, <https://jeremybernste.in/writing/deriving-muon>
///   ([`AdjustLr::SpectralUnclamped`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MuonConfig", into = "MuonConfig")]
pub struct Muon {
    config: MuonConfig,
}

/// State of [`Muon`], for one matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MuonState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// The parameter's shape (a matrix, or the step is an error).
    pub shape: Shape,
    /// Momentum $M$.
    pub momentum_buffer: Vec<T>,
    #[serde(skip)]
    work: Scratch<T>,
}

impl Muon {
    /// Muon with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, `weight_decay` or `momentum` is negative or
    /// not finite, a coefficient is not finite, `eps` is not > 0 (PyTorch does not check it;
    /// 0 divides a zero gradient by 0), or `ns_steps` is 100 or more.
    pub fn from_config(config: MuonConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        check_non_negative("momentum", config.momentum)?;
        let (a, b, c) = config.ns_coefficients;
        check("ns_coefficients.0", a, a.is_finite(), "must be finite")?;
        check("ns_coefficients.1", b, b.is_finite(), "must be finite")?;
        check("ns_coefficients.2", c, c.is_finite(), "must be finite")?;
        check_positive("eps", config.eps)?;
        let steps = config.ns_steps;
        check("ns_steps", f64::from(steps), steps < 100, "must be < 100")?;
        Ok(Self { config })
    }

    /// Muon takes matrices only, as PyTorch's does.
    fn shape_rule(&self, shape: &Shape) -> Result<()> {
        match shape.as_matrix() {
            Some(_) => Ok(()),
            None => Err(not_a_matrix(shape)),
        }
    }

    /// A state for a vector of `len` elements, which a step rejects: Muon needs
    /// [`Optimizer::init_shaped`](crate::Optimizer::init_shaped) with a matrix.
    fn init_state<T: Float>(&self, len: usize) -> MuonState<T> {
        self.state_for(&Shape::vector(len))
    }

    fn state_for<T: Float>(&self, shape: &Shape) -> MuonState<T> {
        MuonState {
            step: 0,
            shape: shape.clone(),
            momentum_buffer: vec![T::zero(); shape.len()],
            work: Scratch::default(),
        }
    }

    /// One matrix's products: serial, whatever `threads` says.
    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut MuonState<T>,
        _threads: impl Threads,
    ) -> Result<()> {
        let Some((rows, cols)) = state.shape.as_matrix() else {
            return Err(not_a_matrix(&state.shape));
        };
        let c = &self.config;
        // Work space: Y and its next value (r×k), S and P (r×r), with r ≤ k: a tall matrix is
        // transposed, so that S is the smaller Gram matrix.
        let (r, k) = (rows.min(cols), rows.max(cols));
        let work = state.work.at_least(2 * r * k + 2 * r * r);
        let (y, rest) = work.split_at_mut(r * k);
        let (y_next, rest) = rest.split_at_mut(r * k);
        let (s, p) = rest.split_at_mut(r * r);
        // Element idx = (i, j) of the parameter is (i, j) of Y, or (j, i) for a tall matrix.
        let at = |idx: usize| if rows > cols { (idx % cols) * k + idx / cols } else { idx };

        let (to_grad, to_buf) = (Lerp::<T>::ema(c.momentum), Lerp::<T>::weight(c.momentum));
        for (idx, (m, &g)) in state.momentum_buffer.iter_mut().zip(grads).enumerate() {
            *m = lerp(*m, g, &to_grad);
            y[at(idx)] = if c.nesterov { lerp(g, *m, &to_buf) } else { *m };
        }
        let (norm, eps) = (sum_of_squares(y).sqrt(), T::of(c.eps));
        let norm = if norm < eps { eps } else { norm }; // NaN stays NaN
        y.iter_mut().for_each(|v| *v /= norm);
        let y = newton_schulz(c.ns_coefficients, c.ns_steps, (r, k), y, y_next, s, p)?;

        let shrink = T::of(1.0 - c.lr * c.weight_decay);
        let neg_lr = T::of(-(c.lr * c.adjust_lr_fn.ratio(rows, cols)));
        for (idx, x) in params.iter_mut().enumerate() {
            *x = *x * shrink + neg_lr * y[at(idx)];
        }
        state.step = state.step.saturating_add(1);
        Ok(())
    }
}

fn not_a_matrix(shape: &Shape) -> Error {
    Error::Shape { optimizer: "Muon", shape: shape.dims().to_vec(), rule: "needs a matrix (2 dimensions)" }
}

/// `steps` iterations $Y \leftarrow aY + (bS + cS^2)Y$, $S = YY^\top$, of the r×k row-major
/// `y`, with `y_next` (r×k), `s` and `p` (r×r) as work space; returns the buffer that holds
/// the result (`y` and `y_next` swap roles at each step).
///
/// The products are matrixmultiply's `sgemm`/`dgemm`, through ndarray's `general_mat_mul`
/// (which picks one by the element type, and matrixmultiply the kernel by the CPU's vector
/// unit): cache-blocked and vectorised, 2.5 times as fast as the plain loops they replaced at
/// 512×512. $S$ and $S^2$ are symmetric, so only their lower block triangles are computed
/// ([`symmetric_product`]): a quarter less work at 512×512.
fn newton_schulz<'a, T: Float>(
    (a, b, c): (f64, f64, f64),
    steps: u32,
    (r, k): (usize, usize),
    mut y: &'a mut [T],
    mut y_next: &'a mut [T],
    s: &mut [T],
    p: &mut [T],
) -> Result<&'a mut [T]> {
    if r == 0 {
        return Ok(y); // an empty matrix (whose other side, read from a file, may be huge)
    }
    let (a, b, c) = (T::of(a), T::of(b), T::of(c));
    for _ in 0..steps {
        // S = Y Yᵀ
        let yv = view(y, r, k)?;
        symmetric_product(T::one(), yv, yv.t(), T::zero(), view_mut(s, r, r)?);
        // P = b·S + c·S·S
        p.copy_from_slice(s);
        let sv = view(s, r, r)?;
        symmetric_product(c, sv, sv, b, view_mut(p, r, r)?);
        // Y ← a·Y + P·Y
        y_next.copy_from_slice(y);
        general_mat_mul(T::one(), &view(p, r, r)?, &yv, a, &mut view_mut(y_next, r, k)?);
        std::mem::swap(&mut y, &mut y_next);
    }
    Ok(y)
}

/// Rows of a block of [`symmetric_product`]: two of matrixmultiply's panels (64 rows). Smaller
/// blocks skip more of the upper triangle but make more calls, each of which packs its operands
/// (into a buffer matrixmultiply allocates per call); at 512×512, 64 and 128 time the same.
const BLOCK: usize = 128;

/// $C \leftarrow \alpha AB + \beta C$ for an r×r product $AB$ known to be symmetric ($YY^\top$,
/// $S\cdot S$). Each block of rows $I$ of $C$ is computed up to the diagonal only,
/// $C_{I,\,:\max I}$ from $A_{I,:}$ and the first columns of $B$: $(n + 1)/(2n)$ of the work
/// for $n$ blocks. The upper triangle is then copied from the lower, so $C$ is exactly
/// symmetric.
fn symmetric_product<T: Float>(
    alpha: T,
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    beta: T,
    mut c: ArrayViewMut2<T>,
) {
    let r = c.nrows();
    for i0 in (0..r).step_by(BLOCK) {
        let i1 = (i0 + BLOCK).min(r);
        let mut rows = c.slice_mut(s![i0..i1, ..i1]);
        general_mat_mul(alpha, &a.slice(s![i0..i1, ..]), &b.slice(s![.., ..i1]), beta, &mut rows);
    }
    for i in 0..r {
        for j in i + 1..r {
            c[(i, j)] = c[(j, i)];
        }
    }
}

/// The row-major `rows × cols` matrix `buf` (a work buffer cut to that size, so this fails
/// only for a matrix larger than memory).
fn view<T>(buf: &[T], rows: usize, cols: usize) -> Result<ArrayView2<'_, T>> {
    ArrayView2::from_shape((rows, cols), buf).map_err(|_| too_large(rows, cols))
}

fn view_mut<T>(buf: &mut [T], rows: usize, cols: usize) -> Result<ArrayViewMut2<'_, T>> {
    ArrayViewMut2::from_shape((rows, cols), buf).map_err(|_| too_large(rows, cols))
}

fn too_large(rows: usize, cols: usize) -> Error {
    Error::Shape { optimizer: "Muon", shape: vec![rows, cols], rule: "too large for its work space" }
}

impl<T> StateCheck<Muon> for MuonState<T> {
    fn check_for(&self, _: &Muon, len: usize) -> Result<()> {
        check_len("shape", len, self.shape.len())?;
        check_len("momentum_buffer", len, self.momentum_buffer.len())?;
        if self.shape.as_matrix().is_none() {
            return Err(not_a_matrix(&self.shape));
        }
        Ok(())
    }
}

super::optimizer_methods! {
    /// Muon with learning rate `lr` and PyTorch's other defaults.
    Muon(MuonConfig) -> MuonState, shaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn the_update_is_nearly_orthogonal() {
        // Many iterations with the cubic (1.5, -0.5, 0) converge to the exact polar factor.
        let opt = Muon::from_config(MuonConfig {
            lr: 1.0,
            weight_decay: 0.0,
            momentum: 0.0,
            nesterov: false,
            ns_coefficients: (1.5, -0.5, 0.0),
            ns_steps: 60,
            ..Default::default()
        })
        .unwrap();
        let g = [3.0_f64, 1.0, 0.5, -1.0, 2.0, 0.25];
        for (rows, cols) in [(2, 3), (3, 2)] {
            let mut x = [0.0_f64; 6];
            let mut s = opt.init_shaped(&Shape::matrix(rows, cols)).unwrap();
            opt.step(&mut x, &g, &mut s).unwrap();
            let scale = AdjustLr::Original.ratio(rows, cols);
            let o: Vec<f64> = x.iter().map(|v| -v / scale).collect();
            // O Oᵀ (2×3) or Oᵀ O (3×2) is the 2×2 identity.
            let at = |i: usize, j: usize| if rows == 2 { o[i * 3 + j] } else { o[j * 2 + i] };
            for i in 0..2 {
                for j in 0..2 {
                    let d: f64 = (0..3).map(|l| at(i, l) * at(j, l)).sum();
                    assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "{rows}x{cols}: {d}");
                }
            }
        }
    }

    #[test]
    fn only_matrices_are_accepted() {
        let opt = Muon::new(0.1).unwrap();
        let e = Optimizer::<f64>::init_shaped(&opt, &Shape::new(&[2, 2, 2])).unwrap_err();
        assert!(matches!(e, Error::Shape { optimizer: "Muon", .. }));
        let mut s: MuonState<f64> = opt.init(4);
        assert!(matches!(opt.step(&mut [0.0; 4], &[1.0; 4], &mut s), Err(Error::Shape { .. })));
        let mut s: MuonState<f64> = opt.init_shaped(&Shape::matrix(2, 2)).unwrap();
        s.momentum_buffer.pop();
        assert!(matches!(opt.step(&mut [0.0; 4], &[1.0; 4], &mut s), Err(Error::LengthMismatch { .. })));
        assert!(Muon::from_config(MuonConfig { ns_steps: 100, ..Default::default() }).is_err());
    }

    #[test]
    fn the_blocked_symmetric_products_are_the_plain_ones() {
        // 150 rows: a full block of 128 and a partial one, so the skipped upper blocks matter.
        let (r, k) = (150, 170);
        let y: Vec<f64> = (0..r * k).map(|i| (i * 7919 % 1000) as f64 / 500.0 - 1.0).collect();
        let plain = |a: &[f64], b_t: &[f64], l: usize, i: usize, j: usize| -> f64 {
            (0..l).map(|t| a[i * l + t] * b_t[j * l + t]).sum()
        };
        let mut s = vec![f64::NAN; r * r];
        let yv = view(&y, r, k).unwrap();
        symmetric_product(1.0, yv, yv.t(), 0.0, view_mut(&mut s, r, r).unwrap());
        let mut p = s.clone();
        let sv = view(&s, r, r).unwrap();
        symmetric_product(2.0, sv, sv, 0.5, view_mut(&mut p, r, r).unwrap());
        for i in 0..r {
            for j in 0..r {
                let want = plain(&y, &y, k, i, j);
                assert!((s[i * r + j] - want).abs() < 1e-12 * want.abs().max(1.0), "S({i}, {j})");
                assert_eq!(s[i * r + j], s[j * r + i]);
                let want = 2.0 * plain(&s, &s, r, i, j) + 0.5 * s[i * r + j];
                assert!((p[i * r + j] - want).abs() < 1e-12 * want.abs().max(1.0), "P({i}, {j})");
            }
        }
    }

    #[test]
    fn empty_matrices_step_to_nothing() {
        // Found by the fuzz test: a 3×0 matrix made the product split rows of length 0.
        let opt = Muon::new(0.1).unwrap();
        for (r, c) in [(3, 0), (0, 3), (0, 0)] {
            let mut s: MuonState<f64> = opt.init_shaped(&Shape::matrix(r, c)).unwrap();
            opt.step(&mut [], &[], &mut s).unwrap();
        }
    }
}
