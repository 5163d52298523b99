"""`rap-studio` entry point (placeholder until the app lands)."""

import sys


def main() -> int:
    print("rap-studio: the TUI is not built yet; use `rap export` / `rap inspect`", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
