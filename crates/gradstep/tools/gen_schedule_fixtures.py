#!/usr/bin/env python3
"""Generate the schedule fixtures of gradstep from PyTorch's and optax's schedulers.

Each fixture records the learning rate of update t = 0, 1, ..., T-1 (the rate in the
optimizer's param group when step t runs); `tests/schedules_golden.rs` rebuilds the schedule
from `schedule` and `params` and compares with `rtol`. For reduce-on-plateau, `metrics` holds
the value observed after each update, and `lrs[t]` is the rate after observing metrics[t].

Usage: /tmp/fixture-venv/bin/python crates/gradstep/tools/gen_schedule_fixtures.py
"""

import json
import os

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

import optax  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures-schedules")
RTOL = 1e-12
TORCH_REF = f"torch {torch.__version__.split('+')[0]}"
OPTAX_REF = f"optax {optax.__version__} (jax {jax.__version__}, x64)"


def torch_lrs(lr, make, steps):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def optax_lrs(fn, steps):
    return [float(fn(t)) for t in range(steps)]


def plateau_lrs(lr, metrics, **kw):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    sched = S.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in metrics:
        opt.step()
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


FIXTURES = [
    ("exponential", TORCH_REF, "exponential", {"lr": 0.1, "gamma": 0.9},
     torch_lrs(0.1, lambda o: S.ExponentialLR(o, gamma=0.9), 30)),
    ("multistep", TORCH_REF, "multistep", {"lr": 0.5, "milestones": [5, 12, 20], "gamma": 0.5},
     torch_lrs(0.5, lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.5), 30)),
    ("polynomial", TORCH_REF, "polynomial", {"lr": 0.1, "end": 0.0, "power": 2.0, "decay_steps": 20},
     torch_lrs(0.1, lambda o: S.PolynomialLR(o, total_iters=20, power=2.0), 30)),
    ("polynomial-end", OPTAX_REF, "polynomial", {"lr": 0.1, "end": 0.01, "power": 1.5, "decay_steps": 20},
     optax_lrs(optax.polynomial_schedule(0.1, 0.01, 1.5, 20), 30)),
    ("cosine", TORCH_REF, "cosine", {"lr": 0.3, "final_lr": 0.01, "steps": 20},
     torch_lrs(0.3, lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.01), 21)),
    ("cosine-hold", OPTAX_REF, "cosine", {"lr": 0.3, "final_lr": 0.03, "steps": 20},
     optax_lrs(optax.cosine_decay_schedule(0.3, 20, alpha=0.1), 30)),
    ("cosine-restarts", TORCH_REF, "cosine_warm_restarts",
     {"lr": 0.1, "min_lr": 0.001, "first_period": 5, "period_mult": 2},
     torch_lrs(0.1, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.001), 40)),
    ("cosine-restarts-equal", TORCH_REF, "cosine_warm_restarts",
     {"lr": 0.1, "min_lr": 0.0, "first_period": 7, "period_mult": 1},
     torch_lrs(0.1, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=1), 30)),
    ("one-cycle", TORCH_REF, "one_cycle", {"max_lr": 0.1, "total_steps": 30},
     torch_lrs(0.1, lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=30), 30)),
    ("one-cycle-custom", TORCH_REF, "one_cycle",
     {"max_lr": 0.5, "total_steps": 50, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0},
     torch_lrs(0.5, lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=50, pct_start=0.25, div_factor=10.0,
                                           final_div_factor=100.0), 50)),
    ("warmup-cosine", TORCH_REF, "warmup_cosine",
     {"warmup_steps": 5, "start": 0.03, "lr": 0.3, "final_lr": 0.01, "steps": 20},
     torch_lrs(0.3, lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                 S.CosineAnnealingLR(o, T_max=20, eta_min=0.01)],
                                             milestones=[5]), 26)),
    ("warmup-cosine-optax", OPTAX_REF, "warmup_cosine",
     {"warmup_steps": 5, "start": 0.0, "lr": 0.3, "final_lr": 0.01, "steps": 20},
     optax_lrs(optax.warmup_cosine_decay_schedule(0.0, 0.3, 5, 25, end_value=0.01), 30)),
    ("factor", OPTAX_REF, "factor", {"lr": 2.0, "factor": 0.9, "floor": 0.01},
     optax_lrs(optax.exponential_decay(2.0, 1, 0.9, end_value=0.01), 60)),
]

PLATEAU_METRICS = [5.0, 4.0, 3.9, 3.9, 3.9, 3.9, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.9999, 3.0, 3.0, 3.0, 3.0, 3.0,
                   3.0, 3.0, 3.0, 3.0]
PLATEAU = [
    ("plateau", {"lr": 1.0, "factor": 0.5, "patience": 2}, {"factor": 0.5, "patience": 2}),
    ("plateau-cooldown", {"lr": 1.0, "factor": 0.5, "patience": 1, "cooldown": 2, "min_lr": 0.1},
     {"factor": 0.5, "patience": 1, "cooldown": 2, "min_lr": 0.1}),
    ("plateau-abs", {"lr": 1.0, "factor": 0.3, "patience": 1, "threshold": 0.5, "threshold_mode": "abs"},
     {"factor": 0.3, "patience": 1, "threshold": 0.5, "threshold_mode": "abs"}),
]


def write(doc):
    with open(os.path.join(OUT, f"{doc['name']}.json"), "w") as f:
        json.dump(doc, f)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, ref, kind, params, lrs in FIXTURES:
        write({"name": name, "reference": ref, "schedule": kind, "params": params, "lrs": lrs, "rtol": RTOL})
    for name, params, kw in PLATEAU:
        lrs = plateau_lrs(params["lr"], PLATEAU_METRICS, **kw)
        write({"name": name, "reference": TORCH_REF, "schedule": "reduce_on_plateau", "params": params,
               "metrics": PLATEAU_METRICS, "lrs": lrs, "rtol": RTOL})
    print(f"wrote {len(FIXTURES) + len(PLATEAU)} schedule fixtures")


if __name__ == "__main__":
    main()
