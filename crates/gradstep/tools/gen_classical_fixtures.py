#!/usr/bin/env python3
"""Generate the golden fixtures of gradstep's classical methods (tests/fixtures-classical/).

Three kinds of fixture, all in float64; `tests/classical_golden.rs` replays every file and
compares with the file's rtol (the format is in ../tests/fixtures-classical/README.md):

* "lbfgs": torch.optim.LBFGS, with and without line_search_fn="strong_wolfe", over a grid of
  history sizes and max_iter values. The trajectory holds x after each `optimizer.step(closure)`
  call and `func_evals` the closure calls so far. gradstep replays it with `LbfgsTorch`.
* "cg": linear conjugate gradient, scipy.sparse.linalg.cg, on the quadratics: x after each
  iteration (its callback). gradstep replays it with nonlinear CG and an exact (bisection)
  line search, which on a quadratic is the same algorithm; the steps agree to the line
  search's tolerance, not to the last bit.
* "newton": pure Newton, x <- x - H(x)^{-1} grad f(x), with the linear system solved by
  numpy.linalg.solve (LAPACK): a closed-form recurrence, not a library's optimizer. On a
  quadratic it lands on A^{-1} b in one step.

Usage (the venv of gen_fixtures.py; scipy is pinned in requirements.txt):

    /tmp/fixture-venv/bin/python crates/gradstep/tools/gen_classical_fixtures.py

The objectives are computed with Python floats in the operation order of their Rust
counterparts (`gradstep::classical::Quadratic` and the Rosenbrock function of
classical_golden.rs), so that both sides see the same bits; everything else is the libraries'
own code. Fixtures are rewritten in place.
"""

import os
import sys

import numpy as np
import scipy
import scipy.sparse.linalg
import torch

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_fixtures import PROBLEMS, dumps  # noqa: E402  (the quadratics and the JSON layout)

OUT = os.path.join(HERE, "..", "tests", "fixtures-classical")
TORCH_REF = f"torch {torch.__version__.split('+')[0]}"
SCIPY_REF = f"scipy {scipy.__version__}"
NUMPY_REF = f"closed form (numpy {np.__version__} linalg.solve)"

# L-BFGS replays PyTorch's operations one for one, in its rounding (fused x + t d, its dot's
# summation order), and agrees to the last bit on these problems; the rtol is a few ulps.
RTOL_LBFGS = 1e-15
# CG's steps come from a bisection line search stopped at |phi'| <= 1e-10 |phi'(0)|.
RTOL_CG = 1e-9
# LAPACK's LU and gradstep's Gaussian elimination round differently.
RTOL_NEWTON = 1e-11
CALLS = 6


def quadratic(problem, x):
    """f = sum_i (1/2 x_i (Ax)_i - b_i x_i) and Ax - b, as gradstep's `Quadratic` forms them."""
    f, g = 0.0, []
    for row, bi, xi in zip(problem["A"], problem["b"], x):
        ax = -0.0
        for aij, xj in zip(row, x):
            ax += aij * xj
        g.append(ax - bi)
        f += 0.5 * xi * ax - bi * xi
    return f, g


def rosenbrock(x):
    """The chained Rosenbrock function sum_i (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2 (2-D: the
    classic one), in classical_golden.rs's operation order."""
    f, g = 0.0, [0.0] * len(x)
    for i in range(len(x) - 1):
        a, b = 1.0 - x[i], x[i + 1] - x[i] * x[i]
        f += a * a + 100.0 * b * b
        g[i] += -2.0 * a - 400.0 * x[i] * b
        g[i + 1] += 200.0 * b
    return f, g


def rosenbrock_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 2.0 - 400.0 * (x[i + 1] - x[i] * x[i]) + 800.0 * x[i] * x[i]
        h[i, i + 1] += -400.0 * x[i]
        h[i + 1, i] += -400.0 * x[i]
        h[i + 1, i + 1] += 200.0
    return h


ROSENBROCK = {
    # The classic start of the 2-D function.
    "rosen2": [-1.2, 1.0],
    # scipy's tutorial start for the 5-D chained function.
    "rosen5": [1.3, 0.7, 0.8, 1.9, 1.2],
}


def problem_of(pname):
    """(the fixture's "problem", x0, value-and-gradient)."""
    if pname in ROSENBROCK:
        return {"kind": "rosenbrock"}, ROSENBROCK[pname], rosenbrock
    p = PROBLEMS[pname]
    return {"kind": "quadratic", "A": p["A"], "b": p["b"]}, p["x0"], lambda x: quadratic(p, x)


def run_lbfgs(hyper, pname):
    _, x0, fun = problem_of(pname)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([p], **hyper)
    evals = 0

    def closure():
        nonlocal evals
        evals += 1
        f, g = fun(p.detach().tolist())
        p.grad = torch.tensor(g, dtype=torch.float64)
        return torch.tensor(f, dtype=torch.float64)

    traj, counts = [], []
    for _ in range(CALLS):
        opt.step(closure)
        x = p.detach().tolist()
        if not all(np.isfinite(x)):
            raise ValueError(f"L-BFGS {hyper} on {pname} left the finite numbers: {x}")
        traj.append(x)
        counts.append(evals)
        assert opt.state[p]["func_evals"] == evals
    return traj, counts


def lbfgs_cases():
    cases = []
    for pname in ["p2", "gd", "p3", "p4", "rosen2", "rosen5"]:
        rosen = pname in ROSENBROCK
        for ls in [None, "strong_wolfe"]:
            for history, max_iter in [(100, 20), (3, 4), (1, 2)]:
                hyper = {"history_size": history, "max_iter": max_iter}
                if ls:
                    hyper["line_search_fn"] = ls
                elif rosen:
                    # A fixed step of 1 throws L-BFGS far off on Rosenbrock's valley.
                    hyper["lr"] = 0.1
                tag = "wolfe" if ls else "fixed"
                cases.append((f"lbfgs-{pname}-{tag}-h{history}-it{max_iter}", hyper, pname))
    # The stopping rules and max_eval, on their own.
    cases.append(("lbfgs-rosen2-wolfe-max-eval", {"line_search_fn": "strong_wolfe", "max_eval": 7}, "rosen2"))
    cases.append(("lbfgs-rosen2-wolfe-it1", {"line_search_fn": "strong_wolfe", "max_iter": 1}, "rosen2"))
    cases.append(
        (
            "lbfgs-p4-fixed-tolerances",
            {"lr": 0.5, "tolerance_grad": 1e-3, "tolerance_change": 1e-4, "history_size": 5},
            "p4",
        )
    )
    return cases


def run_cg(pname):
    p = PROBLEMS[pname]
    a, b, x0 = np.array(p["A"]), np.array(p["b"]), np.array(p["x0"])
    traj = []
    scipy.sparse.linalg.cg(
        a, b, x0=x0, rtol=1e-14, atol=0.0, maxiter=len(b), callback=lambda xk: traj.append(xk.tolist())
    )
    return traj


def run_newton(pname, steps):
    problem, x0, fun = problem_of(pname)
    x = np.array(x0)
    traj = []
    for _ in range(steps):
        _, g = fun(x.tolist())
        if problem["kind"] == "rosenbrock":
            h = rosenbrock_hessian(x.tolist())
        else:
            h = np.array(PROBLEMS[pname]["A"])
        x = x - np.linalg.solve(h, np.array(g))
        traj.append(x.tolist())
    return traj


def main():
    os.makedirs(OUT, exist_ok=True)
    docs = []
    for name, hyper, pname in lbfgs_cases():
        problem, x0, _ = problem_of(pname)
        traj, counts = run_lbfgs(hyper, pname)
        docs.append(
            {
                "name": name,
                "reference": TORCH_REF,
                "method": "lbfgs",
                "hyper": hyper,
                "problem": problem,
                "x0": x0,
                "trajectory": traj,
                "func_evals": counts,
                "rtol": RTOL_LBFGS,
            }
        )
    for pname in ["p2", "p3", "p4"]:  # not "gd": with b = 0, scipy returns at once
        problem, x0, _ = problem_of(pname)
        docs.append(
            {
                "name": f"cg-{pname}",
                "reference": SCIPY_REF + " sparse.linalg.cg",
                "method": "cg",
                "hyper": {},
                "problem": problem,
                "x0": x0,
                "trajectory": run_cg(pname),
                "rtol": RTOL_CG,
            }
        )
    for pname, steps in [("p3", 2), ("p4", 2), ("rosen2", 6), ("rosen5", 8)]:
        problem, x0, _ = problem_of(pname)
        docs.append(
            {
                "name": f"newton-{pname}",
                "reference": NUMPY_REF,
                "method": "newton",
                "hyper": {"lr": 1.0},
                "problem": problem,
                "x0": x0,
                "trajectory": run_newton(pname, steps),
                "rtol": RTOL_NEWTON,
            }
        )
    for doc in docs:
        with open(os.path.join(OUT, f"{doc['name']}.json"), "w") as f:
            f.write(dumps(doc))
    print(f"wrote {len(docs)} fixtures to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
