"""Exporting from RAP Studio: the dialog's choice -> a snapshot -> questions -> a worker writes it.

A mixin of `RapStudioApp` (tui/app.py), like tui/fitting.py. The export dialog stays open until the
file is written. The questions (create a missing directory? replace a file?) are asked over it,
every refusal is shown in it with the typed path kept, and success closes it and shows what was
written and what to do next. The studio is snapshotted on the UI thread (`export_source`) and the
target checked as the write will check it (`check_target`) before any question is asked; the
worker builds from the snapshot, so edits made meanwhile cannot race the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from rap_core.errors import RapError
from tui.messages import ExportChoice, ExportRequested
from tui.paths import short_path

if TYPE_CHECKING:
    from tui.screens.modals import ExportScreen


class ExportFlow:
    """Export for RapStudioApp (expects `studio`, `state`, `export_path`)."""

    def action_export(self) -> None:
        if self.studio is None or self.state != "ready":
            self.notify("export opens when the fit has finished", severity="warning")
            return
        from tui.screens.modals import ExportScreen  # the dialogs' module loads when first used

        self.push_screen(ExportScreen(self.export_path, self.studio.layout,
                                      layouts=self.studio.layouts()))

    def on_export_requested(self, message: ExportRequested) -> None:
        """The dialog's choice: snapshot the studio (here, on the UI thread: it is immutable, so
        the worker that writes it cannot race an edit), check the target as the export will,
        ask before creating a directory or replacing a file, then write. Every refusal is shown
        in the dialog, which keeps what was typed."""
        from rap_core.export import check_target, export_source
        from tui.screens.modals import ConfirmScreen, ExportScreen

        dialog, choice = self.screen, message.choice
        if not isinstance(dialog, ExportScreen):
            return
        self.export_path = choice.text
        try:
            source = export_source(self.studio, choice.layout)
            check_target(source, choice.path)
        except RapError as exc:
            dialog.show_error(str(exc))
            return
        missing = _missing_directory(choice.path)

        def overwrite_answered(yes: bool | None) -> None:
            if yes:
                self._write(dialog, source, choice)
            else:
                dialog.show_error("not overwritten; give another file name, or escape")

        def create_answered(yes: bool | None) -> None:
            if not yes:
                dialog.show_error(f"{short_path(missing)} does not exist; give another place, "
                                  f"or answer yes to create it")
                return
            try:
                missing.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                dialog.show_error(f"cannot create {short_path(missing)}: "
                                  f"{exc.strerror or exc}; choose another place")
                return
            ask_or_write()

        def ask_or_write() -> None:
            if choice.path.exists():
                self.push_screen(ConfirmScreen(f"{short_path(choice.path)} exists. "
                                               f"Overwrite it?"), overwrite_answered)
            else:
                self._write(dialog, source, choice)

        if missing is not None:
            self.push_screen(ConfirmScreen(f"The directory {short_path(missing)} does not "
                                           f"exist. Create it?"), create_answered)
        else:
            ask_or_write()

    def _write(self, dialog: ExportScreen, source, choice: ExportChoice) -> None:
        dialog.show_progress("writing…")
        self._export(source, choice, dialog)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, source, choice: ExportChoice, dialog: ExportScreen) -> None:
        from rap_core.export import export_prior

        try:
            result = export_prior(source, choice.path, alpha_init=choice.alpha_init)
        except RapError as exc:
            self.call_from_thread(dialog.show_error, str(exc))
        except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
            message = " ".join(f"export failed: {type(exc).__name__}: {exc}".split())
            self.call_from_thread(dialog.show_error, message)
        else:
            self.call_from_thread(self._exported, dialog, result)

    def _exported(self, dialog: ExportScreen, result) -> None:
        if self.screen is dialog:
            dialog.dismiss(None)
        from tui.screens.modals import MessageScreen

        self.push_screen(MessageScreen("Exported", export_summary(result)))


def _missing_directory(path: Path) -> Path | None:
    """The directory that would have to be created for `path` (None when its parent exists)."""
    parent = path.parent if str(path.parent) else Path(".")
    return None if parent.exists() else parent


def export_summary(result) -> str:
    """What an export wrote, and what to do with it next (train, patch nanochat, inspect)."""
    path = str(Path(result.path).resolve())
    return (f"path    {path}\n"
            f"shape   {result.shape[0]} × {result.shape[1]} ({result.layout})\n"
            f"alpha   {result.alpha_init:g}\n"
            f"sha256  {result.bias_sha256}\n"
            f"\n"
            f"next:\n"
            f"  rap inspect {path}\n"
            f"  python dev/train_rap.py --prior {path}\n"
            f"  nanochat: python dev/patch_nanochat.py CHECKOUT, then in it\n"
            f"    NANOCHAT_RAP_PRIOR={path} torchrun -m scripts.base_train\n"
            f"  (docs/NANOCHAT.md)")
