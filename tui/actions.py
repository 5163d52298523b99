"""One table of named actions: it feeds the key bindings, the command palette, the footer and help.

Why a table (after harlequin's `actions.py`): a key, its help line and its palette entry can never
drift apart, and the help screen lists exactly what is bound.

Key choices (documented in docs/TUI.md):
- `+`/`-` change a weight by 0.1 and `]`/`[` by 1: `+` is already shift+= on most layouts and
  terminals do not report shift with `=`, so the coarse step gets its own unshifted keys. `=` is
  bound with `+` so the fine step works without shift.
- App-wide keys that must work while an Input has focus are `priority` bindings and use ctrl or
  function keys (ctrl+z, ctrl+y, ctrl+q, f1, f2); the single-letter keys (`?`, `e`) work everywhere
  else, and `escape` leaves an Input.
- No binding needs Home/End (tmux drops them over SSH).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    name: str  # textual action string (method action_<name> on the app)
    keys: str  # comma-separated keys
    title: str  # short label (footer, palette)
    help: str  # one line for help and the palette
    footer: bool = False
    priority: bool = False
    scope: str = "app"  # "app" bindings live on the App; "rules"/"prior"/"ranges" on widgets


ACTIONS: tuple[Action, ...] = (
    # Shown in the footer only while a fit runs / after one stopped (RapStudioApp.check_action),
    # and first, so that 80 columns still show them.
    Action("cancel_fit", "escape", "Cancel fit", "Cancel the running fit", footer=True),
    Action("refit", "ctrl+r", "Refit…", "Fit again after a cancel or failure, with new options",
           footer=True),
    Action("help", "question_mark", "Help", "List every key", footer=True),
    Action("help", "f1", "Help", "List every key (works inside an input)", priority=True),
    Action("export", "e", "Export", "Export the prior to a .pt artifact", footer=True),
    Action("export", "f2", "Export", "Export (works inside an input)", priority=True),
    Action("undo", "ctrl+z", "Undo", "Undo the last edit", footer=True, priority=True),
    Action("redo", "ctrl+y", "Redo", "Redo the last undone edit", priority=True),
    Action("show_tab('ranges')", "1", "Ranges", "Show the critical ranges"),
    Action("show_tab('rules')", "2", "Rules", "Show the rule and its votes"),
    Action("show_tab('prior')", "3", "Prior", "Show the prior heatmap"),
    Action("show_tab('evaluate')", "4", "Evaluate",
           "Does the prior help? Quick paired training run (r runs, c cancels)"),
    Action("focus_filter", "slash", "Filter", "Filter features by name (opens Ranges)"),
    Action("toggle_layout", "l", "Layout", "Switch the prior layout: features / lags",
           footer=True),
    Action("history", "h", "History",
           "Every edit with its time and metrics: jump to any point, add a note"),
    Action("replay", "ctrl+o", "Replay…",
           "Apply the edits of another session file (same feature names) as new edits"),
    Action("save_prior_image", "i", "Save prior image",
           "Save the prior as a PNG image next to the session file"),
    Action("quit", "ctrl+q", "Quit", "Save the session and quit", footer=True, priority=True),
)

RULE_ACTIONS: tuple[Action, ...] = (
    Action("nudge(0.1)", "plus,equals_sign", "+0.1", "Raise the vote's weight by 0.1",
           footer=True, scope="rules"),
    Action("nudge(-0.1)", "minus", "-0.1", "Lower the vote's weight by 0.1", scope="rules"),
    Action("nudge(1.0)", "right_square_bracket", "+1", "Raise the vote's weight by 1",
           scope="rules"),
    Action("nudge(-1.0)", "left_square_bracket", "-1", "Lower the vote's weight by 1",
           scope="rules"),
    Action("type_weight", "enter", "Weight…", "Type an exact weight", footer=True,
           scope="rules"),
    Action("toggle_vote", "space", "On/off", "Turn the vote on or off", footer=True,
           scope="rules"),
    Action("flip_sign", "f", "Flip", "Flip the vote's sign (inside / outside)", scope="rules"),
    Action("edit_k", "k", "K…", "Type the rule's logit scale K", scope="rules"),
    Action("edit_m", "m", "m…", "Type the m-of-k threshold m", scope="rules"),
    Action("step_m(1)", "greater_than_sign", "m+1", "Raise the threshold m by 1", scope="rules"),
    Action("step_m(-1)", "less_than_sign", "m-1", "Lower the threshold m by 1", scope="rules"),
)

RANGE_ACTIONS: tuple[Action, ...] = (
    Action("sort_next", "s", "Sort", "Sort by the next column", footer=True, scope="ranges"),
    Action("sort_reverse", "r", "Reverse", "Reverse the sort order", scope="ranges"),
)

PRIOR_KEYS: tuple[tuple[str, str], ...] = (
    ("arrows / pgup pgdn", "move the heatmap cursor"),
    ("z / o / 0", "zoom in / zoom out / fit the whole prior (the cursor stays)"),
)


def bindings(actions: tuple[Action, ...], *, prefix: str = "") -> list[Binding]:
    """Textual bindings for `actions` (prefix "app." routes a widget key to the app); each
    carries its id (tui.binding_ids), so a keymap file can remap it."""
    from tui.binding_ids import action_id

    return [Binding(a.keys, prefix + a.name, a.title, show=a.footer, priority=a.priority,
                    id=action_id(a.name)) for a in actions]


def display_key(keys: str) -> str:
    names = {"question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-",
             "right_square_bracket": "]", "left_square_bracket": "[", "slash": "/",
             "greater_than_sign": ">", "less_than_sign": "<"}
    return " / ".join(names.get(k, k) for k in keys.split(","))


def help_rows(keymap: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(where, keys, what) for the help screen: every bound key, as remapped by `keymap`
    (binding id -> keys, from the user's keymap file)."""
    from tui.binding_ids import action_id

    keymap = keymap or {}

    def keys(a: Action) -> str:
        return display_key(keymap.get(action_id(a.name) or "", a.keys))

    rows = [("anywhere", keys(a), a.help) for a in ACTIONS]
    rows += [("rules table", keys(a), a.help) for a in RULE_ACTIONS]
    rows += [("ranges table", keys(a), a.help) for a in RANGE_ACTIONS]
    rows += [("prior heatmap", keys, what) for keys, what in PRIOR_KEYS]
    rows += [("anywhere", "ctrl+p", "Command palette (every action)"),
             ("anywhere", "tab / shift+tab", "Move focus")]
    return rows
