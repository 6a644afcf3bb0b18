#!/usr/bin/env python3
"""Generate the golden fixtures of gradstep from PyTorch and optax.

Each fixture runs one optimizer for T steps on f(x) = 1/2 x^T A x - b^T x (gradient A x - b)
in float64 and records x after every step; `tests/golden.rs` replays it with gradstep and
compares with the fixture's rtol. The format (see the crate's README section in lib.rs docs):

    {"name", "reference", "optimizer", "hyper", "problem": {"A", "b"}, "x0", "trajectory", "rtol"}

`optimizer` is a torch.optim class name in lower case (sgd, adagrad, rmsprop, adadelta, adam,
adamw, nadam, radam, adamax) or an optax one (yogi, lion); `hyper` uses PyTorch's keyword
names. A few fixtures check gradstep's optax-convention options against optax itself; they add
the keys `eps_in_sqrt` (adagrad, rmsprop), `amsgrad_max: "bias_corrected"` (adam) and
`variant: "optax"` (nadam). A fixture may also say `"dtype": "float32"`: the run was made
with float32 tensors (x0 and each gradient rounded to f32), and the trajectory holds the f32
values.

Usage (PyTorch and optax pinned in requirements.txt, e.g. in a venv outside the repo):

    python -m venv /tmp/fixture-venv
    /tmp/fixture-venv/bin/pip install -r crates/gradstep/tools/requirements.txt
    /tmp/fixture-venv/bin/python crates/gradstep/tools/gen_fixtures.py

The gradient is computed with Python floats (sequential sums, no FMA) so that the Rust side
can form exactly the same numbers; everything else is the libraries' own code. Fixtures are
rewritten in place; files of other generators in the folder are left alone.
"""

import json
import os
import sys

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402

torch.set_default_dtype(torch.float64)  # NAdam's mu_product and the step counters in f64

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
STEPS = 30
RTOL = 1e-12
RTOL_F32 = 1e-6

TORCH_REF = f"torch {torch.__version__.split('+')[0]}"
OPTAX_REF = f"optax {optax.__version__} (jax {jax.__version__}, x64)"

PROBLEMS = {
    # A well-conditioned 2-D quadratic.
    "p2": {"A": [[2.0, 0.5], [0.5, 1.0]], "b": [1.0, -1.0], "x0": [1.0, 2.0]},
    # The GD chapter's f = 0.1 x1^2 + 2 x2^2 from (-5, -2).
    "gd": {"A": [[0.2, 0.0], [0.0, 4.0]], "b": [0.0, 0.0], "x0": [-5.0, -2.0]},
    # An ill-conditioned 3-D quadratic.
    "p3": {
        "A": [[10.0, 1.0, 0.0], [1.0, 1.0, 0.2], [0.0, 0.2, 0.1]],
        "b": [1.0, 0.0, -2.0],
        "x0": [0.5, -1.5, 3.0],
    },
    # A 4-D SPD quadratic with mixed scales.
    "p4": {
        "A": [
            [4.0, 1.0, 0.5, 0.0],
            [1.0, 3.0, 0.0, 0.25],
            [0.5, 0.0, 2.0, 0.1],
            [0.0, 0.25, 0.1, 0.5],
        ],
        "b": [1.0, -2.0, 0.5, 3.0],
        "x0": [-1.0, 0.5, 2.0, -3.0],
    },
    # Concave (A negative definite): for `maximize`.
    "concave": {"A": [[-2.0, 0.5], [0.5, -1.0]], "b": [1.0, -1.0], "x0": [1.0, 2.0]},
    "concave3": {
        "A": [[-3.0, 0.2, 0.0], [0.2, -1.0, 0.3], [0.0, 0.3, -0.5]],
        "b": [0.5, 1.0, -1.0],
        "x0": [2.0, -1.0, 0.5],
    },
}


def grad_of(problem, x):
    """A x - b with sequential sums in Python floats (the Rust test forms the same)."""
    out = []
    for row, bi in zip(problem["A"], problem["b"]):
        s = 0.0
        for aij, xj in zip(row, x):
            s += aij * xj
        out.append(s - bi)
    return out


TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "adamax": torch.optim.Adamax,
}


def run_torch(optimizer, hyper, problem, dtype="float64"):
    kwargs = dict(hyper)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    tdtype = getattr(torch, dtype)
    p = torch.nn.Parameter(torch.tensor(problem["x0"], dtype=tdtype))
    # foreach=False: the single-tensor path, which is what torch runs on CPU by default.
    opt = TORCH_CLASSES[optimizer]([p], foreach=False, **kwargs)
    traj = []
    for _ in range(STEPS):
        g = grad_of(problem, p.detach().tolist())
        # The gradient is formed in f64 and rounded once to the parameters' type.
        p.grad = torch.tensor(g, dtype=torch.float64).to(tdtype)
        opt.step()
        traj.append(p.detach().tolist())
    return traj


def optax_transform(optimizer, hyper):
    h = dict(hyper)
    lr = h.pop("lr")
    b1, b2 = h.pop("betas", (None, None))
    if optimizer == "yogi":
        kw = {}
        if b1 is not None:
            kw.update(b1=b1, b2=b2)
        if "eps" in h:
            kw["eps"] = h.pop("eps")
        if "initial_accumulator_value" in h:
            kw["initial_accumulator_value"] = h.pop("initial_accumulator_value")
        t = optax.chain(optax.scale_by_yogi(**kw), optax.scale_by_learning_rate(lr))
    elif optimizer == "lion":
        kw = {}
        if b1 is not None:
            kw.update(b1=b1, b2=b2)
        if "weight_decay" in h:
            kw["weight_decay"] = h.pop("weight_decay")
        t = optax.lion(lr, **kw)
    elif optimizer == "adagrad":
        h.pop("eps_in_sqrt")
        t = optax.adagrad(lr, initial_accumulator_value=h.pop("initial_accumulator_value"), eps=h.pop("eps"))
    elif optimizer == "rmsprop":
        h.pop("eps_in_sqrt")
        t = optax.rmsprop(
            lr, decay=h.pop("alpha"), eps=h.pop("eps"), centered=h.pop("centered", False), eps_in_sqrt=True
        )
    elif optimizer == "adam":
        h.pop("amsgrad")
        h.pop("amsgrad_max")
        t = optax.amsgrad(lr, b1=b1, b2=b2, eps=h.pop("eps"))
    elif optimizer == "nadam":
        h.pop("variant")
        t = optax.nadam(lr, b1=b1, b2=b2, eps=h.pop("eps"))
    else:
        raise ValueError(optimizer)
    if h:
        raise ValueError(f"unused optax hyperparameters {h}")
    return t


def run_optax(optimizer, hyper, problem):
    t = optax_transform(optimizer, hyper)
    x = jnp.asarray(problem["x0"], dtype=jnp.float64)
    state = t.init(x)
    traj = []
    for _ in range(STEPS):
        g = jnp.asarray(grad_of(problem, [float(v) for v in x]), dtype=jnp.float64)
        updates, state = t.update(g, state, x)
        x = optax.apply_updates(x, updates)
        traj.append([float(v) for v in x])
    return traj


CASES = []


def case(name, optimizer, hyper, problems, reference="torch", dtype="float64"):
    for pname in problems:
        CASES.append((f"{name}-{pname}", optimizer, hyper, pname, reference, dtype))


# --- SGD: momentum, dampening, Nesterov, weight decay, maximize.
case("sgd", "sgd", {"lr": 0.1}, ["p2", "gd", "p3"])
case("sgd-momentum", "sgd", {"lr": 0.05, "momentum": 0.9}, ["p2", "p3", "p4"])
case("sgd-dampening", "sgd", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}, ["p2", "p4"])
case("sgd-nesterov", "sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, ["p2", "p3"])
case("sgd-weight-decay", "sgd", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}, ["p2", "p4"])
case("sgd-maximize", "sgd", {"lr": 0.1, "momentum": 0.7, "maximize": True}, ["concave", "concave3"])
# --- Adagrad: lr decay, initial accumulator, eps, weight decay, maximize.
case("adagrad", "adagrad", {"lr": 0.5}, ["p2", "gd", "p3"])
case("adagrad-lr-decay", "adagrad", {"lr": 0.5, "lr_decay": 0.05}, ["p2", "p4"])
case("adagrad-init-acc", "adagrad", {"lr": 0.5, "initial_accumulator_value": 0.1, "eps": 1e-6}, ["p2", "p4"])
case("adagrad-weight-decay", "adagrad", {"lr": 0.3, "weight_decay": 0.2}, ["p3", "p4"])
case("adagrad-maximize", "adagrad", {"lr": 0.3, "maximize": True}, ["concave", "concave3"])
# --- RMSprop: alpha, eps, centered, momentum, weight decay, maximize.
case("rmsprop", "rmsprop", {"lr": 0.01}, ["p2", "gd", "p3"])
case("rmsprop-alpha", "rmsprop", {"lr": 0.02, "alpha": 0.9, "eps": 1e-6}, ["p2", "p4"])
case("rmsprop-centered", "rmsprop", {"lr": 0.01, "alpha": 0.9, "centered": True}, ["p2", "p3"])
case("rmsprop-momentum", "rmsprop", {"lr": 0.01, "momentum": 0.9}, ["p2", "p4"])
case("rmsprop-centered-momentum", "rmsprop", {"lr": 0.005, "centered": True, "momentum": 0.5}, ["p3", "p4"])
case("rmsprop-weight-decay", "rmsprop", {"lr": 0.01, "weight_decay": 0.1}, ["p4", "p2"])
case("rmsprop-maximize", "rmsprop", {"lr": 0.01, "maximize": True}, ["concave", "concave3"])
# --- Adadelta.
case("adadelta", "adadelta", {"lr": 1.0}, ["p2", "gd", "p3"])
case("adadelta-rho-eps", "adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-3}, ["p2", "p4"])
case("adadelta-weight-decay", "adadelta", {"lr": 1.0, "weight_decay": 0.1}, ["p4", "p2"])
case("adadelta-maximize", "adadelta", {"lr": 1.0, "eps": 1e-4, "maximize": True}, ["concave", "concave3"])
# --- Adam: AMSGrad, coupled L2, decoupled weight decay, maximize, betas.
case("adam", "adam", {"lr": 0.1}, ["p2", "gd", "p3", "p4"])
case("adam-betas-eps", "adam", {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-4}, ["p2", "p3"])
case("adam-amsgrad", "adam", {"lr": 0.1, "betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": True}, ["p2", "p3", "p4"])
case("adam-l2", "adam", {"lr": 0.1, "weight_decay": 0.1}, ["p2", "p4"])
case("adam-decoupled", "adam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, ["p2", "p4"])
case("adam-maximize", "adam", {"lr": 0.1, "maximize": True, "amsgrad": True}, ["concave", "concave3"])
# --- AdamW.
case("adamw", "adamw", {"lr": 0.1}, ["p2", "gd", "p3"])
case("adamw-decay", "adamw", {"lr": 0.1, "weight_decay": 0.3}, ["p2", "p4"])
case("adamw-amsgrad", "adamw", {"lr": 0.05, "weight_decay": 0.05, "amsgrad": True}, ["p3", "p4"])
case("adamw-betas-eps", "adamw", {"lr": 0.05, "betas": [0.85, 0.98], "eps": 1e-3, "weight_decay": 0.05}, ["p2", "p3"])
case("adamw-maximize", "adamw", {"lr": 0.1, "maximize": True}, ["concave", "concave3"])
# --- NAdam: momentum decay schedule, coupled and decoupled weight decay.
case("nadam", "nadam", {"lr": 0.1}, ["p2", "gd", "p3"])
case("nadam-momentum-decay", "nadam", {"lr": 0.1, "momentum_decay": 0.05, "betas": [0.95, 0.99]}, ["p2", "p4"])
case("nadam-l2", "nadam", {"lr": 0.1, "weight_decay": 0.1}, ["p4", "p2"])
case("nadam-decoupled", "nadam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, ["p2", "p4"])
case("nadam-maximize", "nadam", {"lr": 0.1, "maximize": True}, ["concave", "concave3"])
# --- RAdam: the SGD phase (rho_t <= 5) then the rectified one.
case("radam", "radam", {"lr": 0.1}, ["p2", "gd", "p3"])
case("radam-betas", "radam", {"lr": 0.1, "betas": [0.9, 0.99], "eps": 1e-6}, ["p2", "p4"])
case("radam-l2", "radam", {"lr": 0.1, "weight_decay": 0.1}, ["p4", "p2"])
case("radam-decoupled", "radam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, ["p2", "p4"])
case("radam-maximize", "radam", {"lr": 0.1, "maximize": True}, ["concave", "concave3"])
# --- Adamax.
case("adamax", "adamax", {"lr": 0.1}, ["p2", "gd", "p3"])
case("adamax-betas-eps", "adamax", {"lr": 0.1, "betas": [0.8, 0.99], "eps": 1e-3}, ["p4", "p2"])
case("adamax-weight-decay", "adamax", {"lr": 0.1, "weight_decay": 0.1}, ["p2", "p3"])
case("adamax-maximize", "adamax", {"lr": 0.1, "maximize": True}, ["concave", "concave3"])
# --- Yogi and Lion (optax).
case("yogi", "yogi", {"lr": 0.1}, ["p2", "gd", "p3"], "optax")
case("yogi-hyper", "yogi", {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-4, "initial_accumulator_value": 0.0}, ["p4", "p2"], "optax")
case("lion", "lion", {"lr": 0.05}, ["p2", "gd", "p3"], "optax")
case("lion-hyper", "lion", {"lr": 0.02, "betas": [0.95, 0.98], "weight_decay": 0.1}, ["p4", "p2"], "optax")
# --- gradstep's optax-convention options, against optax itself.
case("adagrad-optax", "adagrad", {"lr": 0.5, "initial_accumulator_value": 0.1, "eps": 1e-7, "eps_in_sqrt": True}, ["p2", "p3"], "optax")
case("rmsprop-optax", "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, "eps_in_sqrt": True}, ["p2", "p4"], "optax")
case("rmsprop-centered-optax", "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, "centered": True, "eps_in_sqrt": True}, ["p3"], "optax")
case("amsgrad-optax", "adam", {"lr": 0.1, "betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": True, "amsgrad_max": "bias_corrected"}, ["p2", "p4"], "optax")
case("nadam-optax", "nadam", {"lr": 0.1, "betas": [0.9, 0.999], "eps": 1e-8, "variant": "optax"}, ["p2", "p3"], "optax")
# --- float32 runs of torch (optional key "dtype": "float32"): the f32 path, scalars rounded once.
for opt, hyper in [
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adagrad", {"lr": 0.5, "lr_decay": 0.01}),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("adadelta", {"lr": 1.0}),
    ("adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.05}),
    ("adamw", {"lr": 0.1}),
    ("nadam", {"lr": 0.1}),
    ("radam", {"lr": 0.1}),
    ("adamax", {"lr": 0.1}),
]:
    case(f"{opt}-f32", opt, hyper, ["p4"], dtype="float32")


def dumps(doc):
    """One key a line, one trajectory step a line: diffs of regenerated fixtures stay readable."""
    lines = []
    for key, value in doc.items():
        if key == "trajectory":
            rows = ",\n  ".join(json.dumps(row) for row in value)
            lines.append(f' "{key}": [\n  {rows}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    names = set()
    for name, optimizer, hyper, pname, reference, dtype in CASES:
        if name in names:
            raise ValueError(f"duplicate fixture {name}")
        names.add(name)
        problem = PROBLEMS[pname]
        if reference == "torch":
            traj, ref = run_torch(optimizer, hyper, problem, dtype), TORCH_REF
        else:
            traj, ref = run_optax(optimizer, hyper, problem), OPTAX_REF
        doc = {
            "name": name,
            "reference": ref,
            "optimizer": optimizer,
            "hyper": hyper,
            "problem": {"A": problem["A"], "b": problem["b"]},
            "x0": problem["x0"],
            "trajectory": traj,
            "rtol": RTOL if dtype == "float64" else RTOL_F32,
        }
        if dtype != "float64":
            doc["dtype"] = dtype
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            f.write(dumps(doc))
    print(f"wrote {len(CASES)} fixtures to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
