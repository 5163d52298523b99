"""Our model package installs as `rap_nanochat` and never shadows karpathy/nanochat's `nanochat`.

A researcher has rap-studio installed and works in a nanochat checkout: the checkout's own
`import nanochat.common` and `python -m scripts.base_train` must find the checkout's package,
whatever sys.path order, and the modules the patcher copies into the checkout must import nothing
of ours by name (they resolve to their neighbours there).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _patcher_modules() -> tuple[str, ...]:
    path = ROOT / "dev" / "patch_nanochat.py"
    spec = importlib.util.spec_from_file_location("patch_nanochat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MODULES


VENDORED = _patcher_modules()  # what dev/patch_nanochat.py copies into a checkout
OURS = {"nanochat", "rap_nanochat", "rap_core", "tui"}


def _python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """A fresh interpreter as a user would start it: no PYTHONPATH, started in `cwd`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    argv = [sys.executable, *(args or ("-c", code))]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _fake_checkout(root: Path) -> Path:
    (root / "nanochat").mkdir(parents=True)
    (root / "nanochat" / "__init__.py").write_text("")
    (root / "nanochat" / "common.py").write_text("WHO = 'the checkout'\n")
    (root / "scripts").mkdir()
    (root / "scripts" / "__init__.py").write_text("")
    (root / "scripts" / "base_train.py").write_text(
        "import argparse\nimport nanochat.common\n"
        "argparse.ArgumentParser(description=nanochat.common.WHO).parse_args()\n")
    return root


def test_installed_package_is_rap_nanochat_and_no_top_level_nanochat(tmp_path):
    result = _python("import importlib.util, rap_nanochat.rap_prior as p; "
                     "print(p.__name__, importlib.util.find_spec('nanochat'))", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["rap_nanochat.rap_prior", "None"]


def test_a_checkouts_own_nanochat_wins_with_rap_studio_installed(tmp_path):
    checkout = _fake_checkout(tmp_path / "nanochat-checkout")
    result = _python("import nanochat.common, rap_nanochat.rap_attention as r; "
                     "print(nanochat.common.WHO, '|', r.__name__)", checkout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "the checkout | rap_nanochat.rap_attention"
    helped = _python("", checkout, "-m", "scripts.base_train", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "the checkout" in helped.stdout


@pytest.mark.skipif(not os.environ.get("NANOCHAT_CHECKOUT"),
                    reason="set NANOCHAT_CHECKOUT to a karpathy/nanochat checkout to run")
def test_the_real_checkouts_nanochat_common_imports_from_the_checkout():
    checkout = Path(os.environ["NANOCHAT_CHECKOUT"])
    result = _python("import nanochat.common as c; print(c.__file__)", checkout)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == (checkout / "nanochat" / "common.py").resolve()


@pytest.mark.parametrize("name", VENDORED)
def test_vendored_modules_import_nothing_of_ours_by_name(name):
    tree = ast.parse((ROOT / "nanochat" / name).read_text())
    absolute = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            absolute |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            absolute.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom):  # relative: a neighbour in the checkout
            assert f"{node.module}.py" in VENDORED or node.module == "flash_attention", \
                f"{name} imports .{node.module}, which the patcher does not copy"
    assert not absolute & OURS, f"{name} imports {sorted(absolute & OURS)} by name"


@pytest.mark.slow
def test_a_built_wheel_holds_rap_nanochat_and_no_nanochat(tmp_path):
    """What `pip install .` (non-editable) installs: the wheel's top-level names."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("rap_core", "tui", "nanochat"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"rap_core", "tui", "rap_nanochat"}
    assert "rap_nanochat/rap_prior.py" in names and "rap_nanochat/gpt.py" in names
    # The README's main command installs this wheel (not the checkout): `rap-studio` on the demo
    # needs its styles and the demo's data, parse and fit from the wheel alone.
    assert {"tui/app.tcss", "rap_core/data/demo.csv.gz", "rap_core/data/demo.npz",
            "rap_core/data/demo_fit.json"} <= set(names)


def _rename_script():
    path = ROOT / "dev" / "rename_nanochat_imports.py"
    spec = importlib.util.spec_from_file_location("rename_nanochat_imports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rename_script_renames_ours_and_keeps_the_real_nanochats():
    script = _rename_script()
    before = ("from nanochat.rap_prior import load_prior\n"
              "from nanochat import gpt\n"
              "child = ['-m', 'nanochat.evaluation']  # python -m nanochat.evaluation\n"
              "import nanochat.common  # the real one: not our module\n"
              "path = 'nanochat/gpt.py'; other = 'karpathy/nanochat.gpt'\n"
              "from nanochat.gpt import GPT  # real nanochat: inside a checkout\n")
    after = script.rename_text(before)
    assert after == ("from rap_nanochat.rap_prior import load_prior\n"
                     "from rap_nanochat import gpt\n"
                     "child = ['-m', 'rap_nanochat.evaluation']  "
                     "# python -m rap_nanochat.evaluation\n"
                     "import nanochat.common  # the real one: not our module\n"
                     "path = 'nanochat/gpt.py'; other = 'karpathy/nanochat.gpt'\n"
                     "from nanochat.gpt import GPT  # real nanochat: inside a checkout\n")
    assert script.rename_text(after) == after, "idempotent"


def test_no_file_still_imports_our_package_by_its_old_name():
    """After merging a branch written before the rename: run dev/rename_nanochat_imports.py."""
    assert _rename_script().main(["--check"]) == 0
