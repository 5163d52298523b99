"""Benchmark RAP Studio through Pilot: keypress -> repainted heatmap, and start-up to first paint.

    python dev/bench_tui.py                       # P = 512 and 4096, 200 edits each, 160x44
    python dev/bench_tui.py --sizes 512 --edits 100 --terminal 140x40
    python dev/bench_tui.py --sizes 512 4096 --load 2   # + one busy-loop process per core
    python dev/bench_tui.py --sizes --table 5000x1000   # parse vs parsed-data cache, big table
    python dev/bench_tui.py --sizes --fitted big.csv    # keypresses on a real fit (P = columns)
    python dev/bench_tui.py --sizes --startup 5   # demo start-up vs a minimal Textual app
    python dev/bench_tui.py --sizes --startup 9 --before /tmp/main   # + another checkout
    python dev/bench_tui.py --sizes --startup 5 --data big.csv   # + a user file (2nd launch cached)

Keypress latency: synthetic data with P features (random ranges so every pair co-activates
differently, 12 enabled votes, the rest disabled), a real `rap_core.studio.Studio`, and the real
app. For each `+`/`-` press on the votes table we time from just before the key is posted to the
end of the last frame the key caused (Textual's compositor refresh, handed to the driver): the
rule row, the sentence, the metrics and the heatmap lines whose colours changed. The terminal is
wide (>= 140 columns), so the heatmap is on screen beside the focused rules table. The key is
posted as the terminal driver posts it, and nothing else runs until its first frame (then 50 ms
for any later frame of the same key); `--pilot` uses `Pilot.press` + `pause` instead, whose own
waits share the event loop with the app (the method before issue 13's second pass).
--fitted DATA: the same on a real fit (its Studio as the app opens it; P = its columns).

--load N runs N CPU-bound processes (a Python busy loop each, stopped after the measurement and
after 600 s at most) while the keypresses are timed: the "loaded machine" case.

"app work" is the part of that spent in our code (edit handling + heatmap line renders); the
rest is Textual's frame batching (repaints wait for its 1/TEXTUAL_FPS update timer, 60 by
default) and message passing.

Start-up: a fresh interpreter per run (imports included); "first paint" is the first compositor
frame (the shell: status line, tabs, footer), "editable" is the first frame painted once the
demo's rule is installed (state `ready`: on screen and taking edits; bundled fit, no cutlass
run), "all panes idle" is when the workers are done (the hidden panes mounted, tui.panes) and
the app is idle. All are reported as a ratio to the first paint of a minimal Textual app (a
Static and a Footer) measured in the same run, interleaved run by run, so a loaded machine slows
both sides alike: the issue's target is editable <= 1.6x that floor. The same minimal app after
`import numpy` is measured too: the floor for any app whose first editable frame needs numpy
(the Studio's arrays). --before CHECKOUT adds the
demo in another tree (e.g. `git archive main | tar -x -C /tmp/main`), interleaved too.
With --data, the same is measured for that file (its fit must be cached: `rap rules DATA`); the
first launch parses the file and fills the parsed-data cache, the median is over the later ones.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rap_core.cli_parser import OneLineParser  # noqa: E402


def fitted_studio(data: str):
    """The Studio the app opens on `data` (its fit must be cached: `rap rules DATA` first),
    without a session file: keypresses on a real fit (e.g. 5,000 x 1,000, P = 1,000)."""
    from rap_core.opening import load_data, open_fitted, prepare

    params, _ = prepare(None)
    dataset = load_data(data, target="INDC", cv=params.cv)
    return open_fitted(dataset, params, session=None, autosave=None, advice="tui",
                       fit_fn=_no_fit)


def _no_fit(*_args, **_kwargs):
    raise SystemExit("no cached fit for --fitted DATA: run `rap rules DATA` first")


def synthetic_studio(p: int, n: int = 400, seed: int = 0):
    """A Studio over random data with P features named V<g>_t<lag> (8 lags per variable)."""
    import pandas as pd

    from rap_core.dataset import dataset_from_frame
    from rap_core.ranges import make_ranges
    from rap_core.rules import Rule
    from rap_core.studio import Studio

    rng = np.random.default_rng(seed)
    names = [f"V{i // 8 + 1}_t{i % 8}" for i in range(p)]
    X = rng.normal(size=(n, p)).round(4)
    frame = pd.DataFrame(X, columns=names)
    frame["INDC"] = (rng.random(n) < 0.3).astype(int)
    dataset = dataset_from_frame(frame, name=f"synthetic-{p}.csv")
    lo = rng.uniform(-2.0, 0.0, size=p)
    ranges = make_ranges(names, lo, lo + rng.uniform(0.5, 3.0, size=p))
    enabled = np.zeros(p, dtype=bool)
    enabled[rng.choice(p, size=min(12, p), replace=False)] = True
    rule = Rule.make(names, np.ones(p, np.int8), enabled.astype(np.float32), enabled, 10.0, 6.0)
    return Studio(dataset, None, ranges, rule)


QUIET_S = 0.05  # after a key's first frame, how long later frames still count for it


def send_key(app, key: str) -> None:
    """Post a `+`/`-` key the way the terminal driver does (no Pilot waits around it)."""
    from textual import events

    event = events.Key(key, "+" if key == "plus" else "-")
    event.set_sender(app)
    app._driver.send_message(event)


async def held_key(app, pilot, last_paint: list[float], bursts: int, keys: int) -> dict:
    """A held `+`: `keys` key events arrive at once (no wait between them, as from a terminal's
    auto-repeat behind a slow frame); every press must apply, and the views should catch up in
    one repaint. Time from posting the first key to the last heatmap line painted after all of
    them, polled (1 ms steps, 5 s bound) without Pilot's idle waits."""
    from textual import events

    from tui.widgets.vote_table import VoteTable

    if not bursts:
        return {}
    table = app.query_one(VoteTable)
    times, flushes = [], []
    for b in range(bursts):
        key = "plus" if b % 2 == 0 else "minus"
        feature = table.current_feature()
        i = app.studio.rule.index(feature)
        before = float(app.studio.rule.weight[i])
        shown_before = app._coalescer.flushes
        start = time.perf_counter()
        last_paint[0] = 0.0
        for _ in range(keys):
            event = events.Key(key, "+" if key == "plus" else "-")
            event.set_sender(app)
            app._driver.send_message(event)
        deadline = start + 5.0
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
            weight = float(app.studio.rule.weight[i])
            done = round(abs(weight - before) / 0.1) >= keys
            if done and app._coalescer._pending is None and last_paint[0] > 0 and \
                    time.perf_counter() - last_paint[0] > 0.05:
                break
        else:
            raise RuntimeError("a held key did not settle within 5 s")
        times.append(last_paint[0] - start)
        flushes.append(app._coalescer.flushes - shown_before)
        await pilot.pause()
    ms = np.array(times) * 1e3
    return {"burst_keys": keys, "bursts": bursts, "burst_p50_ms": float(np.percentile(ms, 50)),
            "burst_p99_ms": float(np.percentile(ms, 99)),
            "flushes_mean": float(np.mean(flushes))}


async def keypress_latency(p: int, edits: int, size: tuple[int, int], bursts: int = 0,
                           burst_keys: int = 10, coalesce: bool = True,
                           immediate: bool = False, studio=None, via_pilot: bool = False) -> dict:
    """`studio` (optional): measure on this Studio (e.g. a real fit) instead of a synthetic one."""
    from textual.screen import Screen

    from tui.app import RapStudioApp
    from tui.widgets.heatmap import Heatmap
    from tui.widgets.vote_table import VoteTable

    t_build = time.perf_counter()
    studio = studio if studio is not None else synthetic_studio(p)
    build_s = time.perf_counter() - t_build
    app = RapStudioApp(deterministic=True)
    app._load = lambda: None  # no dataset loading: the synthetic studio is installed below
    last_paint = [0.0]
    painted = asyncio.Event()  # set by the first frame that painted our widgets
    work = [0.0]  # seconds of app work for this key: the edit handling + heatmap line renders
    original = Heatmap.render_line
    original_changed = RapStudioApp._changed
    original_show = RapStudioApp._show_change
    original_frame = Screen._compositor_refresh
    original_row = VoteTable.render_line
    ours = [False]

    def timed(self, y):
        t = time.perf_counter()
        strip = original(self, y)
        work[0] += time.perf_counter() - t
        ours[0] = True
        return strip

    def timed_row(self, y):
        ours[0] = True
        return original_row(self, y)

    def timed_frame(self):
        original_frame(self)
        if ours[0]:  # a frame that painted the rules table or the heatmap, handed to the driver
            last_paint[0] = time.perf_counter()
            ours[0] = False
            painted.set()

    def timed_changed(self, change):
        t = time.perf_counter()
        original_changed(self, change)
        if not coalesce:  # the views updated after every edit, as before tui.coalesce
            self._coalescer.flush()
        work[0] += time.perf_counter() - t

    def timed_show(self, change):
        t = time.perf_counter()
        original_show(self, change)
        if immediate:  # experiment: paint now instead of at the screen's next 1/FPS tick
            self.screen._on_timer_update()  # private Textual API (what Pilot.pause calls)
        work[0] += time.perf_counter() - t

    Heatmap.render_line = timed
    Screen._compositor_refresh = timed_frame
    VoteTable.render_line = timed_row
    RapStudioApp._changed = timed_changed
    RapStudioApp._show_change = timed_show
    wide = size  # >= 140 columns: rules and prior on screen together
    try:
        async with app.run_test(size=wide) as pilot:
            app._install(studio, "ready")
            await pilot.pause()
            app.query_one("#votes").focus()
            await pilot.pause()
            times, works = [], []
            for k in range(edits):
                key = "plus" if k % 2 == 0 else "minus"
                painted.clear()
                start = time.perf_counter()
                last_paint[0] = work[0] = 0.0
                if via_pilot:  # the old way: Pilot's own waits share the event loop
                    await pilot.press(key)
                    await pilot.pause()
                else:  # as a terminal delivers it: the driver posts the key, nothing else runs
                    send_key(app, key)
                    await asyncio.wait_for(painted.wait(), 5.0)
                    await asyncio.sleep(QUIET_S)  # later frames of the same key still count
                if last_paint[0] < start:
                    raise RuntimeError("no frame was painted after an edit")
                times.append(last_paint[0] - start)
                works.append(work[0])
                await pilot.pause()
            heatmap = app.query_one(Heatmap)
            block = heatmap.bs
            burst = await held_key(app, pilot, last_paint, bursts, burst_keys)
    finally:
        Heatmap.render_line = original
        Screen._compositor_refresh = original_frame
        VoteTable.render_line = original_row
        RapStudioApp._changed = original_changed
        RapStudioApp._show_change = original_show
    ms = np.array(times) * 1e3
    work_ms = np.array(works) * 1e3
    return {"P": p, "edits": edits, "terminal": f"{wide[0]}x{wide[1]}", "block": block,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()), "studio_build_s": build_s,
            "work_p50_ms": float(np.percentile(work_ms, 50)),
            "work_p99_ms": float(np.percentile(work_ms, 99)), **burst}


_STARTUP = r"""
import time, sys
t0 = time.perf_counter()
import asyncio
MODE = sys.argv[1]
if MODE in ("minimal", "numpy"):
    if MODE == "numpy":
        import numpy  # the floor with the one import the core cannot do without
    from textual.app import App
    from textual.widgets import Footer, Static
    class Minimal(App):
        def compose(self):
            yield Static("hello"); yield Footer()
    app = Minimal()
else:
    sys.path.insert(0, sys.argv[2])
    argv = sys.argv[3:4]
    try:  # what `rap-studio ARGV` runs: prepare the process, parse, validate, construct
        from tui.__main__ import build_app
    except ImportError:  # an older checkout (--before)
        from tui.app import RapStudioApp
        app = RapStudioApp(argv[0] if argv else None, deterministic=True)
    else:
        try:
            from tui.__main__ import start_up
        except ImportError:  # a checkout from before start_up(): main() paused the collector
            import gc
            start_up = gc.disable
        start_up()
        app = build_app(argv, deterministic=True)
first, editable = [], []
from textual.screen import Screen
_refresh = Screen._compositor_refresh
def _paint(self):
    _refresh(self)
    now = time.perf_counter() - t0
    if not first:
        first.append(now)
    if not editable and getattr(app, "state", "") == "ready":
        editable.append(now)  # the first frame painted with the rule installed
Screen._compositor_refresh = _paint
async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        if MODE not in ("minimal", "numpy"):
            while not editable and getattr(app, "state", "") != "error":
                await asyncio.sleep(0.001)  # not pilot.pause: it would wait for idle
            if app.state == "error":
                raise SystemExit("the app showed an error screen")
            await app.workers.wait_for_complete()
            await pilot.pause()
        settled = time.perf_counter() - t0
        print(first[0], editable[0] if editable else settled, settled)
asyncio.run(main())
"""


def startup(runs: int, data: str | None = None, before: str | None = None) -> dict:
    """Median (first paint, editable) seconds per mode, minimal / studio (demo) / data, and
    `before`: the demo in another checkout (e.g. `git archive main`), interleaved in the run."""
    modes = {"minimal": [], "numpy": [], "studio": []}
    if before:
        modes["before"] = []
    if data:
        modes["data"] = [str(Path(data).resolve())]
    out: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    env = {"TEXTUAL_ANIMATIONS": "none", "PATH": "/usr/bin:/bin", "HOME": str(Path.home()),
           "TEXTUAL_COLOR_SYSTEM": os.environ.get("TEXTUAL_COLOR_SYSTEM", "truecolor")}
    if os.environ.get("XDG_CACHE_HOME"):
        env["XDG_CACHE_HOME"] = os.environ["XDG_CACHE_HOME"]
    for run in range(runs + (1 if data else 0)):
        for mode, extra in modes.items():
            if mode != "data" and run == runs:
                continue  # the extra run only warms the data file's parsed-data cache
            root = str(Path(before).resolve()) if mode == "before" else str(ROOT)
            res = subprocess.run([sys.executable, "-c", _STARTUP, mode, root, *extra],
                                 capture_output=True, text=True, env=env, timeout=300)
            if res.returncode != 0:
                raise SystemExit(f"start-up run ({mode}) failed: "
                                 f"{(res.stderr or res.stdout).strip().splitlines()[-1:]}")
            first, ready, settled = (float(v) for v in res.stdout.split())
            if mode == "data" and run == 0:
                print(f"start-up data    : first launch (parses, fills the cache) "
                      f"editable {ready:.2f} s")
                continue
            out[mode].append((first, ready, settled))
    floor = statistics.median(v[0] for v in out["minimal"])

    def med(vals, i):
        return statistics.median(v[i] for v in vals)

    return {mode: {"first_paint_s": med(vals, 0), "ready_s": med(vals, 1),
                   "settled_s": med(vals, 2), "first_paint_x": med(vals, 0) / floor,
                   "ready_x": med(vals, 1) / floor, "settled_x": med(vals, 2) / floor,
                   "ready_x_range": (min(v[1] for v in vals) / floor,
                                     max(v[1] for v in vals) / floor)}
            for mode, vals in out.items()}


_OPEN = r"""
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from rap_core.data_cache import load_dataset_cached
dataset = load_dataset_cached(sys.argv[2])
print(time.perf_counter() - t0, 'pandas' in sys.modules)
"""


def table_open(shape: str, runs: int = 3) -> dict:
    """Open a synthetic ROWSxCOLS CSV in a fresh interpreter (imports included): the first open
    parses it (pandas) and fills the parsed-data cache, the later ones are served from it."""
    import tempfile

    rows, cols = (int(v) for v in shape.split("x"))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / f"table-{shape}.csv"
        names = [f"F{j}" for j in range(cols)]
        X = rng.normal(size=(rows, cols)).round(4)
        y = (rng.random(rows) < 0.3).astype(int)
        with open(csv, "w") as fh:
            fh.write(",".join([*names, "INDC"]) + "\n")
            np.savetxt(fh, np.column_stack([X, y]), delimiter=",", fmt="%.4f")
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        times = []
        for _ in range(runs + 1):
            res = subprocess.run([sys.executable, "-c", _OPEN, str(ROOT), str(csv)], env=env,
                                 capture_output=True, text=True, timeout=600, check=True)
            seconds, pandas = res.stdout.split()
            times.append((float(seconds), pandas == "True"))
        size = csv.stat().st_size
    return {"shape": shape, "mb": size / 1e6, "first_s": times[0][0], "first_pandas": times[0][1],
            "cached_s": statistics.median(t for t, _ in times[1:]),
            "cached_pandas": any(p for _, p in times[1:])}


_BUSY = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def write_big(path: Path) -> None:
    """The 5,000 x 1,000 table of `--data` / `--fitted` in docs/benchmarks/tui.md: bench_fit's
    synthetic AND rule (40 variables x 25 lags, 3 true features), 4 decimals. Cache its fit once
    with `rap rules CSV` before timing start-up or keypresses on it."""
    sys.path.insert(0, str(ROOT / "dev"))
    from bench_fit import synthetic

    frame, truth = synthetic(5000, 40, 25, "and")
    frame.round(4).to_csv(path, index=False)
    print(f"wrote {path}: {frame.shape[0]} rows x {frame.shape[1] - 1} features, true {truth}")


def busy_loops(n: int) -> list[subprocess.Popen]:
    """N CPU-bound processes, bounded in time; the caller stops them."""
    return [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(n)]


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[512, 4096])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--terminal", default="160x44",
                        help="WxH; >= 140 wide so the heatmap is beside the rules")
    parser.add_argument("--startup", type=int, default=0, help="start-up runs (0 = skip)")
    parser.add_argument("--data", help="also time start-up on this data file (fit cached)")
    parser.add_argument("--before", help="also time start-up of the demo in this checkout "
                                         "(e.g. an export of main), same run")
    parser.add_argument("--bursts", type=int, default=20, help="held-key bursts (0 = skip)")
    parser.add_argument("--burst-keys", type=int, default=10, help="key events per burst")
    parser.add_argument("--immediate", action="store_true",
                        help="experiment: paint right after an edit, not at the next frame tick")
    parser.add_argument("--fitted", help="also time keypresses on this data file's fitted "
                                         "Studio (fit cached: `rap rules DATA` first)")
    parser.add_argument("--pilot", action="store_true",
                        help="press keys with Pilot.press + pause (before: its waits share the "
                             "event loop with the app and add to every keypress)")
    parser.add_argument("--no-coalesce", action="store_true",
                        help="update the views after every edit (the behaviour before)")
    parser.add_argument("--table", help="ROWSxCOLS: time opening such a CSV, parsed vs cached")
    parser.add_argument("--write-big", metavar="CSV",
                        help="write the 5,000 x 1,000 table the big-data numbers use, then stop")
    parser.add_argument("--load", type=int, default=0,
                        help="busy-loop processes running while keypresses are timed")
    parser.add_argument("--colours", default="truecolor",
                        choices=["truecolor", "256", "standard"],
                        help="the terminal's colour system (default truecolor, as tmux/ssh on a "
                             "modern terminal; 'standard' = 16 colours: the glyph heatmap). "
                             "Before this option the shell's TERM decided: TERM=xterm measured "
                             "the glyph heatmap")
    args = parser.parse_args()
    if args.write_big:
        write_big(Path(args.write_big))
        return
    os.environ["TEXTUAL_COLOR_SYSTEM"] = args.colours  # read by Textual when an app starts
    size = tuple(int(v) for v in args.terminal.split("x"))
    runs = [(p, None) for p in args.sizes]
    if args.fitted:
        studio = fitted_studio(args.fitted)
        runs.append((studio.rule.n_features, studio))
    for p, studio in runs:
        loops = busy_loops(args.load)
        try:
            r = asyncio.run(keypress_latency(p, args.edits, size, args.bursts, args.burst_keys,
                                             not args.no_coalesce, args.immediate,
                                             studio=studio, via_pilot=args.pilot))
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
        load = os.getloadavg()[0]
        print(f"P={r['P']:5d} terminal {r['terminal']} block {r['block']:3d}: keypress->repaint "
              f"p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms; "
              f"app work p50 {r['work_p50_ms']:.1f} ms  p99 {r['work_p99_ms']:.1f} ms "
              f"({r['edits']} edits; studio build {r['studio_build_s']:.1f} s; "
              f"TEXTUAL_FPS={os.environ.get('TEXTUAL_FPS', '60')}; {args.colours} colours; "
              f"{args.load} busy loops, "
              f"load average {load:.1f} on {os.cpu_count()} cores)")
        if r.get("bursts"):
            print(f"        held key: {r['burst_keys']} presses at once -> all applied, "
                  f"repainted p50 {r['burst_p50_ms']:.1f} ms  p99 {r['burst_p99_ms']:.1f} ms, "
                  f"{r['flushes_mean']:.1f} view updates per burst ({r['bursts']} bursts)")
    if args.table:
        t = table_open(args.table)
        print(f"table {t['shape']} ({t['mb']:.0f} MB CSV): first open (parse) {t['first_s']:.2f} s "
              f"(pandas {t['first_pandas']}), cached {t['cached_s']:.3f} s "
              f"(pandas {t['cached_pandas']}; fresh interpreter, imports included, median of 3)")
    if args.startup:
        s = startup(args.startup, args.data, args.before)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for mode, v in s.items():
            if mode == "numpy":
                print(f"start-up numpy   : the minimal app after `import numpy`: first paint "
                      f"{v['first_paint_s']:.3f} s ({v['first_paint_x']:.2f}x)")
                continue
            if mode == "minimal":
                print(f"start-up minimal : first paint {v['first_paint_s']:.3f} s (1.00x), "
                      f"idle {v['settled_s']:.3f} s ({v['settled_x']:.2f}x) "
                      f"(median of {args.startup})")
                continue
            lo, hi = v["ready_x_range"]
            print(f"start-up {mode:8s}: first paint {v['first_paint_s']:.3f} s "
                  f"({v['first_paint_x']:.2f}x), editable {v['ready_s']:.3f} s "
                  f"({v['ready_x']:.2f}x minimal first paint; runs {lo:.2f}-{hi:.2f}x), "
                  f"all panes idle {v['settled_s']:.3f} s ({v['settled_x']:.2f}x) "
                  f"(median of {args.startup})")


if __name__ == "__main__":
    main()
