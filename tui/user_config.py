"""The user's own settings for RAP Studio: the chosen theme, and a keymap that remaps keys.

Where: `$XDG_CONFIG_HOME/rap-studio/` (default `~/.config/rap-studio/`), found without
platformdirs. Two files, both optional:

- `settings.json`, written by the app: `{"theme": "textual-light"}`. Choosing a theme (ctrl+p →
  "Theme") saves it, and the next start uses it.
- `keymap.toml`, written by the user: binding id = keys, e.g. `export = "ctrl+e"` or
  `undo = "ctrl+z,u"`. The ids are listed in docs/TUI.md and by `binding_ids()`; Textual's
  `App.set_keymap` applies them.

Hostile or stale files never stop the app: a file that cannot be read or parsed, an unknown
theme or an unknown binding id is ignored with one line that says which file and what to fix
(`problems`), shown as a toast.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 64 * 1024  # a settings or keymap file is a few lines; anything bigger is not ours


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rap-studio"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def keymap_path() -> Path:
    return config_dir() / "keymap.toml"


@dataclass
class UserConfig:
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _read(path: Path, problems: list[str]) -> str | None:
    try:
        if not path.is_file():
            if path.exists():
                problems.append(f"{path} is not a regular file; ignored")
            return None
        if path.stat().st_size > MAX_BYTES:
            problems.append(f"{path} is larger than {MAX_BYTES // 1024} KiB; ignored")
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc}); ignored")
        return None


def load_user_config(known_ids: set[str]) -> UserConfig:
    """Read both files; whatever is wrong lands in `problems` and is skipped."""
    config = UserConfig()
    text = _read(settings_path(), config.problems)
    if text is not None:
        try:
            data = json.loads(text)
        except ValueError:
            config.problems.append(f"{settings_path()} is not valid JSON; ignored (delete it "
                                   f"to start afresh)")
        else:
            theme = data.get("theme") if isinstance(data, dict) else None
            if isinstance(theme, str) and theme:
                config.theme = theme
    text = _read(keymap_path(), config.problems)
    if text is not None:
        import tomllib  # only with a keymap file: start-up time (issue 13)

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            config.problems.append(f"{keymap_path()}: {exc}; keymap ignored")
            data = {}
        for key, value in data.items():
            if key not in known_ids:
                config.problems.append(f"{keymap_path()}: no binding with id {key!r}; see "
                                       f"docs/TUI.md for the ids")
            elif not isinstance(value, str) or not value.strip():
                config.problems.append(f"{keymap_path()}: {key} needs keys as a string, such "
                                       f"as \"ctrl+e\"")
            else:
                config.keymap[key] = value.replace(" ", "")
    return config


def save_theme(theme: str) -> str | None:
    """Remember `theme` for the next start; a line saying why not, or None."""
    from rap_core.atomic import write_bytes_atomic
    from rap_core.errors import RapError

    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        current = {}
        text = _read(path, [])
        if text:
            try:
                loaded = json.loads(text)
                current = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                current = {}
        current["theme"] = theme
        write_bytes_atomic(path, (json.dumps(current, indent=2) + "\n").encode("utf-8"))
    except (OSError, RapError) as exc:
        return f"theme not saved: {getattr(exc, 'strerror', None) or exc}"
    return None
