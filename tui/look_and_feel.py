"""Look and feel of RAP Studio: the user's theme and keymap, and the prior saved as an image.

A mixin of `RapStudioApp` (tui/app.py), kept out of the app module so the app stays about
loading, editing and saving:

- At start the theme chosen last time (`settings.json`) and the user's keymap (`keymap.toml`,
  binding ids in tui/binding_ids.py) are applied; every later theme change is saved. A broken or
  unknown setting is one toast, never a crash (tui/user_config.py).
- `i` (or "Save prior image" in the palette) draws the prior with `rap_core.prior_image` — the
  same picture as `rap inspect --png` — and writes it next to the session file, in a worker
  thread (matplotlib takes about a second). The path is absolute in the toast.
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from rap_core.errors import RapError


class LookAndFeel:
    """Theme persistence, keymap and the image command for RapStudioApp."""

    _saved_theme: str | None = None

    def on_mount(self) -> None:
        from tui.binding_ids import binding_ids
        from tui.user_config import load_user_config

        config = load_user_config(binding_ids())
        problems = list(config.problems)
        if config.theme is not None:
            if config.theme in self.available_themes:
                self.theme = config.theme
                self._saved_theme = config.theme
            else:
                problems.append(f"theme {config.theme!r} is not available; using "
                                f"{self.theme!r} (choose one with ctrl+p → Theme)")
        if config.keymap:
            self.set_keymap(config.keymap)
        for line in problems:
            self.notify(line, title="settings", severity="warning", timeout=10)
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    def _remember_theme(self, theme) -> None:
        from tui.user_config import save_theme

        name = getattr(theme, "name", None) or self.theme
        if name == self._saved_theme:
            return
        self._saved_theme = name
        problem = save_theme(name)
        if problem is not None:
            self.notify(problem, title="settings", severity="warning")

    # -- the prior as an image ----------------------------------------------------------------
    def image_path(self) -> Path:
        """Next to the session file (`<session>-prior.png`), else in the working directory."""
        studio = self.studio
        session = studio.session_path if studio is not None else None
        if session is None and self.session_access is not None:
            session = getattr(self.session_access, "source", None)
        if session is None:
            return Path.cwd() / "rap_prior.png"
        session = Path(session)
        return session.with_name(f"{session.stem}-prior.png")

    def action_save_prior_image(self) -> None:
        if self.studio is None or self.state != "ready":
            self.notify("the image can be saved when the fit has finished", severity="warning")
            return
        studio = self.studio
        inputs = [self.data_path, studio.session_path]
        self._save_image(self.image_path(), studio.bias(), studio.labels(), studio.layout,
                         inputs)

    @work(thread=True, exclusive=True, group="image")
    def _save_image(self, path: Path, bias, labels, layout: str, inputs) -> None:
        from rap_core.prior_image import bias_digest, save_prior_image

        try:
            written = save_prior_image(path, bias, labels, layout=layout,
                                       bias_sha256=bias_digest(bias), fmt="png", inputs=inputs)
        except RapError as exc:
            self.call_from_thread(self.notify, str(exc), title="image", severity="error",
                                  timeout=10)
            return
        except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
            self.call_from_thread(self.notify, f"image not saved: {type(exc).__name__}: {exc}",
                                  title="image", severity="error", timeout=10)
            return
        self.call_from_thread(self.notify, f"saved the prior image to {written.resolve()}",
                              title="image", timeout=10)
