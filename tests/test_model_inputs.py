"""What model loading does with inputs that do not fit the source: ``--weights`` for a source that
does not read it, a weights file without a suffix, an unknown timm tag, and bad mean/std metadata."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from robaudit.errors import RobauditError
from robaudit.models import MODEL_SOURCES, load_model
from tests.test_models import write_checkpoint, write_factory, write_torchscript


def test_only_torchvision_and_timm_read_weights() -> None:
    takers = {name for name in MODEL_SOURCES.names() if MODEL_SOURCES.get(name).takes_weights}
    assert takers == {"torchvision", "timm"}


@pytest.mark.parametrize("make_spec", [write_checkpoint, write_factory, write_torchscript,
                                       lambda tmp: "embedded:cnn", lambda tmp: "robustbench:Standard"],
                         ids=["file-checkpoint", "py", "file-torchscript", "embedded", "robustbench"])
def test_weights_for_a_source_that_ignores_them_is_refused(tmp_path: Path, make_spec) -> None:
    with pytest.raises(RobauditError, match=r"--weights is not used by \w+: models; only torchvision:, timm:") as info:
        load_model(make_spec(tmp_path), weights=tmp_path / "nosuch.pt")
    assert "\n" not in str(info.value)


def test_an_existing_weights_file_without_suffix_is_read_as_a_file(tmp_path: Path) -> None:
    import torchvision

    path = tmp_path / "fx" / "weightsfile"
    path.parent.mkdir()
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, path)
    model = load_model("torchvision:resnet18", weights=path)
    assert model.info.extra["weights"] == str(path)
    assert torch.equal(model.net.state_dict()["fc.weight"], state["fc.weight"])


@pytest.mark.parametrize(("spec", "message"), [
    ("timm:resnet18.badtag", "no pretrained tag 'badtag'. Valid tags: a1_in1k, .*tv_in1k"),
    ("timm:resnet18.a1_in1kk", "Did you mean: a1_in1k"),
])
@pytest.mark.parametrize("local", [False, True], ids=["pretrained", "local-weights"])
def test_unknown_timm_tag_lists_the_tags_without_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            spec: str, message: str, local: bool) -> None:
    from robaudit.models import hub

    def no_network(*args: object) -> None:
        raise AssertionError("the tag check must not reach the hub")

    monkeypatch.setattr(hub, "ensure_available", no_network)
    with pytest.raises(RobauditError, match=message) as info:
        load_model(spec, weights=tmp_path / "w.pth" if local else None)
    assert "\n" not in str(info.value)


def write_meta_factory(tmp: Path, **meta: object) -> str:
    """A py: factory of a 3-channel net whose metadata has ``meta`` added (as JSON literals)."""
    path = tmp / "meta_factory.py"
    path.write_text("import math\nimport torch.nn as nn\nNaN = math.nan\ntrue = True\ndef make():\n"
                    "    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))\n"
                    f"    return {{'model': net, 'input_size': [3, 8, 8], 'num_classes': 4, **{json.dumps(meta)}}}\n")
    return f"py:{path}:make"


@pytest.mark.parametrize(("meta", "message"), [
    ({"mean": "abc"}, "mean must be 3 numbers"),
    ({"mean": []}, "mean must be"),
    ({"mean": [0.5, 0.5]}, "mean must be 3 numbers"),
    ({"mean": ["a", "b", "c"]}, "mean must be"),
    ({"mean": [math.nan, 0.5, 0.5]}, "mean must be"),
    ({"mean": [True, 0.5, 0.5]}, "mean must be"),
    ({"std": [0.0, 1.0, 1.0]}, "std must be .* each > 0"),
    ({"std": -1}, "std must be .* each > 0"),
    ({"std": {"r": 1}}, "std must be"),
])
def test_bad_mean_or_std_is_one_line(tmp_path: Path, meta: dict[str, object], message: str) -> None:
    with pytest.raises(RobauditError, match=message) as info:
        load_model(write_meta_factory(tmp_path, **meta))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("meta", "mean", "std"), [
    ({"mean": 0.5, "std": 2}, (0.5,), (2.0,)),
    ({"mean": [0.1, 0.2, 0.3], "std": [1, 2, 3]}, (0.1, 0.2, 0.3), (1.0, 2.0, 3.0)),
    ({}, (0.0,), (1.0,)),
])
def test_good_mean_and_std_are_kept(tmp_path: Path, meta: dict[str, object], mean: tuple[float, ...],
                                    std: tuple[float, ...]) -> None:
    info = load_model(write_meta_factory(tmp_path, **meta)).info
    assert (info.mean, info.std) == (mean, std)
