#!/usr/bin/env python3
"""Generate gradstep's training fixtures: several parameter tensors in groups with their own
hyperparameters, gradient clipping, and a learning-rate schedule driving the optimizer, all run
by PyTorch (float64, single-tensor code paths).

Format (tests/fixtures-training/*.json, replayed by tests/training_golden.rs):

    {"name", "reference", "optimizer",
     "split": [2, 1, 1],                      # x is these tensors, concatenated
     "groups": [{"tensors": [0], "hyper": {...}}, {"tensors": [1, 2], "hyper": {...}}],
     "clip_grad_norm": 1.0,                   # optional: torch.nn.utils.clip_grad_norm_
     "clip_grad_value": 0.5,                  # optional: torch.nn.utils.clip_grad_value_
     "schedule": {"schedule": "multistep", "params": {...}},  # optional, as in
                                              # fixtures-schedules with lr 1.0: a factor on
                                              # every group's lr, stepped after each update
     "problem": {"A", "b"}, "x0", "trajectory", "rtol"}

`hyper` uses PyTorch's names, as in tests/fixtures. Cosine schedules last at least as long as
the run: past its end torch's CosineAnnealingLR climbs back up, where gradstep's Cosine (like
optax) holds the final value. Usage:
/tmp/fixture-venv/bin/python crates/gradstep/tools/gen_training_fixtures.py
"""

import json
import os

import torch
from torch.optim import lr_scheduler as S

torch.set_default_dtype(torch.float64)

from gen_fixtures import PROBLEMS, TORCH_CLASSES, dumps, grad_of  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures-training")
STEPS = 30
RTOL = 1e-12
REF = f"torch {torch.__version__.split('+')[0]}"

SCHEDULES = {
    "multistep": lambda o, p: S.MultiStepLR(o, milestones=p["milestones"], gamma=p["gamma"]),
    "exponential": lambda o, p: S.ExponentialLR(o, gamma=p["gamma"]),
    "cosine": lambda o, p: S.CosineAnnealingLR(o, T_max=p["steps"], eta_min=0.0),
    "warmup_cosine": lambda o, p: S.SequentialLR(
        o,
        [S.LinearLR(o, start_factor=p["start"], total_iters=p["warmup_steps"]),
         S.CosineAnnealingLR(o, T_max=p["steps"], eta_min=0.0)],
        milestones=[p["warmup_steps"]],
    ),
    "one_cycle": lambda o, p: S.OneCycleLR(
        o, max_lr=[g["lr"] for g in o.param_groups], total_steps=p["total_steps"], cycle_momentum=False
    ),
}


def run(case):
    problem = PROBLEMS[case["problem"]]
    sizes = case["split"]
    x0 = problem["x0"]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    tensors = [torch.nn.Parameter(torch.tensor(x0[o:o + n])) for o, n in zip(offsets, sizes)]
    groups = []
    for g in case["groups"]:
        h = dict(g["hyper"])
        if "betas" in h:
            h["betas"] = tuple(h["betas"])
        groups.append({"params": [tensors[i] for i in g["tensors"]], **h})
    opt = TORCH_CLASSES[case["optimizer"]](groups, foreach=False)
    sched = None
    if "schedule" in case:
        spec = case["schedule"]
        sched = SCHEDULES[spec["schedule"]](opt, spec["params"])
    traj = []
    for _ in range(STEPS):
        x = [v for t in tensors for v in t.detach().tolist()]
        g = grad_of(problem, x)
        for t, o, n in zip(tensors, offsets, sizes):
            t.grad = torch.tensor(g[o:o + n])
        if "clip_grad_norm" in case:
            torch.nn.utils.clip_grad_norm_(tensors, case["clip_grad_norm"])
        if "clip_grad_value" in case:
            torch.nn.utils.clip_grad_value_(tensors, case["clip_grad_value"])
        opt.step()
        if sched is not None:
            sched.step()
        traj.append([v for t in tensors for v in t.detach().tolist()])
    doc = {"name": case["name"], "reference": REF}
    doc.update({k: v for k, v in case.items() if k not in ("name", "problem")})
    doc.update({"problem": {"A": problem["A"], "b": problem["b"]}, "x0": x0, "trajectory": traj, "rtol": RTOL})
    return doc


CASES = [
    {"name": "groups-sgd", "optimizer": "sgd", "problem": "p4", "split": [2, 1, 1],
     "groups": [{"tensors": [0], "hyper": {"lr": 0.05, "momentum": 0.9}},
                {"tensors": [1, 2], "hyper": {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}}]},
    {"name": "groups-adamw", "optimizer": "adamw", "problem": "p4", "split": [1, 3],
     "groups": [{"tensors": [0], "hyper": {"lr": 0.1, "weight_decay": 0.0}},
                {"tensors": [1], "hyper": {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}}]},
    {"name": "clip-norm-adam", "optimizer": "adam", "problem": "p3", "split": [1, 2], "clip_grad_norm": 1.0,
     "groups": [{"tensors": [0, 1], "hyper": {"lr": 0.1}}]},
    {"name": "clip-norm-sgd-groups", "optimizer": "sgd", "problem": "p4", "split": [2, 2], "clip_grad_norm": 0.5,
     "groups": [{"tensors": [1], "hyper": {"lr": 0.1, "momentum": 0.9, "nesterov": True}},
                {"tensors": [0], "hyper": {"lr": 0.2}}]},
    {"name": "clip-value-rmsprop", "optimizer": "rmsprop", "problem": "p3", "split": [3], "clip_grad_value": 0.5,
     "groups": [{"tensors": [0], "hyper": {"lr": 0.01, "momentum": 0.5}}]},
    {"name": "schedule-multistep-sgd", "optimizer": "sgd", "problem": "p4", "split": [2, 2],
     "schedule": {"schedule": "multistep", "params": {"lr": 1.0, "milestones": [5, 12, 20], "gamma": 0.5}},
     "groups": [{"tensors": [0], "hyper": {"lr": 0.1, "momentum": 0.9}},
                {"tensors": [1], "hyper": {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}}]},
    {"name": "schedule-exponential-rmsprop", "optimizer": "rmsprop", "problem": "p2", "split": [2],
     "schedule": {"schedule": "exponential", "params": {"lr": 1.0, "gamma": 0.9}},
     "groups": [{"tensors": [0], "hyper": {"lr": 0.05, "centered": True}}]},
    {"name": "schedule-cosine-adam", "optimizer": "adam", "problem": "p4", "split": [3, 1],
     "schedule": {"schedule": "cosine", "params": {"lr": 1.0, "final_lr": 0.0, "steps": 30}},
     "groups": [{"tensors": [0], "hyper": {"lr": 0.2}}, {"tensors": [1], "hyper": {"lr": 0.1, "weight_decay": 0.1}}]},
    {"name": "schedule-warmup-cosine-adamw", "optimizer": "adamw", "problem": "p3", "split": [3],
     "clip_grad_norm": 2.0,
     "schedule": {"schedule": "warmup_cosine",
                  "params": {"warmup_steps": 5, "start": 0.1, "lr": 1.0, "final_lr": 0.0, "steps": 25}},
     "groups": [{"tensors": [0], "hyper": {"lr": 0.1}}]},
    {"name": "schedule-one-cycle-nadam", "optimizer": "nadam", "problem": "p2", "split": [1, 1],
     "schedule": {"schedule": "one_cycle", "params": {"max_lr": 1.0, "total_steps": 30}},
     "groups": [{"tensors": [0, 1], "hyper": {"lr": 0.2}}]},
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for case in CASES:
        doc = run(case)
        with open(os.path.join(OUT, f"{case['name']}.json"), "w") as f:
            f.write(dumps(doc))
    print(f"wrote {len(CASES)} training fixtures")


if __name__ == "__main__":
    main()
