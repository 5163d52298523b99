"""`rap-studio-serve` without the `serve` extra, and the command each browser tab runs."""

from __future__ import annotations

import shlex
import sys

from tui import serve


def test_without_textual_serve_it_is_one_line_and_status_2(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # import fails
    assert serve.main(["--port", "8123"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'rap-studio[serve]'" in err[0]


def test_each_tab_runs_this_pythons_rap_studio_with_the_app_arguments():
    command = serve.app_command(["data dir/x.csv", "--session", "s.json"])
    assert shlex.split(command) == [sys.executable, "-m", "tui", "data dir/x.csv",
                                    "--session", "s.json"]
