#!/usr/bin/env bash
# GPU readiness check for RAP attention in nanochat; run on a CUDA machine.
#
#   dev/gpu_check.sh /path/to/nanochat [report.md]
#
# 1. `pytest -m cuda` on RAP Studio's tests (the CUDA-only parity and compile tests);
# 2. copies the nanochat checkout to a temporary folder, patches it (dev/patch_nanochat.py) and
#    runs dev/gpu_check.py inside it: flex/split vs nanochat's own flash path at T = 2048 with
#    its sliding windows, a compiled base_train-style step with and without the prior (tokens/s,
#    graph breaks, peak memory, compile time), Engine generation over several prompt lengths
#    (frames compiled);
# 3. writes everything as Markdown to report.md (default: gpu_check_report.md) and stdout.
# The checkout itself is never modified.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: dev/gpu_check.sh /path/to/nanochat [report.md]" >&2
    exit 2
fi
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOUT="$(cd "$1" && pwd)"
REPORT="$(realpath -m "${2:-gpu_check_report.md}")"
PYTHON="${PYTHON:-python}"

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: torch sees no CUDA device; run this on a GPU machine" >&2
    exit 2
fi
if ! "$PYTHON" -c "import rap_nanochat" 2>/dev/null; then
    echo "error: rap_nanochat is not importable; install RAP Studio first: pip install -e $REPO" >&2
    exit 2
fi
if [[ ! -f "$CHECKOUT/nanochat/gpt.py" ]]; then
    echo "error: $CHECKOUT: no nanochat/gpt.py; give the root of a karpathy/nanochat checkout" >&2
    exit 2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

{
    echo "## GPU check — $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "nanochat: $(git -C "$CHECKOUT" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
         "rap-studio: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
    echo "### pytest -m cuda"
    echo
    echo '```'
    (cd "$REPO" && "$PYTHON" -m pytest -m cuda -q -p no:cacheprovider 2>&1 | tail -n 5) || true
    echo '```'
    echo
} | tee "$REPORT"

cp -r "$CHECKOUT" "$WORK/nanochat"
rm -rf "$WORK/nanochat/.git"
"$PYTHON" "$REPO/dev/patch_nanochat.py" "$WORK/nanochat" | tee -a "$REPORT"
echo | tee -a "$REPORT"
(cd "$WORK/nanochat" && PYTHONPATH="$WORK/nanochat" "$PYTHON" "$REPO/dev/gpu_check.py") \
    2>"$WORK/stderr.txt" | tee -a "$REPORT" || {
    echo "error: dev/gpu_check.py failed; last lines of its stderr:" >&2
    tail -n 20 "$WORK/stderr.txt" >&2
    exit 1
}
echo "report written to $REPORT"
