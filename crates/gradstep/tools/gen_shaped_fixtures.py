#!/usr/bin/env python3
"""Golden fixtures of Rprop, ASGD, Adafactor, Muon, schedule-free AdamW and LAMB.

The format is gen_fixtures.py's (see ../tests/fixtures/README.md), with two optional keys:

- "shape": the parameter's dimensions, e.g. [rows, cols]. x0 and every trajectory entry are
  the row-major flattening of the tensor, and f(x) = 1/2 x^T A x - b^T x acts on that flat
  vector (A is (rows*cols) x (rows*cols)). The reference optimizer gets the tensor itself.
- "eval_trajectory": the point to evaluate after each step, for the optimizers that keep
  one apart from the parameters: ASGD's average `ax`, schedule-free's x (computed as the
  package's eval() does, on a copy, so that the parameters y are left alone).

It also writes ../tests/fixtures-mixed/: one run of several groups with different optimizers
(Muon for matrices beside AdamW, Adafactor, LAMB), format in tests/mixed_golden.rs.

References: torch.optim.Rprop, ASGD, Adafactor and Muon (torch), optax.lamb (optax),
schedulefree.AdamWScheduleFree (schedulefree), versions pinned in requirements.txt.
torch's Muon runs its Newton-Schulz iteration in bfloat16 (for GPU speed); these fixtures
replace that one cast by float64 (the module's `torch.bfloat16` is pointed at float64 while
the iteration runs) and say so in "reference". Everything else is the libraries' own code.

Usage: as gen_fixtures.py (the same venv; requirements.txt includes `schedulefree`). torch
imports only with its CUDA libraries present, even on a CPU-only machine, so install torch
with its dependencies (or add the nvidia-* wheels its metadata lists) before running:

    /tmp/fixture-venv/bin/python crates/gradstep/tools/gen_shaped_fixtures.py
"""

import importlib.metadata
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Importing gen_fixtures also sets what its runs rely on: jax in x64 on the CPU, and torch's
# default dtype float64 (ASGD keeps its eta and mu in that dtype).
from gen_fixtures import OPTAX_REF, OUT, PROBLEMS, RTOL_F32, TORCH_REF, grad_of, jnp, optax, torch  # noqa: E402

import schedulefree  # noqa: E402
import torch.optim._muon as muon_module  # noqa: E402

STEPS = 30
RTOL = 1e-12  # element-wise rules: the same operations in the same order
RTOL_REDUCE = 1e-9  # norms and matrix products: summation order differs from BLAS/XLA

SF_REF = f"schedulefree {importlib.metadata.version('schedulefree')} (torch {torch.__version__.split('+')[0]}, foreach=False)"
MUON_REF = f"{TORCH_REF}, Newton-Schulz in float64 (torch's bfloat16 cast replaced)"


def lcg(seed):
    """A small deterministic generator, so the problems do not depend on any library's RNG."""
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield ((state >> 11) / float(1 << 53)) * 2.0 - 1.0


def matrix_problem(dims, seed):
    """An SPD quadratic on the flattening of a tensor of shape dims: A = M M^T / n + I/2."""
    n = 1
    for d in dims:
        n *= d
    r = lcg(seed)
    m = [[round(next(r), 3) for _ in range(n)] for _ in range(n)]
    a = [[sum(m[i][k] * m[j][k] for k in range(n)) / n + (0.5 if i == j else 0.0) for j in range(n)] for i in range(n)]
    b = [round(next(r), 3) for _ in range(n)]
    x0 = [round(next(r) * 2.0, 3) for _ in range(n)]
    return {"A": a, "b": b, "x0": x0, "shape": list(dims)}


SHAPED = {
    "m2x3": matrix_problem((2, 3), 1),
    "m3x2": matrix_problem((3, 2), 2),
    "m3x3": matrix_problem((3, 3), 3),
    "m4x2": matrix_problem((4, 2), 4),
    "t2x2x3": matrix_problem((2, 2, 3), 5),
}
PROBLEMS = dict(PROBLEMS, **SHAPED)

TORCH = {
    "rprop": torch.optim.Rprop,
    "asgd": torch.optim.ASGD,
    "adafactor": torch.optim.Adafactor,
    "muon": torch.optim.Muon,
}


class Float64Instead(types.ModuleType):
    """torch, except that `bfloat16` is float64: what _muon's Newton-Schulz casts to."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return torch.float64 if name == "bfloat16" else getattr(torch, name)


def tensor_of(flat, dims, dtype="float64"):
    """The tensor of a flat list, formed in float64 and rounded once to `dtype`."""
    t = torch.tensor(flat, dtype=torch.float64).to(getattr(torch, dtype))
    return t.reshape(dims) if dims else t


def run_torch(optimizer, hyper, problem, dtype):
    kwargs = dict(hyper)
    for k in ("etas", "step_sizes", "betas", "ns_coefficients", "eps"):
        if k in kwargs and isinstance(kwargs[k], list):
            kwargs[k] = tuple(kwargs[k])
    dims = problem.get("shape")
    p = torch.nn.Parameter(tensor_of(problem["x0"], dims, dtype))
    extra = {} if optimizer == "muon" else {"foreach": False}
    opt = TORCH[optimizer]([p], **extra, **kwargs)
    traj, evals = [], []
    saved = muon_module.torch
    if optimizer == "muon":
        muon_module.torch = Float64Instead()
    try:
        for _ in range(STEPS):
            g = grad_of(problem, p.detach().reshape(-1).tolist())
            p.grad = tensor_of(g, dims, dtype)
            opt.step()
            traj.append(p.detach().reshape(-1).tolist())
            if optimizer == "asgd":
                evals.append(opt.state[p]["ax"].reshape(-1).tolist())
    finally:
        muon_module.torch = saved
    return traj, evals


def run_schedulefree(hyper, problem, dtype):
    kwargs = dict(hyper)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    dims = problem.get("shape")
    p = torch.nn.Parameter(tensor_of(problem["x0"], dims, dtype))
    opt = schedulefree.AdamWScheduleFree([p], foreach=False, **kwargs)
    opt.train()
    beta1 = opt.param_groups[0]["betas"][0]
    traj, evals = [], []
    for _ in range(STEPS):
        g = grad_of(problem, p.detach().reshape(-1).tolist())
        p.grad = tensor_of(g, dims, dtype)
        opt.step()
        traj.append(p.detach().reshape(-1).tolist())
        # eval()'s own operation, on a copy: x = y.lerp(z, 1 - 1/beta1).
        x = p.detach().clone().lerp_(opt.state[p]["z"], 1 - 1 / beta1)
        evals.append(x.reshape(-1).tolist())
    return traj, evals


def run_lamb(hyper, problem, dtype):
    h = dict(hyper)
    kw = {}
    if "betas" in h:
        kw["b1"], kw["b2"] = h.pop("betas")
    for k in ("eps", "eps_root", "weight_decay"):
        if k in h:
            kw[k] = h.pop(k)
    t = optax.lamb(h.pop("lr"), **kw)
    if h:
        raise ValueError(f"unused LAMB hyperparameters {h}")
    dims = problem.get("shape")
    jdtype = getattr(jnp, dtype)
    x = jnp.asarray(problem["x0"], dtype=jnp.float64).astype(jdtype)
    if dims:
        x = x.reshape(dims)
    state = t.init(x)
    traj = []
    for _ in range(STEPS):
        g = jnp.asarray(grad_of(problem, [float(v) for v in x.reshape(-1)]), dtype=jnp.float64).astype(jdtype)
        updates, state = t.update(g.reshape(x.shape), state, x)
        x = optax.apply_updates(x, updates)
        traj.append([float(v) for v in x.reshape(-1)])
    return traj, []


CASES = []


def case(name, optimizer, hyper, problems, rtol=RTOL, dtype="float64"):
    for pname in problems:
        CASES.append((f"{name}-{pname}", optimizer, hyper, pname, rtol, dtype))


# --- Rprop: etas, step-size bounds (both reached), maximize, a matrix.
case("rprop", "rprop", {"lr": 0.1}, ["p2", "gd", "p3"])
case("rprop-etas", "rprop", {"lr": 0.05, "etas": [0.3, 1.5], "step_sizes": [0.01, 0.2]}, ["p2", "p4"])
case("rprop-maximize", "rprop", {"lr": 0.1, "maximize": True}, ["concave", "concave3"])
case("rprop", "rprop", {"lr": 0.05}, ["m2x3"])
# --- ASGD: averaging from step t0 on, the rate's decay, weight decay, maximize.
case("asgd", "asgd", {"lr": 0.1}, ["p2", "gd", "p3"])
case("asgd-average", "asgd", {"lr": 0.1, "lambd": 0.01, "alpha": 0.6, "t0": 5.0}, ["p2", "p4"])
case("asgd-weight-decay", "asgd", {"lr": 0.05, "t0": 10.0, "weight_decay": 0.1}, ["p3", "p4"])
case("asgd-maximize", "asgd", {"lr": 0.1, "t0": 3.0, "maximize": True}, ["concave", "concave3"])
# --- Adafactor: vectors (full second moment), matrices and a batch of matrices (factored).
case("adafactor", "adafactor", {"lr": 0.1}, ["p2", "gd", "p3"], RTOL_REDUCE)
case("adafactor", "adafactor", {"lr": 0.1}, ["m2x3", "m3x2", "m3x3", "t2x2x3"], RTOL_REDUCE)
case("adafactor-hyper", "adafactor", {"lr": 0.05, "beta2_decay": -0.5, "eps": [1e-20, 1e-2], "d": 2.0}, ["m4x2", "p4"], RTOL_REDUCE)
case("adafactor-weight-decay", "adafactor", {"lr": 0.1, "weight_decay": 0.2}, ["m3x2", "p3"], RTOL_REDUCE)
case("adafactor-maximize", "adafactor", {"lr": 0.1, "maximize": True}, ["concave", "concave3"], RTOL_REDUCE)
# --- Muon: wide, tall and square matrices, Nesterov or not, every lr adjustment.
case("muon", "muon", {"lr": 0.05}, ["m2x3", "m3x2", "m3x3", "m4x2"], RTOL_REDUCE)
case("muon-plain", "muon", {"lr": 0.05, "nesterov": False, "momentum": 0.9, "weight_decay": 0.0}, ["m2x3", "m4x2"], RTOL_REDUCE)
case("muon-match-rms", "muon", {"lr": 0.05, "adjust_lr_fn": "match_rms_adamw"}, ["m3x2", "m3x3"], RTOL_REDUCE)
case("muon-spectral", "muon", {"lr": 0.05, "adjust_lr_fn": "spectral_unclamped", "weight_decay": 0.3}, ["m2x3", "m4x2"], RTOL_REDUCE)
case("muon-ns", "muon", {"lr": 0.02, "ns_coefficients": [1.5, -0.5, 0.0], "ns_steps": 8, "eps": 1e-5, "adjust_lr_fn": "original"}, ["m3x3", "m3x2"], RTOL_REDUCE)
# --- Schedule-free AdamW: warm-up, r, weight_lr_power, weight decay.
case("adamw-schedulefree", "adamw_schedulefree", {"lr": 0.1}, ["p2", "gd", "p3"])
case("adamw-schedulefree-warmup", "adamw_schedulefree", {"lr": 0.1, "warmup_steps": 10}, ["p2", "p4"])
case("adamw-schedulefree-hyper", "adamw_schedulefree", {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-6, "r": 0.5, "weight_lr_power": 1.0, "warmup_steps": 5}, ["p3", "p4"])
case("adamw-schedulefree-weight-decay", "adamw_schedulefree", {"lr": 0.1, "weight_decay": 0.1}, ["p2", "m2x3"])
# --- LAMB (optax): the trust ratio per tensor, eps_root, weight decay.
case("lamb", "lamb", {"lr": 0.1}, ["p2", "gd", "p3"], RTOL_REDUCE)
case("lamb-hyper", "lamb", {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-4, "eps_root": 1e-8}, ["p4", "p2"], RTOL_REDUCE)
case("lamb-weight-decay", "lamb", {"lr": 0.1, "weight_decay": 0.1}, ["p3", "m3x2"], RTOL_REDUCE)
# --- float32 runs ("dtype": "float32"; x0 and each gradient rounded once to f32). Muon has
# none: with the cast to float64 in place of bfloat16, torch's iteration would run in f64
# for f32 parameters, where gradstep runs it in the parameters' type.
case("rprop-f32", "rprop", {"lr": 0.05, "etas": [0.3, 1.5]}, ["p4"], RTOL_F32, "float32")
case("asgd-f32", "asgd", {"lr": 0.1, "lambd": 0.01, "t0": 5.0, "weight_decay": 0.05}, ["p4"], RTOL_F32, "float32")
# lr 0.03: with 0.1 the f32 run reaches the minimum, where Adafactor's normalised steps turn
# an ulp of difference (f32 norms summed in another order) into a different trajectory.
case("adafactor-f32", "adafactor", {"lr": 0.03}, ["p4", "m3x2"], RTOL_F32, "float32")
case("adamw-schedulefree-f32", "adamw_schedulefree", {"lr": 0.1, "warmup_steps": 5, "weight_decay": 0.05}, ["p4"], RTOL_F32, "float32")
case("lamb-f32", "lamb", {"lr": 0.1, "weight_decay": 0.1}, ["p4", "m3x2"], RTOL_F32, "float32")


def dumps(doc):
    """gen_fixtures.py's layout: one key a line, one step of each trajectory a line."""
    import json

    lines = []
    for key, value in doc.items():
        if key in ("trajectory", "eval_trajectory"):
            rows = ",\n  ".join(json.dumps(row) for row in value)
            lines.append(f' "{key}": [\n  {rows}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


MIXED_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures-mixed")

# One set of groups with different optimizers, the way Muon is used: Muon for the hidden
# matrices, AdamW for the rest. Each group is its own torch optimizer over its own tensors.
MIXED = [
    ("muon-adamw", [("muon", {"lr": 0.05}, [[3, 2]]), ("adamw", {"lr": 0.05, "weight_decay": 0.01}, [[3], [2]])], 11),
    ("muon-lamb-adafactor", [("muon", {"lr": 0.02, "nesterov": False}, [[2, 3], [2, 2]]), ("adafactor", {"lr": 0.05}, [[2, 2]]), ("lamb", {"lr": 0.05}, [[3]])], 12),
]


def run_mixed(groups, problem):
    tensors, optimizers, lamb = [], [], []
    offset = 0
    for optimizer, hyper, shapes in groups:
        params = []
        for dims in shapes:
            n = 1
            for d in dims:
                n *= d
            p = torch.nn.Parameter(tensor_of(problem["x0"][offset:offset + n], dims))
            tensors.append((p, offset, n, dims))
            params.append(p)
            offset += n
        if optimizer == "lamb":
            if set(hyper) != {"lr"}:
                raise ValueError(f"mixed runs take LAMB's lr only, not {hyper}")
            # optax: one transformation per tensor (LAMB's trust ratio is per tensor anyway).
            for p in params:
                t = optax.lamb(hyper["lr"])
                lamb.append((p, t, [t.init(jnp.asarray(p.detach().numpy()))]))
        elif optimizer == "adamw":
            optimizers.append(torch.optim.AdamW(params, foreach=False, **hyper))
        else:
            extra = {} if optimizer == "muon" else {"foreach": False}
            optimizers.append(TORCH[optimizer](params, **extra, **hyper))
    traj = []
    saved = muon_module.torch
    muon_module.torch = Float64Instead()
    try:
        for _ in range(STEPS):
            x = []
            for p, _, _, _ in tensors:
                x.extend(p.detach().reshape(-1).tolist())
            g = grad_of(problem, x)
            for p, off, n, dims in tensors:
                p.grad = tensor_of(g[off:off + n], dims)
            for opt in optimizers:
                opt.step()
            for p, t, st in lamb:
                xp = jnp.asarray(p.detach().numpy())
                u, st[0] = t.update(jnp.asarray(p.grad.numpy()), st[0], xp)
                with torch.no_grad():
                    p.copy_(torch.tensor(list(map(float, optax.apply_updates(xp, u).reshape(-1))), dtype=torch.float64).reshape(p.shape))
            row = []
            for p, _, _, _ in tensors:
                row.extend(p.detach().reshape(-1).tolist())
            traj.append(row)
    finally:
        muon_module.torch = saved
    return traj


def write_mixed():
    os.makedirs(MIXED_OUT, exist_ok=True)
    for name, groups, seed in MIXED:
        n = sum(_numel(dims) for _, _, shapes in groups for dims in shapes)
        problem = matrix_problem((n,), seed)
        traj = run_mixed(groups, problem)
        doc = {
            "name": name,
            "reference": f"{MUON_REF}; {OPTAX_REF} for lamb, one transformation per tensor",
            "groups": [{"optimizer": o, "hyper": h, "shapes": s} for o, h, s in groups],
            "problem": {"A": problem["A"], "b": problem["b"]},
            "x0": problem["x0"],
            "trajectory": traj,
            "rtol": RTOL_REDUCE,
        }
        with open(os.path.join(MIXED_OUT, f"{name}.json"), "w") as f:
            f.write(dumps(doc))
    print(f"wrote {len(MIXED)} fixtures to {os.path.normpath(MIXED_OUT)}", file=sys.stderr)


def _numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def main():
    names = set()
    for name, optimizer, hyper, pname, rtol, dtype in CASES:
        if name in names:
            raise ValueError(f"duplicate fixture {name}")
        names.add(name)
        problem = PROBLEMS[pname]
        if optimizer in TORCH:
            (traj, evals), ref = run_torch(optimizer, hyper, problem, dtype), (MUON_REF if optimizer == "muon" else TORCH_REF)
        elif optimizer == "adamw_schedulefree":
            (traj, evals), ref = run_schedulefree(hyper, problem, dtype), SF_REF
        else:
            (traj, evals), ref = run_lamb(hyper, problem, dtype), OPTAX_REF
        doc = {
            "name": name,
            "reference": ref,
            "optimizer": optimizer,
            "hyper": hyper,
            "problem": {"A": problem["A"], "b": problem["b"]},
        }
        if "shape" in problem:
            doc["shape"] = problem["shape"]
        doc["x0"] = problem["x0"]
        doc["trajectory"] = traj
        if evals:
            doc["eval_trajectory"] = evals
        doc["rtol"] = rtol
        if dtype != "float64":
            doc["dtype"] = dtype
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            f.write(dumps(doc))
    print(f"wrote {len(CASES)} fixtures to {os.path.normpath(OUT)}", file=sys.stderr)
    write_mixed()


if __name__ == "__main__":
    main()
