"""Modal screens: type a value, confirm, export, fit options, a result, help, the error screen.

Each modal returns its answer through `dismiss` (a callback on the app applies it), so the modals
know nothing about Studio. `escape` always cancels; every modal works without a mouse.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Select, Static

from rap_nanochat.artifact_spec import DEFAULT_ALPHA_INIT, LAYOUTS
from tui.actions import help_rows
from tui.messages import ExportChoice, ExportRequested


def steady_inputs(screen) -> None:
    """No blinking cursor in deterministic (test) mode, so snapshots are stable."""
    if getattr(screen.app, "deterministic", False):
        for field in screen.query(Input):
            field.cursor_blink = False


class TextScreen(ModalScreen):
    """One line to type: a note, a file path, or a number (`ValueScreen`). `enter` accepts,
    `escape` cancels (returns None).

    `check(text)` returns what the dialog returns, or raises RapError: its message shows under the
    field, in plain words, and the dialog stays open with what was typed. Without `check` the
    dialog returns the text."""

    AUTO_FOCUS = "*"  # the app's "#votes" is not on this screen
    FIELD = "text"  # the Input's id; the error line is f"{FIELD}-error"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, current: str = "", check=None, *,
                 select_on_focus: bool = False) -> None:
        super().__init__()
        self.prompt, self.current, self.check = prompt, current, check
        self.select_on_focus = select_on_focus

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.prompt))
            yield Input(value=self.current, id=self.FIELD, select_on_focus=self.select_on_focus)
            yield Label("", id=f"{self.FIELD}-error", classes="error")

    def on_mount(self) -> None:
        steady_inputs(self)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from rap_core.errors import RapError

        try:
            answer = event.value if self.check is None else self.check(event.value)
        except RapError as exc:
            self.query_one(f"#{self.FIELD}-error", Label).update(Text(str(exc)))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ValueScreen(TextScreen):
    """One number: a vote weight, K or m, shown with its current value (selected, so typing
    replaces it). `check` (rap_core.edits.parse_value) returns (value, a note when it was clamped);
    every invalid value (empty, not a number, nan, inf, out of range) keeps the dialog open."""

    FIELD = "value"

    def __init__(self, prompt: str, current: float, check) -> None:
        super().__init__(f"New {prompt} (now {current:g}):", f"{current:g}", check,
                         select_on_focus=True)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; `y` / `n` answer it."""

    AUTO_FOCUS = "#no"  # enter on the default answer must not overwrite anything

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # Static wraps (a Label cut "…Quit anyway?" off at 80 columns); Text: the question
            # quotes paths and error lines verbatim.
            yield Static(Text(self.question), id="question")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class FormScreen(ModalScreen):
    """A dialog of fields with a "go" button: enter in any field or "go" submits, escape or any
    other button cancels (dismisses with None). Subclasses say what submitting means."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def _submit(self) -> None:
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "go":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportScreen(FormScreen):
    """Path, layout and alpha_init for the artifact.

    Submitting posts `ExportRequested` and keeps the dialog open: the app asks about a missing
    directory or an existing file, writes in a worker, and then closes the dialog, or shows
    why it could not write (`show_error`) with everything typed still there to correct."""

    AUTO_FOCUS = "*"  # the app's "#votes" is not on this screen


    LAYOUT_NAMES = {"features": "features (position = feature)", "lags": "lags (position = lag)"}

    def __init__(self, path: str, layout: str, alpha_init: float = DEFAULT_ALPHA_INIT,
                 layouts: tuple[str, ...] = LAYOUTS) -> None:
        super().__init__()
        self.default_path, self.default_layout, self.alpha_init = path, layout, alpha_init
        self.layouts = layouts  # only those the data supports (no lag numbers: no "lags")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-dialog"):
            yield Label("Export the prior", classes="title")
            yield Label("File:")
            yield Input(value=self.default_path, id="export-path")
            yield Label("Layout:")
            yield Select([(self.LAYOUT_NAMES[name], name) for name in self.layouts],
                         value=self.default_layout, allow_blank=False, id="export-layout")
            yield Label("alpha_init (initial gate):")
            yield Input(value=f"{self.alpha_init:g}", id="export-alpha")
            yield Label("", id="export-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Export (enter)", id="go", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        steady_inputs(self)

    def _submit(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        alpha_text = self.query_one("#export-alpha", Input).value.strip()
        error = self.query_one("#export-error", Label)
        if not path:
            error.update("give a file path, e.g. rap_prior.pt")
            return
        try:
            alpha = float(alpha_text)
        except ValueError:
            error.update(Text(f"alpha_init must be a number, got {alpha_text!r}"))
            return
        layout = self.query_one("#export-layout", Select).value
        if self.busy:
            return
        error.update("")
        self.post_message(ExportRequested(ExportChoice(Path(path).expanduser(), path,
                                                       str(layout), alpha)))

    busy = False  # an export from this dialog is being written

    def show_error(self, message: str) -> None:
        """The app could not export: say why under the fields; the dialog stays open."""
        self.busy = False
        self.query_one("#export-error", Label).update(Text(message))
        self.query_one("#export-path", Input).focus()

    def show_progress(self, message: str) -> None:
        self.busy = True
        self.query_one("#export-error", Label).update(Text(message, style="dim"))

class FitOptionsScreen(FormScreen):
    """The fit options a refit may change: solver, Cs, cv, K and backend.

    Returns a validated `FitParams` (the other parameters kept from `params`), or None when
    cancelled; a bad value is reported under the form and the dialog stays open."""

    AUTO_FOCUS = "#fit-solver"


    def __init__(self, params) -> None:
        super().__init__()
        self.params = params

    def compose(self) -> ComposeResult:
        from rap_core.fit import BACKENDS, SOLVERS

        p = self.params
        with Vertical(classes="dialog", id="fit-dialog"):
            yield Label("Fit options (cutlass)", classes="title")
            yield Label("Solver (fista: fast; cd: cutlass's reference):")
            yield Select([(name, name) for name in SOLVERS], value=p.solver,
                         allow_blank=False, id="fit-solver")
            yield Label("Cs (C values tried), cv (folds), K (vote size):")
            with Horizontal(classes="fields"):
                yield Input(value=str(p.Cs), id="fit-Cs")
                yield Input(value=str(p.cv), id="fit-cv")
                yield Input(value=f"{p.K:g}", id="fit-K")
            yield Label(Text("Backend (cuda needs rap-studio[cuda12] and a GPU):"))
            yield Select([(name, name) for name in BACKENDS], value=p.backend,
                         allow_blank=False, id="fit-backend")
            yield Label("", id="fit-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Fit (enter)", id="go", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        steady_inputs(self)

    def _submit(self) -> None:
        from rap_core.errors import RapError
        from rap_core.fit import FitParams

        error = self.query_one("#fit-error", Label)
        values = {}
        for name, kind in (("Cs", int), ("cv", int), ("K", float)):
            text = self.query_one(f"#fit-{name}", Input).value.strip()
            try:
                values[name] = kind(text)
            except ValueError:
                error.update(Text(f"{name} must be a {'whole ' if kind is int else ''}number, "
                                  f"got {text!r}"))
                return
        values["solver"] = str(self.query_one("#fit-solver", Select).value)
        values["backend"] = str(self.query_one("#fit-backend", Select).value)
        try:
            params = FitParams(**{**self.params.to_dict(), **values}).validate()
        except RapError as exc:
            error.update(Text(str(exc)))
            return
        self.dismiss(params)

class MessageScreen(ModalScreen[None]):
    """A result to read (the export's path, shape and hash); any of enter/escape closes it."""

    AUTO_FOCUS = "*"  # the app's "#votes" is not on this screen

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield Static(Text(self.body), id="message-body")
            yield Label("enter: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key, from the same table that builds the bindings."""

    AUTO_FOCUS = "*"  # the app's "#votes" is not on this screen

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        table.add_column("where")
        table.add_column("keys", style="bold cyan")
        table.add_column("what")
        for where, keys, what in help_rows(getattr(self.app, "_keymap", None)):
            table.add_row(where, keys, what)
        with Vertical(classes="dialog", id="help-dialog"):
            yield Label("RAP Studio — keys (escape closes)", classes="title")
            with VerticalScroll(id="help-scroll"):
                yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)


class ErrorScreen(Screen):
    """Bad data or a failed load: the one-line message and what to do; never a traceback."""

    AUTO_FOCUS = "*"  # the app's "#votes" is not on this screen

    BINDINGS = [Binding("q,escape", "app.quit", "Quit")]

    def __init__(self, message: str, hint: str) -> None:
        super().__init__()
        self.message, self.hint = message, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="error-dialog"):
            yield Label("RAP Studio could not open the data", classes="title")
            yield Static(Text(self.message, style="bold red"), id="error-message")
            yield Static(Text(self.hint), id="error-hint")
            yield Label("q or ctrl+q: quit", classes="hint")
