"""Regenerate the bundled demo data (`rap_core/data/demo.csv.gz` + its parsed `demo.npz`) and,
with --fit, its fit.

    python dev/make_demo.py          # data only (seconds)
    python dev/make_demo.py --fit    # + the real cutlass fit with default FitParams (minutes)

`demo.npz` is the demo's entry for the parsed-data cache (`rap_core.data_cache`): the app reads
it instead of parsing the CSV with pandas. It is written from a parse of the CSV just written and
checked against the generated table, so both forms hold the same values and the same fingerprint.
The fit is the one `load_or_fit` would compute on the demo's training rows (rap_core.split: the
fit never sees the held-out rows); shipping it lets the app open the demo instantly.
After fitting, the script checks that the adopted rule's votes are exactly the ground truth and
exits non-zero if not: a generator change that cutlass cannot recover must not ship.
"""

from __future__ import annotations

import gzip
import sys
import time

from rap_core.atomic import write_bytes_atomic
from rap_core.cli_parser import OneLineParser
from rap_core.demo import GROUND_TRUTH, demo_fit_path, demo_path, generate_demo


def write_data() -> None:
    frame = generate_demo()
    text = frame.to_csv(index=False)  # shortest repr: parses back to the same doubles
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)  # reproducible bytes
    write_bytes_atomic(demo_path(), data)
    print(f"wrote {demo_path()} ({len(data) / 1e6:.2f} MB, {frame.shape[0]} rows, "
          f"prevalence {frame['INDC'].mean():.3f})")
    write_parsed(frame)


def write_parsed(frame) -> None:
    import numpy as np

    from rap_core.data_cache import bundled_entry_path, data_key, entry_bytes, file_sha256
    from rap_core.dataset import load_dataset

    dataset = load_dataset(demo_path())
    features = [c for c in frame.columns if c != "INDC"]
    if list(dataset.features) != features or not np.array_equal(dataset.X,
                                                                frame[features].to_numpy()):
        raise SystemExit("the demo CSV does not parse back to the generated values")
    source = file_sha256(demo_path())
    key = data_key(source, dataset.target)
    write_bytes_atomic(bundled_entry_path(),
                       entry_bytes(key, source, dataset), inputs=[demo_path()])
    print(f"wrote {bundled_entry_path()} (fingerprint {dataset.sha256[:12]}…)")


def fit_and_check() -> int:
    from rap_core.cache import write_json
    from rap_core.dataset import load_dataset
    from rap_core.fit import FitParams, run_fit
    from rap_core.split import train_dataset

    dataset = train_dataset(load_dataset(demo_path()))
    started = time.perf_counter()

    def show(event) -> None:
        print(f"  {event.phase} {event.completed}/{event.total} "
              f"({time.perf_counter() - started:.1f}s)", flush=True)

    fit = run_fit(dataset, FitParams(), progress=show)
    write_json(demo_fit_path(), fit.to_json_dict())
    votes = [dataset.features[i] for i in fit.votes]
    truth = sorted(feature for feature, _, _ in GROUND_TRUTH)
    j_chosen = fit.j_curve[fit.k_chosen - 1] if fit.k_chosen else float("nan")
    print(f"wrote {demo_fit_path()}: {fit.elapsed_s:.0f}s, C={fit.C:g}, adopted={fit.adopted}, "
          f"k={fit.k_chosen}, J={j_chosen:.4f} (L1 J0={fit.j0:.4f}), votes={votes}")
    if not fit.adopted or sorted(votes) != truth:
        print(f"MISMATCH: expected votes {truth}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="also run and ship the demo fit")
    args = parser.parse_args()
    write_data()
    return fit_and_check() if args.fit else 0


if __name__ == "__main__":
    raise SystemExit(main())
