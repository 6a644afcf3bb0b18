"""Seconds per training epoch of the lab's LeNet and MLP in PyTorch, the reference for the
lab's `train_bench` example (`compare.sh` runs both, alternating, and prints the ratios).

The networks, data, batch size and optimizer are the example's: LeNet (conv 6@5x5 pad 2, ReLU,
2x2 max-pool, conv 16@5x5, ReLU, 2x2 max-pool, dense 120, ReLU, dense 84, ReLU, dense 10),
61,706 parameters, SGD lr 0.3; the MLP 784-256-10 with SGD lr 0.1; batches of 256 drawn
without replacement from the 4,000 training images that `train_bench --export FILE` writes.
An epoch's time is that of its training steps: indexing the batch, forward, loss, backward,
SGD step, and the loss and accuracy bookkeeping, as in the lab.

    python torch_bench.py --data train.bin [--threads N] [--epochs E] [--model lenet|mlp|all]

Each line reads `bench torch-<model> threads=<N> <median> s/epoch (min <min>, cpu <cpu>, ...)`,
where cpu is the median of the epochs' process CPU time.
"""

import argparse
import struct
import time

import torch
from torch import nn


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (count,) = struct.unpack_from("<I", raw, 0)
    record = 784 * 4 + 1
    pixels = torch.empty(count, 784)
    labels = torch.empty(count, dtype=torch.long)
    for i in range(count):
        at = 4 + i * record
        pixels[i] = torch.tensor(struct.unpack_from("<784f", raw, at))
        labels[i] = raw[at + 784 * 4]
    return pixels, labels


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def bench(name, net, lr, x, y, args):
    torch.manual_seed(0)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(0)
    walls, cpus = [], []
    for _ in range(args.epochs):
        order = torch.randperm(len(y), generator=shuffle)
        start, cpu_start = time.perf_counter(), time.process_time()
        total, correct, count = 0.0, 0, 0
        for b in range(0, len(y), 256):
            idx = order[b:b + 256]
            xb, yb = x[idx], y[idx]
            logits = net(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            count += len(idx)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_start)
    walls.sort()
    cpus.sort()
    print(
        f"bench torch-{name} threads={args.threads} {walls[len(walls) // 2]:.4f} s/epoch "
        f"(min {walls[0]:.4f}, cpu {cpus[len(cpus) // 2]:.4f}, epochs {args.epochs}; "
        f"train loss {total / count:.3f})",
        flush=True,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the file of `train_bench --export`")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--model", default="all", choices=["lenet", "mlp", "all"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load(args.data)
    if args.model in ("lenet", "all"):
        torch.manual_seed(0)
        bench("lenet", lenet(), 0.3, x.view(-1, 1, 28, 28), y, args)
    if args.model in ("mlp", "all"):
        torch.manual_seed(0)
        bench("mlp", mlp(), 0.1, x, y, args)


if __name__ == "__main__":
    main()
