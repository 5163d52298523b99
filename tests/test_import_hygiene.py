"""The headless core stays headless: importing rap_core never pulls in Textual or torch.

Checked in a fresh interpreter (this test process has both loaded), the way harlequin enforces
its core/UI split. A regression here means slower start-up for the TUI and pipelines.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE_MODULES = [
    "rap_core", "rap_core.cli", "rap_core.dataset", "rap_core.ranges", "rap_core.fit",
    "rap_core.cache", "rap_core.fit_process", "rap_core.demo", "rap_core.rules",
    "rap_core.edits", "rap_core.session",
    "rap_core.metrics", "rap_core.statistic", "rap_core.layout", "rap_core.prior",
    "rap_core.studio", "rap_core.export", "rap_core.inspect",
    "rap_core.atomic", "rap_core.jsonfile", "rap_core.fit_schema", "rap_core.cli_parser",
    "rap_core.preflight", "rap_core.data_cache", "rap_core.threads",
    "rap_core.evaluate", "rap_core.eval_cli", "rap_core.eval_task", "rap_core.eval_priors",
    "rap_core.eval_report", "rap_core.stats", "rap_core.evaldata", "rap_core.guarded",
]


def _loaded_after_import(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_neither_textual_nor_torch(module):
    loaded = _loaded_after_import(f"import {module}")
    assert "textual" not in loaded, f"{module} imports textual: rap_core must stay headless"
    assert "torch" not in loaded, f"{module} imports torch at import time: import it inside export"


def test_nanochat_prior_format_needs_only_torch():
    loaded = _loaded_after_import("import rap_nanochat.rap_prior")
    assert "torch" in loaded
    assert not any(name == "rap_core" or name.startswith("rap_core.") for name in loaded)
    assert "textual" not in loaded
