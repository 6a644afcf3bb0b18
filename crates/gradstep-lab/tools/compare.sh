#!/usr/bin/env bash
# Times the lab's training against PyTorch's on the same networks, data and batch size, and
# prints the ratios: builds the `train_bench` example in release mode, exports its training set,
# then alternates the two for ROUNDS rounds at 1 and 2 threads (alternating A/B pairs, so that
# a machine whose load changes treats both alike), and reports medians over rounds.
#
#   crates/gradstep-lab/tools/compare.sh [ROUNDS] [EPOCHS]
#
# Needs GRADSTEP_DATA_DIR (or the data in the lab's cache) and PYTHON pointing at a Python
# with requirements-torch.txt installed (default: python3). Not run by CI.
set -euo pipefail
rounds=${1:-3}
epochs=${2:-5}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root"
cargo build --quiet --release -p gradstep-lab --example train_bench
bench=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/examples/train_bench
data=$(mktemp)
log=$(mktemp)
trap 'rm -f "$data" "$log"' EXIT
"$bench" --epochs 1 --model mlp --export "$data" > /dev/null
for round in $(seq "$rounds"); do
    for threads in 1 2; do
        "$bench" --threads "$threads" --epochs "$epochs" | tee -a "$log"
        "$python" "$here/torch_bench.py" --data "$data" --threads "$threads" --epochs "$epochs" | tee -a "$log"
    done
done
# Medians over rounds of each line's median epoch (wall clock) and CPU time, then the ratios.
awk '
    /^bench / {
        key = $2 " " $3
        for (i = 1; i <= NF; i++) if ($i == "cpu") { cpu = $(i + 1); sub(",", "", cpu) }
        wall[key] = wall[key] " " $4; cpus[key] = cpus[key] " " cpu; keys[key] = 1
    }
    function median(list,   v, n, i, j, t) {
        n = split(list, v, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
        return v[int((n + 1) / 2)]
    }
    END {
        print ""
        printf "%-22s %10s %10s\n", "median over rounds", "s/epoch", "cpu s"
        for (k in keys) { w[k] = median(wall[k]); c[k] = median(cpus[k]); printf "%-22s %10.4f %10.4f\n", k, w[k], c[k] }
        print ""
        for (k in keys) if (k !~ /^torch-/) {
            t = "torch-" k
            if (t in w) printf "%-22s lab / torch: %.2f (wall), %.2f (cpu)\n", k, w[k] / w[t], c[k] / c[t]
        }
    }' "$log"
