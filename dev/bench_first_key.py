"""The first key pressed just after the rule appears: keypress -> the next frame, in ms.

    python dev/bench_first_key.py [DATA] [--rounds 8] [--delay 0.02] [--before DIR]

Each round is a fresh process (headless, 80x24, launched as `rap-studio DATA` builds its app):
it waits for the frame that shows the rule, lets `--delay` seconds pass (a quick user), presses
`+` and times the next frame. Right after the rule the app still mounts the hidden panes and
builds the prior B in the background, so this is where a key can wait longest (issue 13).
`--before DIR` interleaves another checkout (e.g. a `git archive` of main) round by round.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_ROUND = r"""
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from tui.__main__ import build_app, start_up
start_up()
app = build_app(sys.argv[3:4], deterministic=True)
delay = float(sys.argv[2])
from textual.screen import Screen
_refresh = Screen._compositor_refresh
paints = []
def _paint(self):
    _refresh(self)
    paints.append(time.perf_counter())
Screen._compositor_refresh = _paint
async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        while app.state != "ready" or not paints:
            if app.state == "error":
                raise SystemExit("the app showed an error screen")
            await asyncio.sleep(0.001)
        await asyncio.sleep(delay)
        seen = len(paints)
        pressed = time.perf_counter()
        await asyncio.wait_for(pilot.press("plus"), 30)
        while len(paints) == seen:
            await asyncio.sleep(0.001)
        print((paints[seen] - pressed) * 1000)
asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="a data file (default: the demo)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.02,
                        help="seconds between the rule's frame and the key (0.02)")
    parser.add_argument("--before", type=Path, help="another checkout, interleaved")
    args = parser.parse_args()
    if args.rounds < 1 or args.delay < 0:
        parser.error("--rounds must be at least 1 and --delay at least 0")
    roots = {"this tree": ROOT}
    if args.before is not None:
        roots["before"] = args.before.resolve()
    data = [str(Path(args.data).resolve())] if args.data else []
    times: dict[str, list[float]] = {label: [] for label in roots}
    for _ in range(args.rounds):
        for label, root in roots.items():
            res = subprocess.run([sys.executable, "-c", _ROUND, str(root), str(args.delay), *data],
                                 capture_output=True, text=True, timeout=300)
            if res.returncode != 0:
                last = (res.stderr or res.stdout).strip().splitlines()[-1:]
                raise SystemExit(f"a round ({label}) failed: {last}")
            times[label].append(float(res.stdout.split()[-1]))
    for label, values in times.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{label}: first key -> frame median {statistics.median(values):.1f} ms, "
              f"max {max(values):.1f} ms over {len(values)} launches [{shown}]")


if __name__ == "__main__":
    main()
