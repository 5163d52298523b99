"""Installed packages' versions, for cache keys: read from their dist-info directly.

`importlib.metadata` answers the same question but costs ~10 ms of imports (email parsing and
more) on the way to the first editable frame (issue 13); it stays the fallback for installs
without a dist-info (an egg-info, a source checkout).
"""

from __future__ import annotations

import os
import sys


def installed_version(name: str) -> str | None:
    """The version of the distribution `name` that `importlib.metadata` would report, or None
    when it is not installed."""
    found = _dist_info_version(name)
    if found:
        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _dist_info_version(name: str) -> str | None:
    """`Version:` from the first `<name>-<version>.dist-info/METADATA` on sys.path, in the
    order `importlib.metadata` searches; None when there is none. Reads at most 64 KiB."""
    prefix = name.lower().replace("-", "_") + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # not a directory (a zip), or gone
            continue
        for dist in names:
            if not (dist.endswith(".dist-info") and dist.lower().startswith(prefix)):
                continue
            try:
                with open(os.path.join(entry or ".", dist, "METADATA"), "rb") as handle:
                    head = handle.read(65536).decode("utf-8", "replace")
            except OSError:
                continue
            for line in head.splitlines():
                if not line.strip():
                    break  # the end of the headers
                key, _, value = line.partition(":")
                if key.strip().lower() == "version" and value.strip():
                    return value.strip()
    return None
