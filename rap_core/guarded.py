"""`python -m rap_core.guarded MODULE [ARGS...]`: run MODULE as `__main__`, dying with our parent.

Why: the evaluation runs two processes deep (rap-studio → `rap eval` → the torch trainer), and each
runs in a session of its own, so a hang-up of the terminal reaches neither. Each child arms
`rap_core.child_guard.die_with_parent()` here, before the module runs, so a parent that dies (a
dropped SSH connection, SIGKILL) takes its children with it. The trainer module itself
(`rap_nanochat.evaluation`) stays free of any rap_core import: the guard wraps it from outside.
"""

from __future__ import annotations

import runpy
import sys

from rap_core.child_guard import die_with_parent


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: python -m rap_core.guarded MODULE [ARGS...]", file=sys.stderr)
        raise SystemExit(2)
    die_with_parent()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
