"""Reference kinds, table-driven: a new kind is one registered class plus one row here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robaudit.references.kinds import REFERENCE_KINDS, make_recipe
from robaudit.references.setup import TrainSpec, prepare
from tests.test_references_train import TINY, tiny_set


def _files(tmp: Path) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    np.save(tmp / "x.npy", rng.random((6, 16, 16)).astype(np.float32))
    np.save(tmp / "r.npy", rng.poisson(2.0, size=(6, 5)).astype(np.float32))
    return {"reg_images": tmp / "x.npy", "responses": tmp / "r.npy"}


# kind, inputs it needs, pre-filter layer types, regularizer head taps, α (default, paper), paper grey
KINDS = [
    ("baseline", False, [], None, (0.0, 0.0), False),
    ("blur", False, ["blur"], None, (0.0, 0.0), False),
    ("pca", False, ["pca"], None, (0.0, 0.0), False),
    ("neural", True, [], ["block1", "block2", "block3"], (10.0, 20.0), True),
    ("pixel", False, [], ["block1", "block2", "block3"], (10.0, 10.0), False),
    ("response", True, [], ["pool"], (1.0, 1.0), False),
]


def test_every_registered_kind_has_a_row() -> None:
    assert sorted(REFERENCE_KINDS.names()) == sorted(row[0] for row in KINDS)


@pytest.mark.parametrize(("kind", "needs_files", "prefilter", "taps", "alpha", "paper_grey"), KINDS,
                         ids=[row[0] for row in KINDS])
def test_kind_builds_its_prefilter_regularizer_and_defaults(tmp_path: Path, kind: str, needs_files: bool,
                                                            prefilter: list[str], taps: list[str] | None,
                                                            alpha: tuple[float, float], paper_grey: bool) -> None:
    inputs = _files(tmp_path) if needs_files else {}
    spec = TrainSpec(kind=kind, arch="small-cnn", out=tmp_path / "m.pt", device="cpu", overrides=dict(TINY),
                     recipe="default", quiet=True, **inputs)
    prep = prepare(spec, tiny_set(), None)
    assert [layer["type"] for layer in prep.prefilter] == prefilter
    assert [name for name, _ in prep.net.pre.named_children()] == prefilter
    assert (prep.regularizer.layers if prep.regularizer else None) == taps
    assert make_recipe("default", kind, "resnet18", 32).alpha == alpha[0]
    paper = make_recipe("paper", kind, "resnet18", 32)
    assert paper.alpha == alpha[1] and paper.grey is paper_grey
    if needs_files:  # without its input files the kind refuses before training
        from robaudit.errors import RobauditError

        with pytest.raises(RobauditError, match=kind):
            prepare(TrainSpec(kind=kind, arch="small-cnn", overrides=dict(TINY)), tiny_set(), None)


def test_auto_recipe_follows_the_data_and_device() -> None:
    from robaudit.references.recipes import resolve_recipe_name
    from robaudit.references.setup import resolve_arch

    assert resolve_recipe_name("auto", "embedded", "cuda") == "small"
    assert resolve_recipe_name("auto", "cifar10", "cpu") == "small"
    assert resolve_recipe_name("auto", "cifar10", "cuda") == "default"
    assert resolve_recipe_name("paper", "embedded", "cpu") == "paper"
    assert resolve_arch("auto", "small") == "small-cnn" and resolve_arch("auto", "paper") == "resnet18"
    small = make_recipe("small", "blur", "small-cnn", 32)
    assert small.rotate and small.jitter > 0 and small.contrast > 0 and small.epochs <= 20


def test_unknown_set_key_names_the_valid_keys() -> None:
    from robaudit.commands.train_reference import recipe_overrides
    from robaudit.errors import RobauditError

    with pytest.raises(RobauditError, match=r"no setting 'foo'.*Valid: .*epochs.*sigma"):
        recipe_overrides({}, ["foo=1"])
