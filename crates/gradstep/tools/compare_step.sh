#!/usr/bin/env bash
# One Adam step on 10^7 f32 parameters, the library's against PyTorch's fused Adam, in one run:
# alternates `cargo bench --bench step` and bench_torch.py for ROUNDS rounds, on 1 and on 2
# threads (A/B pairs, so a machine whose load changes treats both alike), then prints the
# medians over rounds and the ratios of the library's f32 Adam, its bf16-state Adam and its
# 8-bit-state Adam to PyTorch's fused Adam at each thread count.
#
#   crates/gradstep/tools/compare_step.sh [ROUNDS]
#
# PYTHON must point at a Python with torch==2.15.0 (requirements.txt; default: python3).
# Not run by CI.
set -euo pipefail
rounds=${1:-5}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
cargo bench --quiet -p gradstep --bench step --no-run 2> /dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for round in $(seq "$rounds"); do
    GRADSTEP_BENCH_THREADS=2 cargo bench --quiet -p gradstep --bench step 2> /dev/null |
        sed -n 's/^\(Adam\|Adam, bf16 state\|Adam, 8-bit state\|AdamW (wd 0.01)\|SGD (momentum 0.9)\) \+\([12]\) \+\([0-9.]*\) .*/lab \1, \2 thr|\3/p' | tee -a "$log"
    for threads in 1 2; do
        "$python" "$here/bench_torch.py" "$threads" |
            sed -n 's/^\(.*)\) \+\([12]\) \+\([0-9.]*\) ms\/step.*/torch \1, \2 thr|\3/p' | tee -a "$log"
    done
done
awk -F'|' '
    { v[$1] = v[$1] " " $2; keys[$1] = 1 }
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return a[int((n + 1) / 2)]
    }
    END {
        print ""
        for (k in keys) { m[k] = median(v[k]); printf "%-36s %9.3f ms/step (median of %d rounds)\n", k, m[k], split(v[k], _, " ") }
        print ""
        for (t = 1; t <= 2; t++) {
            f = "torch Adam (fused=True), " t " thr"
            if (!(f in m)) continue
            printf "%d thread(s): lab Adam (f32 state) / torch fused Adam:  %.2f\n", t, m["lab Adam, " t " thr"] / m[f]
            printf "%d thread(s): lab Adam (bf16 state) / torch fused Adam: %.2f\n", t, m["lab Adam, bf16 state, " t " thr"] / m[f]
            printf "%d thread(s): lab Adam (8-bit state) / torch fused Adam: %.2f\n", t, m["lab Adam, 8-bit state, " t " thr"] / m[f]
            w = "torch AdamW (fused=True), " t " thr"
            if (w in m) printf "%d thread(s): lab AdamW / torch fused AdamW:            %.2f\n", t, m["lab AdamW (wd 0.01), " t " thr"] / m[w]
        }
    }' "$log"
