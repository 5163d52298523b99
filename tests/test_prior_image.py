"""`rap inspect --png/--svg` and the image writer the TUI shares: a real image with the prior's
hash in its title, the same bytes for the same prior (SVG), and the output path checked like every
other writer's (never the input, a directory or a read-only file; one line, exit status 2)."""

from __future__ import annotations

import numpy as np
import pytest

from rap_core.cli import main
from rap_core.demo import demo_path
from rap_core.errors import RapError
from rap_core.prior_image import bias_digest, image_format, save_prior_image


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("prior") / "rap_prior.pt"
    assert main(["export", str(demo_path()), "--out", str(out)]) == 0
    return out


def test_inspect_saves_png_and_svg_titled_with_the_hash(artifact, tmp_path, capsys):
    from rap_nanochat.rap_prior import load_prior

    png, svg = tmp_path / "prior.png", tmp_path / "prior.svg"
    assert main(["inspect", str(artifact), "--png", str(png), "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {png}" in out and f"wrote {svg}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    prior = load_prior(artifact)
    assert prior["bias_sha256"][:16] in text and "80×80" in text
    assert bias_digest(prior["bias"].numpy()) == prior["bias_sha256"]  # the TUI's hash
    first = svg.read_bytes()
    assert main(["inspect", str(artifact), "--svg", str(svg)]) == 0
    assert svg.read_bytes() == first  # no date, fixed ids: the same prior, the same file


@pytest.mark.parametrize("where", ["input", "directory", "read-only"])
def test_a_bad_image_path_is_one_line_and_touches_nothing(artifact, tmp_path, capsys, where):
    before = artifact.read_bytes()
    if where == "input":
        target = artifact
    elif where == "directory":
        target = tmp_path
    else:
        target = tmp_path / "locked.png"
        target.write_bytes(b"old")
        target.chmod(0o444)  # refused by its mode bits, also for root
    assert main(["inspect", str(artifact), "--png", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert artifact.read_bytes() == before
    if where == "read-only":
        assert target.read_bytes() == b"old"


def test_the_format_comes_from_the_flag_or_the_suffix(tmp_path):
    assert image_format("a.PNG") == "png" and image_format("a.out", "svg") == "svg"
    with pytest.raises(RapError, match=r"\.png or \.svg"):
        image_format(tmp_path / "prior.jpg")
    bias = np.array([[0.0, 1.0], [-0.5, 0.0]], dtype=np.float32)
    path = save_prior_image(tmp_path / "two.svg", bias, ["a", "b"], layout="features",
                            bias_sha256=bias_digest(bias))
    assert "<svg" in path.read_text()
