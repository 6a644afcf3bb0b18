#!/usr/bin/env python3
"""The PyTorch side of benches/step.rs: one step on 10^7 float32 parameters on THREADS threads
(default 1), median of 25 after 3 warm-up steps, next to a copy of the same buffers.

Usage: python crates/gradstep/tools/bench_torch.py [THREADS]   (a Python with requirements.txt)
compare_step.sh runs it alternately with the library's bench and prints the ratios.
"""

import sys
import time

import torch

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(THREADS)
N = 10_000_000
REPS = 25


def median_ms(fn):
    times = []
    for rep in range(REPS + 3):
        t = time.perf_counter()
        fn()
        if rep >= 3:
            times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1e3


def bench(name, make, buffers):
    p = torch.nn.Parameter(torch.arange(N, dtype=torch.float32) % 1000 * 1e-3)
    p.grad = (torch.arange(N, dtype=torch.float32) % 777 - 388.0) * 1e-3
    opt = make([p])
    step = median_ms(opt.step)
    src = [torch.full((N,), b + 0.5) for b in range(buffers)]
    dst = [torch.zeros(N) for _ in range(buffers)]
    copy = median_ms(lambda: [d.copy_(s) for d, s in zip(dst, src)])
    print(f"{name:<28} {THREADS:2d} {step:9.3f} ms/step  memcpy {copy:8.3f} ms  ratio {step / copy:5.2f}")


bench("SGD momentum (foreach=False)", lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, foreach=False), 3)
bench("Adam (foreach=False)", lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=False), 4)
bench("Adam (fused=True)", lambda ps: torch.optim.Adam(ps, lr=1e-3, fused=True), 4)
bench("AdamW (fused=True)", lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True), 4)
