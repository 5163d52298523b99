"""Headless dataset -> prior, for pipelines: the same arguments as `rap export`.

    python dev/generate_rap_prior.py DATA [--target COL] [--session S.json] [--layout features|lags]
        [--statistic cpmi|pmi|phi] [--alpha-init A] --out rap_prior.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rap_core.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["export", *sys.argv[1:]]))
