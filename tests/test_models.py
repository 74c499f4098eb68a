"""Model sources: table-driven loading from local files and table-driven error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from robaudit.errors import RobauditError
from robaudit.models import MODEL_SOURCES, load_model
from robaudit.references.backbones import ArchSpec
from robaudit.references.checkpoint import build_net, make_checkpoint

META = {"input_size": [3, 8, 8], "num_classes": 4, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
        "class_names": ["a", "b", "c", "d"], "name": "tiny"}


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def write_torchscript(tmp: Path) -> str:
    path = tmp / "tiny.pt"
    torch.jit.save(torch.jit.script(tiny_net()), str(path), _extra_files={"robaudit.json": json.dumps(META)})
    return f"file:{path}"


def write_checkpoint(tmp: Path) -> str:
    path = tmp / "ckpt.pt"
    meta = {**META, "arch": ArchSpec("small-cnn", num_classes=4, width=0.25).to_json(), "prefilter": []}
    torch.manual_seed(0)
    torch.save(make_checkpoint(build_net(meta), meta), path)
    return f"file:{path}"


def write_factory(tmp: Path) -> str:
    path = tmp / "factory.py"
    path.write_text(
        "import torch.nn as nn\n"
        "def make():\n"
        "    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())\n"
        f"    return {{'model': net, **{META!r}}}\n"
    )
    return f"py:{path}:make"


def write_torchvision_weights(tmp: Path) -> str:
    import torchvision

    path = tmp / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return str(path)


def write_timm_weights(tmp: Path) -> str:
    import timm

    path = tmp / "timm_resnet10t.pth"
    torch.save(timm.create_model("resnet10t", pretrained=False).state_dict(), path)
    return str(path)


@pytest.mark.parametrize(
    ("make_spec", "make_weights", "expected_size", "expected_classes"),
    [
        (write_torchscript, None, (3, 8, 8), 4),
        (write_checkpoint, None, (3, 8, 8), 4),
        (write_factory, None, (3, 8, 8), 4),
        (lambda tmp: "torchvision:resnet18", write_torchvision_weights, (3, 224, 224), 1000),
        (lambda tmp: "timm:resnet10t", write_timm_weights, (3, 224, 224), 1000),
    ],
    ids=["file-torchscript", "file-checkpoint", "py-factory", "torchvision-local", "timm-local"],
)
def test_sources_load_local_models_wrapped_the_same_way(tmp_path: Path, make_spec, make_weights,
                                                        expected_size, expected_classes) -> None:
    spec = make_spec(tmp_path)
    weights = make_weights(tmp_path) if make_weights else None
    model = load_model(spec, device="cpu", weights=weights)
    assert model.info.input_size == expected_size and model.info.num_classes == expected_classes
    assert not model.training and all(not p.requires_grad for p in model.parameters())
    assert len(model.info.weights_sha256) == 64 and model.info.parameters > 0
    x = torch.rand(2, *expected_size, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, expected_classes)
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradients reach the [0, 1] input


def test_normalisation_is_folded_inside_the_wrapper(tmp_path: Path) -> None:
    model = load_model(write_factory(tmp_path))
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(model(x), model.net((x - 0.5) / 0.25), atol=1e-6)


def test_robustbench_loads_a_checkpoint_from_model_dir(tmp_path: Path) -> None:
    from robaudit.robustbench_import import import_robustbench

    import_robustbench()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    name = "Sehwag2021Proxy_R18"
    net = model_dicts[BenchmarkDataset.cifar_10][ThreatModel.Linf][name]["model"]()
    folder = tmp_path / "cifar10" / "Linf"
    folder.mkdir(parents=True)
    torch.save({"state_dict": net.state_dict()}, folder / f"{name}.pt")
    model = load_model(f"robustbench:cifar10/Linf/{name}", model_dir=tmp_path)
    assert model.info.input_size == (3, 32, 32) and model.info.num_classes == 10
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_same_weights_same_hash_and_different_weights_differ(tmp_path: Path) -> None:
    spec = write_checkpoint(tmp_path)
    assert load_model(spec).info.weights_sha256 == load_model(spec).info.weights_sha256
    assert load_model(spec).info.weights_sha256 != load_model(write_torchscript(tmp_path)).info.weights_sha256


def not_a_checkpoint(tmp: Path) -> str:
    path = tmp / "bare.pt"
    torch.save(tiny_net().state_dict(), path)
    return f"file:{path}"


def garbage_file(tmp: Path) -> str:
    path = tmp / "garbage.pt"
    path.write_bytes(b"not a torch file")
    return f"file:{path}"


ERRORS = [
    (lambda tmp: "resnet18", "needs a source prefix"),
    (lambda tmp: "tochvision:resnet18", "Did you mean: torchvision"),
    (lambda tmp: "torchvision:resnet181", "Did you mean: resnet18"),
    (lambda tmp: "timm:resnt18", "unknown timm model"),
    (lambda tmp: "robustbench:Standrd", "Did you mean: Standard"),
    (lambda tmp: "robustbench:cifar10/Linfty/Standard", "unknown robustbench threat"),
    (lambda tmp: f"file:{tmp}/missing.pt", "does not exist"),
    (not_a_checkpoint, "not a robaudit checkpoint"),
    (garbage_file, "cannot read checkpoint"),
    (lambda tmp: f"py:{tmp}/missing.py:make", "does not exist"),
    (lambda tmp: "py:no_such_module_xyz:make", "cannot import"),
    (lambda tmp: "embedded:resnet", "only one is embedded:cnn"),
]


@pytest.mark.parametrize(("make_spec", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_bad_model_specs_give_one_clear_error(tmp_path: Path, make_spec, message: str) -> None:
    with pytest.raises(RobauditError, match=message) as info:
        load_model(make_spec(tmp_path))
    assert "\n" not in str(info.value)


def test_torchvision_missing_weights_file_and_bad_enum(tmp_path: Path) -> None:
    with pytest.raises(RobauditError, match="does not exist"):
        load_model("torchvision:resnet18", weights=tmp_path / "none.pth")
    with pytest.raises(RobauditError, match="IMAGENET1K_V1"):
        load_model("torchvision:resnet18", weights="IMAGENET9K")


def test_every_source_is_registered_with_a_description() -> None:
    assert set(MODEL_SOURCES.names()) >= {"torchvision", "timm", "robustbench", "file", "py", "embedded"}
    for name in MODEL_SOURCES.names():
        assert MODEL_SOURCES.get(name).description


@pytest.mark.network
def test_torchvision_downloads_default_weights() -> None:
    assert load_model("torchvision:resnet18").info.class_names is not None


def write_bare_factory(tmp: Path, body: str = "return Net()", sibling: str = "") -> str:
    """py: factory returning a bare nn.Module whose class lives in a module beside the file."""
    module = f"user_net_{abs(hash((str(tmp), body, sibling)))}"  # fresh name: Python caches imports
    (tmp / f"{module}.py").write_text(
        "import torch.nn as nn\n"
        f"{sibling}"
        "class Net(nn.Sequential):\n"
        "    def __init__(self):\n"
        "        super().__init__(nn.Conv2d(3, 5, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())\n"
    )
    (tmp / "factory_bare.py").write_text(f"from {module} import Net\ndef make():\n    {body}\n")
    return f"py:{tmp / 'factory_bare.py'}:make"


def test_py_bare_module_takes_its_sizes_from_the_dataset(tmp_path: Path) -> None:
    model = load_model(write_bare_factory(tmp_path))  # imports user_net.py from the file's folder
    assert model.info.extra["from_dataset"]
    model.fill_from_dataset((3, 8, 8), 5)
    assert model.info.input_size == (3, 8, 8) and model.info.num_classes == 5
    assert "from_dataset" not in model.info.extra
    with pytest.raises(RobauditError, match="10 classes"):
        bare = load_model(write_bare_factory(tmp_path))
        bare.fill_from_dataset((3, 8, 8), 10)


@pytest.mark.parametrize(
    ("body", "sibling", "message"),
    [("raise ValueError('no weights here')", "", "make\\(\\) raised ValueError: no weights here"),
     ("return Net()", "import no_such_package_xyz\n", "factory_bare.py raised ModuleNotFoundError")],
    ids=["factory-raises", "import-fails"],
)
def test_py_factory_errors_are_one_line_naming_file_and_exception(tmp_path: Path, body: str, sibling: str,
                                                                 message: str) -> None:
    with pytest.raises(RobauditError, match=message) as info:
        load_model(write_bare_factory(tmp_path, body, sibling))
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)
