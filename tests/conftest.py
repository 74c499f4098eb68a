"""Shared fixtures. Tests marked network/gpu/slow are skipped unless asked for:
ROBAUDIT_NETWORK=1, a CUDA device, ROBAUDIT_SLOW=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from robaudit.data.base import DatasetInfo, TensorImageSet
from robaudit.models.wrapper import AuditedModel, ModelInfo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {
        "network": (os.environ.get("ROBAUDIT_NETWORK") != "1", "needs network: set ROBAUDIT_NETWORK=1"),
        "gpu": (not torch.cuda.is_available(), "needs a CUDA device"),
        "slow": (os.environ.get("ROBAUDIT_SLOW") != "1", "slow: set ROBAUDIT_SLOW=1"),
    }
    for item in items:
        for mark, (skip, why) in skips.items():
            if skip and mark in item.keywords:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session", autouse=True)
def robaudit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep models robaudit trains (the embedded CNN) in a per-session folder."""
    home = tmp_path_factory.mktemp("robaudit_home")
    os.environ["ROBAUDIT_HOME"] = str(home)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return home


@pytest.fixture(params=["newton", "exact"])
def lambda_solver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both λ solvers of the Brendel–Bethge subproblem on the CPU ("exact": the GPU's code path,
    exact λ roots and solved rows kept in the L∞ radius search)."""
    if request.param == "exact":
        from robaudit.attacks import bb_subproblem

        monkeypatch.setattr(bb_subproblem, "EXACT_ROOT_DEVICES", frozenset({"cpu", "cuda"}))
        monkeypatch.setattr(bb_subproblem, "KEEP_SOLVED_DEVICES", frozenset({"cpu", "cuda"}))
    return str(request.param)


def make_imageset(images: torch.Tensor, labels: torch.Tensor, name: str = "synthetic") -> TensorImageSet:
    """A TensorImageSet from uint8 (N, C, H, W) images (synthetic test data)."""
    info = DatasetInfo(spec=name, name=name, split="test", num_images=0,
                       num_classes=int(labels.max()) + 1, image_size=tuple(images.shape[1:]))  # type: ignore[arg-type]
    return TensorImageSet(images, labels, info)


def wrap(net: nn.Module, input_size: tuple[int, int, int], num_classes: int) -> AuditedModel:
    info = ModelInfo(spec="test:net", source="test", name="net", input_size=input_size,
                     num_classes=num_classes, mean=(0.0,), std=(1.0,))
    return AuditedModel(net, info)


TINY_FACTORY = """
import torch
from torch import nn

def make(num_classes=10):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                        nn.Linear(128, num_classes))
    return {"model": net, "input_size": [3, 32, 32], "num_classes": num_classes}
"""


@pytest.fixture
def tiny_model(tmp_path: Path) -> str:
    """A `py:` spec of a small random CNN for 32×32 RGB, 10 classes."""
    path = tmp_path / "tiny_factory.py"
    path.write_text(TINY_FACTORY)
    return f"py:{path}:make"


@pytest.fixture
def tiny_npz(tmp_path: Path) -> str:
    """An `npz:` spec of 200 seeded 32×32 RGB uint8 images in 10 classes (NHWC, the npz format)."""
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8), y=np.arange(200) % 10)
    return f"npz:{path}"


def write_small_cnn(path: Path, seed: int, width: float = 0.25, num_classes: int = 10, nan: bool = False,
                    **meta: object) -> Path:
    """A robaudit checkpoint of the small CNN with seeded random weights (NaN head bias if ``nan``)."""
    from robaudit.references.backbones import ArchSpec
    from robaudit.references.checkpoint import build_net, make_checkpoint, save_torch

    info = {"input_size": [3, 32, 32], "num_classes": num_classes, "mean": [0.5] * 3, "std": [0.25] * 3,
            "class_names": [f"class{i}" for i in range(num_classes)],
            "name": path.stem, **meta,
            "arch": ArchSpec("small-cnn", num_classes=num_classes, width=width).to_json(), "prefilter": []}
    torch.manual_seed(seed)
    net = build_net(info)
    if nan:
        with torch.no_grad():
            net.backbone.fc.bias.fill_(float("nan"))  # type: ignore[union-attr, operator]
    save_torch(make_checkpoint(net, info), path)
    return path


def assert_same_metrics(a: object, b: object, where: str = "probes") -> None:
    """Equal report sections: exact for counts, flags and text; floats to 1e-6 relative, since a
    different CPU thread count (e.g. worker processes) changes float summation order only."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            assert_same_metrics(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_metrics(x, y, f"{where}.{i}")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
