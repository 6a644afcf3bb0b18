//! L-BFGS as `torch.optim.LBFGS` runs it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::line_search::{LineSearch, StrongWolfe};
use super::{Objective, norm_inf, torch_dot, torch_sum};
use crate::Result;
use crate::error::{check, check_len, check_non_negative};

/// How [`LbfgsTorch`] chooses the step along its direction (PyTorch's `line_search_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LbfgsLineSearch {
    /// `line_search_fn=None` (PyTorch's default): a fixed step of `lr` (on the very first
    /// iteration $\min(1, 1/\lVert g\rVert_1)\cdot$`lr`).
    #[default]
    FixedStep,
    /// `line_search_fn="strong_wolfe"`: [`StrongWolfe::pytorch`] with $c_1 = 10^{-4}$,
    /// $c_2 = 0.9$, a zoom tolerance of 1e-9 and what is left of `max_eval`.
    StrongWolfe,
}

/// Hyperparameters of [`LbfgsTorch`]; names and defaults follow `torch.optim.LBFGS`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LbfgsTorchConfig {
    /// Learning rate η: the first trial step of every iteration (default 1).
    pub lr: f64,
    /// Iterations per call of [`LbfgsTorch::step`] (default 20).
    pub max_iter: usize,
    /// Objective evaluations per call (default `None`: `max_iter * 5 / 4`, rounded down).
    pub max_eval: Option<usize>,
    /// A call stops (or does nothing) once $\lVert g\rVert_\infty \le$ `tolerance_grad`
    /// (default 1e-7).
    pub tolerance_grad: f64,
    /// A call stops once the directional derivative, the step $\lVert t\,d\rVert_\infty$ or the
    /// change in $f$ falls below this (default 1e-9).
    pub tolerance_change: f64,
    /// How many pairs $(s, y)$ to keep, $m$ (default 100).
    pub history_size: usize,
    /// The step rule (default: fixed step, PyTorch's `line_search_fn=None`).
    pub line_search_fn: LbfgsLineSearch,
}

impl Default for LbfgsTorchConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search_fn: LbfgsLineSearch::FixedStep,
        }
    }
}

/// L-BFGS exactly as `torch.optim.LBFGS` runs it: a call of [`LbfgsTorch::step`] is one
/// `optimizer.step(closure)`, and an `f64` run follows PyTorch's iterates to the last digits.
///
/// Symbols: η = `lr`, $m$ = `history_size`. Each iteration of a call:
///
/// 1. Direction. On the very first iteration, $d = -g$. Later, with
///    $s = t\,d$ (the last step) and $y = g - g_{\text{prev}}$, the pair is kept if
///    $y^\top s > 10^{-10}$ (dropping the oldest beyond $m$), and then $H_0 = \gamma I$ with
///    $\gamma = y^\top s / y^\top y$ of the newest kept pair; $d = -Hg$ by the two-loop
///    recursion.
/// 2. Step. $t = \min(1, 1/\lVert g\rVert_1)\,\eta$ on the very first iteration, $t = \eta$
///    after; stop if $g^\top d > -$`tolerance_change`. Then either $x \leftarrow x + t d$
///    ([`LbfgsLineSearch::FixedStep`]) or $t$ from PyTorch's strong Wolfe search.
/// 3. Stop after `max_iter` iterations, `max_eval` evaluations, once
///    $\lVert g\rVert_\infty \le$ `tolerance_grad`, or once $\lVert t d\rVert_\infty$ or
///    $|f - f_{\text{prev}}|$ falls below `tolerance_change`.
///
/// The history, the last step and the iteration count live in [`LbfgsTorchState`] from one
/// call to the next, as in PyTorch's optimizer state: the first-step scaling happens once
/// per run, not once per call.
///
/// **How it differs from [`super::Lbfgs`]** (Nocedal and Wright's algorithm 7.5), which is
/// the better teaching default: there the first trial step is $\min(1, 1/\lVert g\rVert_\infty)$,
/// a pair is kept when $y^\top s > \epsilon_{\text{mach}}\, y^\top y$, the search is
/// [`super::line_search::WolfeVariant::NocedalWright`] and always runs (a fixed step has no
/// curvature guarantee), and it stops on a gradient tolerance alone. The two give different
/// iterates from the first step on.
///
/// ```
/// use gradstep::classical::{LbfgsLineSearch, LbfgsTorch, LbfgsTorchConfig};
///
/// fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
///     let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
///     g[0] = -2.0 * a - 400.0 * x[0] * b;
///     g[1] = 200.0 * b;
///     a * a + 100.0 * b * b
/// }
/// let cfg = LbfgsTorchConfig { line_search_fn: LbfgsLineSearch::StrongWolfe, ..Default::default() };
/// let opt = LbfgsTorch::from_config(cfg)?;
/// let mut x = [-1.2, 1.0];
/// let mut state = opt.init(2);
/// for _ in 0..3 {
///     opt.step(&rosenbrock, &mut x, &mut state)?; // optimizer.step(closure)
/// }
/// // PyTorch's numbers, to the last bit (tests/fixtures-classical/lbfgs-rosen2-wolfe-h100-it20.json):
/// // the second call stops where g·d > -tolerance_change, and the third cannot move from there.
/// assert_eq!(x, [0.9999814210791366, 0.9999619651810986]);
/// assert_eq!(state.func_evals, 45);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - PyTorch, `torch/optim/lbfgs.py` (after Mark Schmidt's minFunc).
/// - Nocedal, Wright (2006), *Numerical Optimization*, algorithms 7.4 and 7.5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LbfgsTorchConfig", into = "LbfgsTorchConfig")]
pub struct LbfgsTorch {
    config: LbfgsTorchConfig,
}

/// State of [`LbfgsTorch`], kept from one call to the next (PyTorch's `optimizer.state`).
///
/// Loading one checks that its vectors agree in length and the kept pairs in number (an
/// edited checkpoint that breaks this is an error when it is loaded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LbfgsTorchState {
    /// Objective evaluations over the whole run (`func_evals`).
    pub func_evals: usize,
    /// Iterations over the whole run (`n_iter`).
    pub n_iter: usize,
    /// The last direction $d$.
    pub d: Vec<f64>,
    /// The last step length $t$.
    pub t: f64,
    /// The kept $y$, oldest first (`old_dirs`).
    pub old_dirs: VecDeque<Vec<f64>>,
    /// The kept $s$, oldest first (`old_stps`).
    pub old_stps: VecDeque<Vec<f64>>,
    /// $1/y^\top s$ of each kept pair (`ro`).
    pub ro: VecDeque<f64>,
    /// The scale γ of the initial inverse Hessian (`H_diag`).
    pub h_diag: f64,
    /// The gradient at the start of the last iteration.
    pub prev_flat_grad: Vec<f64>,
    /// $f$ at the start of the last iteration.
    pub prev_loss: f64,
}

impl LbfgsTorchState {
    /// The lengths [`LbfgsTorch::step`] relies on, for `n` parameters.
    fn check(&self, n: usize) -> Result<()> {
        check_len("previous gradient", n, self.prev_flat_grad.len())?;
        let kept = self.old_dirs.len();
        check_len("old_stps", kept, self.old_stps.len())?;
        check_len("ro", kept, self.ro.len())?;
        self.old_dirs.iter().chain(&self.old_stps).try_for_each(|v| check_len("kept pair", n, v.len()))
    }
}

impl<'de> Deserialize<'de> for LbfgsTorchState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "LbfgsTorchState")]
        struct Raw {
            func_evals: usize,
            n_iter: usize,
            d: Vec<f64>,
            t: f64,
            old_dirs: VecDeque<Vec<f64>>,
            old_stps: VecDeque<Vec<f64>>,
            ro: VecDeque<f64>,
            h_diag: f64,
            prev_flat_grad: Vec<f64>,
            prev_loss: f64,
        }
        let r = Raw::deserialize(d)?;
        let state = LbfgsTorchState {
            func_evals: r.func_evals,
            n_iter: r.n_iter,
            d: r.d,
            t: r.t,
            old_dirs: r.old_dirs,
            old_stps: r.old_stps,
            ro: r.ro,
            h_diag: r.h_diag,
            prev_flat_grad: r.prev_flat_grad,
            prev_loss: r.prev_loss,
        };
        state.check(state.d.len()).map_err(serde::de::Error::custom)?;
        Ok(state)
    }
}

impl LbfgsTorch {
    /// PyTorch's defaults (`lr` = 1, `max_iter` = 20, `history_size` = 100, no line search).
    pub fn new() -> Self {
        Self { config: LbfgsTorchConfig::default() }
    }

    /// L-BFGS with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, `tolerance_grad` or `tolerance_change` is
    /// negative or not finite, `history_size` is 0, or `max_eval` is `Some(0)`.
    pub fn from_config(config: LbfgsTorchConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_non_negative("tolerance_grad", config.tolerance_grad)?;
        check_non_negative("tolerance_change", config.tolerance_change)?;
        check("history_size", config.history_size as f64, config.history_size >= 1, "must be >= 1")?;
        if let Some(max_eval) = config.max_eval {
            check("max_eval", max_eval as f64, max_eval >= 1, "must be >= 1")?;
        }
        Ok(Self { config })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &LbfgsTorchConfig {
        &self.config
    }

    /// Fresh state for `len` parameters.
    pub fn init(&self, len: usize) -> LbfgsTorchState {
        LbfgsTorchState {
            func_evals: 0,
            n_iter: 0,
            d: vec![0.0; len],
            t: 0.0,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: 1.0,
            prev_flat_grad: vec![0.0; len],
            prev_loss: 0.0,
        }
    }

    /// One `optimizer.step(closure)`: up to `max_iter` iterations from `x` (in place), the
    /// first of which evaluates `f` at `x`. Returns $f(x)$ at the start, as PyTorch does.
    /// The work buffers are allocated once per call; the history grows to `history_size`
    /// pairs and then reuses the oldest pair's buffers.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] if the state was made for another length.
    pub fn step<F: Objective + ?Sized>(
        &self,
        f: &F,
        x: &mut [f64],
        state: &mut LbfgsTorchState,
    ) -> Result<f64> {
        let n = x.len();
        super::check_dim(f, n)?;
        check_len("direction", n, state.d.len())?;
        // The fields are public: an edited state may break what loading checks.
        state.check(n)?;
        let kept = state.old_dirs.len();
        let c = &self.config;
        // PyTorch's max_iter * 5 // 4, without overflow for an absurd max_iter.
        let max_eval =
            c.max_eval.unwrap_or((c.max_iter / 4).saturating_mul(5).saturating_add(c.max_iter % 4 * 5 / 4));
        let mut g = vec![0.0; n];
        let orig_loss = f.value_grad(x, &mut g);
        let mut loss = orig_loss;
        let mut current_evals = 1;
        state.func_evals = state.func_evals.saturating_add(1);
        if norm_inf(&g) <= c.tolerance_grad {
            return Ok(orig_loss);
        }
        let (mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n]);
        // One slot per kept pair, grown with the history (not sized by `history_size`, which
        // may be absurdly large).
        let (mut y, mut s, mut al) = (vec![0.0; n], vec![0.0; n], vec![0.0; kept]);
        let mut t = state.t;
        let mut n_iter = 0;
        while n_iter < c.max_iter {
            n_iter += 1;
            state.n_iter = state.n_iter.saturating_add(1);
            if state.n_iter == 1 {
                state.d.iter_mut().zip(&g).for_each(|(d, g)| *d = -g);
                state.old_dirs.clear();
                state.old_stps.clear();
                state.ro.clear();
                state.h_diag = 1.0;
            } else {
                self.remember_pair(state, &g, t, &mut y, &mut s);
                if al.len() < state.old_dirs.len() {
                    al.resize(state.old_dirs.len(), 0.0);
                }
                two_loop(state, &g, &mut al);
            }
            state.prev_flat_grad.copy_from_slice(&g);
            state.prev_loss = loss;
            t = if state.n_iter == 1 {
                let scale = 1.0 / torch_sum(g.iter().map(|v| v.abs()));
                (if scale < 1.0 { scale } else { 1.0 }) * c.lr
            } else {
                c.lr
            };
            let gtd = torch_dot(&g, &state.d);
            if gtd > -c.tolerance_change {
                break;
            }
            let (ls_func_evals, opt_cond) = match c.line_search_fn {
                LbfgsLineSearch::StrongWolfe => {
                    let max_ls = max_eval.saturating_sub(current_evals);
                    let search = StrongWolfe::pytorch(1e-4, 0.9, 1e-9, max_ls)?;
                    let r = search.search(f, x, loss, &g, &state.d, t, &mut x_new, &mut g_new)?;
                    (loss, t) = (r.value, r.alpha);
                    g.copy_from_slice(&g_new);
                    add_scaled(x, t, &state.d);
                    (r.evaluations, norm_inf(&g) <= c.tolerance_grad)
                }
                LbfgsLineSearch::FixedStep => {
                    add_scaled(x, t, &state.d);
                    if n_iter == c.max_iter {
                        // The last iteration of the call: the next call evaluates anyway.
                        (0, false)
                    } else {
                        loss = f.value_grad(x, &mut g);
                        (1, norm_inf(&g) <= c.tolerance_grad)
                    }
                }
            };
            current_evals += ls_func_evals;
            state.func_evals = state.func_evals.saturating_add(ls_func_evals);
            let step_norm = state.d.iter().fold(0.0_f64, |m, d| m.max((d * t).abs()));
            if n_iter == c.max_iter
                || current_evals >= max_eval
                || opt_cond
                || step_norm <= c.tolerance_change
                || (loss - state.prev_loss).abs() < c.tolerance_change
            {
                break;
            }
        }
        state.t = t;
        Ok(orig_loss)
    }

    /// Forms $s = t\,d$ and $y = g - g_{\text{prev}}$ in the scratch buffers and keeps them if
    /// $y^\top s > 10^{-10}$, dropping the oldest pair beyond `history_size` (whose buffers
    /// then take the new one), and sets γ from the new pair.
    fn remember_pair(&self, state: &mut LbfgsTorchState, g: &[f64], t: f64, y: &mut [f64], s: &mut [f64]) {
        for (y, (g, p)) in y.iter_mut().zip(g.iter().zip(&state.prev_flat_grad)) {
            *y = g - p;
        }
        for (s, d) in s.iter_mut().zip(&state.d) {
            *s = d * t;
        }
        let ys = torch_dot(y, s);
        if ys > 1e-10 {
            if state.old_dirs.len() == self.config.history_size {
                let (mut old_y, mut old_s) = (
                    state.old_dirs.pop_front().unwrap_or_default(),
                    state.old_stps.pop_front().unwrap_or_default(),
                );
                state.ro.pop_front();
                old_y.clear();
                old_y.extend_from_slice(y);
                old_s.clear();
                old_s.extend_from_slice(s);
                state.old_dirs.push_back(old_y);
                state.old_stps.push_back(old_s);
            } else {
                state.old_dirs.push_back(y.to_vec());
                state.old_stps.push_back(s.to_vec());
            }
            state.ro.push_back(1.0 / ys);
            state.h_diag = ys / torch_dot(y, y);
        }
    }
}

impl Default for LbfgsTorch {
    fn default() -> Self {
        Self::new()
    }
}

crate::optim::validated_serde!(LbfgsTorch, LbfgsTorchConfig);

/// The two-loop recursion, $d = -H g$, with $H$ from the kept pairs and $H_0 = \gamma I$,
/// in PyTorch's operation order (`q` and then `r` live in `state.d`).
fn two_loop(state: &mut LbfgsTorchState, g: &[f64], al: &mut [f64]) {
    let LbfgsTorchState { d, old_dirs, old_stps, ro, h_diag, .. } = state;
    d.iter_mut().zip(g).for_each(|(q, g)| *q = -g);
    for i in (0..old_dirs.len()).rev() {
        al[i] = torch_dot(&old_stps[i], d) * ro[i];
        let alpha = -al[i];
        add_scaled(d, alpha, &old_dirs[i]);
    }
    d.iter_mut().for_each(|r| *r *= *h_diag);
    for i in 0..old_dirs.len() {
        let be_i = torch_dot(&old_dirs[i], d) * ro[i];
        let alpha = al[i] - be_i;
        add_scaled(d, alpha, &old_stps[i]);
    }
}

/// $x \leftarrow x + \alpha v$ as PyTorch's `x.add_(v, alpha=α)` computes it on the CPU: one
/// fused multiply-add per element.
fn add_scaled(x: &mut [f64], alpha: f64, v: &[f64]) {
    x.iter_mut().zip(v).for_each(|(x, v)| *x = v.mul_add(alpha, *x));
}

#[cfg(test)]
mod tests {
    use super::super::line_search::test_functions::rosenbrock;
    use super::*;

    #[test]
    fn the_first_step_is_scaled_by_the_l1_norm_of_the_gradient() {
        // f = ½|x|², g = x: the first iteration moves by min(1, 1/‖g‖₁)·lr·(-g).
        let half_square = |x: &[f64], g: &mut [f64]| {
            g.copy_from_slice(x);
            0.5 * torch_dot(x, x)
        };
        let opt = LbfgsTorch::from_config(LbfgsTorchConfig { max_iter: 1, ..Default::default() }).unwrap();
        let mut x = [3.0, -1.0];
        let mut state = opt.init(2);
        opt.step(&half_square, &mut x, &mut state).unwrap();
        assert_eq!(x, [3.0 - 0.25 * 3.0, -1.0 + 0.25 * 1.0]);
        assert_eq!((state.n_iter, state.func_evals), (1, 1));
    }

    #[test]
    fn state_carries_over_between_calls_and_the_history_is_bounded() {
        let cfg = LbfgsTorchConfig {
            history_size: 2,
            max_iter: 4,
            line_search_fn: LbfgsLineSearch::StrongWolfe,
            ..Default::default()
        };
        let opt = LbfgsTorch::from_config(cfg).unwrap();
        let mut x = [-1.2, 1.0];
        let mut state = opt.init(2);
        for _ in 0..3 {
            opt.step(&rosenbrock, &mut x, &mut state).unwrap();
            assert!(state.old_dirs.len() <= 2 && state.old_dirs.len() == state.ro.len());
        }
        assert!(state.n_iter > 4, "{state:?}");
        assert!(LbfgsTorch::from_config(LbfgsTorchConfig { history_size: 0, ..Default::default() }).is_err());
        assert!(opt.step(&rosenbrock, &mut [0.0; 3], &mut state).is_err());
        // An edited state whose kept pairs disagree is an error, not an index out of bounds,
        // and so is loading one.
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<LbfgsTorchState>(&json).unwrap(), state);
        let mut edited = serde_json::to_value(&state).unwrap();
        edited["ro"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<LbfgsTorchState>(edited).is_err());
        let mut edited = state.clone();
        edited.ro.pop_back();
        assert!(opt.step(&rosenbrock, &mut x, &mut edited).is_err());
        let mut edited = state.clone();
        edited.old_dirs[0].push(1.0);
        assert!(opt.step(&rosenbrock, &mut x, &mut edited).is_err());
        // An absurd history or iteration budget allocates nothing absurd.
        let huge = LbfgsTorchConfig { history_size: usize::MAX, max_iter: usize::MAX / 2, ..cfg };
        let huge = LbfgsTorch::from_config(LbfgsTorchConfig { max_eval: Some(3), ..huge }).unwrap();
        let mut s = huge.init(2);
        huge.step(&rosenbrock, &mut [-1.2, 1.0], &mut s).unwrap();
    }
}
