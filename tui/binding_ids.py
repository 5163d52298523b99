"""Binding ids: the stable names a user's keymap (tui.user_config) remaps keys by.

Textual's `App.set_keymap({"export": "ctrl+e"})` rebinds every binding whose id is "export".
The ids name what a key does, not the key, so they survive a change of default keys; a test
checks that every binding in tui/actions.py has one and that no two differ only by case.
Actions bound twice (a letter, and a function key that works inside an input) share an id, so
one keymap line remaps the pair.
"""

from __future__ import annotations

ACTION_IDS: dict[str, str] = {
    "cancel_fit": "cancel_fit",
    "refit": "refit",
    "help": "help",
    "export": "export",
    "undo": "undo",
    "redo": "redo",
    "show_tab('ranges')": "tab.ranges",
    "show_tab('rules')": "tab.rules",
    "show_tab('prior')": "tab.prior",
    "show_tab('evaluate')": "tab.evaluate",
    "focus_filter": "filter",
    "toggle_layout": "layout",
    "save_prior_image": "save_image",
    "history": "history",
    "replay": "replay",
    "quit": "quit",
    "nudge(0.1)": "rules.raise",
    "nudge(-0.1)": "rules.lower",
    "nudge(1.0)": "rules.raise_more",
    "nudge(-1.0)": "rules.lower_more",
    "type_weight": "rules.weight",
    "toggle_vote": "rules.on_off",
    "flip_sign": "rules.flip",
    "edit_k": "rules.k",
    "edit_m": "rules.m",
    "step_m(1)": "rules.m_up",
    "step_m(-1)": "rules.m_down",
    "sort_next": "ranges.sort",
    "sort_reverse": "ranges.reverse",
}

# Bindings declared on widgets (tui/widgets/heatmap.py, evaluate_pane.py) rather than in the table.
WIDGET_IDS: tuple[str, ...] = (
    "prior.up", "prior.down", "prior.left", "prior.right", "prior.page_up", "prior.page_down",
    "prior.zoom_in", "prior.zoom_out", "prior.fit", "evaluate.run", "evaluate.cancel",
)


def action_id(name: str) -> str | None:
    """The binding id of an action in tui/actions.py (None: not remappable)."""
    return ACTION_IDS.get(name)


def binding_ids() -> set[str]:
    return set(ACTION_IDS.values()) | set(WIDGET_IDS)
