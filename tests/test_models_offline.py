"""Model zoos without a network: timm's offline switch and unreachable hub, RobustBench's failed
downloads, its weights' locations, its name search, and which timm config a local file gets.

Truths come from the libraries themselves: timm's pretrained configs, RobustBench's model
registry (robustbench.model_zoo.model_dicts) and torchvision's weight URLs."""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import torch

from robaudit.cli import main
from robaudit.errors import RobauditError
from robaudit.models import load_model
from robaudit.models.robustbench_source import weights_only_loads
from robaudit.robustbench_import import import_robustbench


@pytest.fixture
def empty_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Empty Hugging Face and torch hub caches; every hub metadata request is recorded and fails."""
    import huggingface_hub.constants
    import huggingface_hub.file_download

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    contacted: list[str] = []

    def hub_request(url: str, *args: Any, **kwargs: Any) -> Any:
        contacted.append(url)
        raise requests.ConnectionError("the hub is unreachable")

    monkeypatch.setattr(huggingface_hub.file_download, "get_hf_file_metadata", hub_request)
    return contacted


def one_line_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_timm_honours_hf_hub_offline_at_once(empty_caches: list[str], monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # set after huggingface_hub was imported
    err = one_line_error(capsys, ["score", "-m", "timm:resnet18", "-q"])
    assert empty_caches == []  # the hub was never asked
    assert "HF_HUB_OFFLINE" in err and "--weights PATH" in err and "file:PATH" in err


def test_timm_with_an_unreachable_hub_fails_without_retrying(empty_caches: list[str], monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    err = one_line_error(capsys, ["score", "-m", "timm:resnet18", "-q"])
    assert empty_caches == []  # failed before huggingface_hub's retries
    assert "cannot reach huggingface.co" in err and "Name or service not known" in err
    assert "--weights PATH" in err


def failing_download(calls: list[Path]) -> Any:
    def download(gdrive_id: str, path: Path) -> None:
        calls.append(Path(path))
        raise requests.ConnectionError("no network")

    return download


def test_a_failed_robustbench_download_leaves_no_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import_robustbench()
    import robustbench.utils

    calls: list[Path] = []
    monkeypatch.setattr(robustbench.utils, "download_gdrive_new", failing_download(calls))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROBAUDIT_ROBUSTBENCH_DIR", raising=False)
    spec = "robustbench:cifar10/Linf/Carmon2019Unlabeled"
    with pytest.raises(RobauditError, match="could not download"):
        load_model(spec)  # default folder ./models
    assert calls == [Path("models/cifar10/Linf/Carmon2019Unlabeled.pt")]  # RobustBench's layout
    assert not (tmp_path / "models").exists()
    kept = tmp_path / "mine"
    kept.mkdir()
    with pytest.raises(RobauditError, match="could not download"):
        load_model(spec, model_dir=kept)
    assert kept.is_dir() and list(kept.iterdir()) == []  # the user's folder stays, robaudit's go


def test_a_robustbench_checkpoint_with_pickled_code_is_refused(tmp_path: Path) -> None:
    import_robustbench()
    folder = tmp_path / "cifar10" / "Linf"
    folder.mkdir(parents=True)
    torch.save({"state_dict": {}, "extra": requests.Session}, folder / "Standard.pt")  # a pickled class
    with pytest.raises(RobauditError, match="not a plain weights file"):
        load_model("robustbench:cifar10/Linf/Standard", model_dir=tmp_path)


def test_imagenet_standard_r50_advice_names_torchvisions_weights(empty_caches: list[str], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision
    import torchvision.models._api

    def offline(url: str, *args: Any, **kwargs: Any) -> Any:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(RobauditError) as info:
        load_model("robustbench:imagenet/Linf/Standard_R50", model_dir=tmp_path / "models")
    file = Path(torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url).name  # what resnet50(pretrained=True) reads
    assert f"{tmp_path / 'torch' / 'hub' / 'checkpoints'}" in str(info.value) and file in str(info.value)
    assert "Standard_R50.pt" not in str(info.value) and not (tmp_path / "models").exists()


def test_a_bare_robustbench_name_is_searched_in_every_dataset_and_threat(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import_robustbench()
    import robustbench.utils
    from robustbench.model_zoo import model_dicts

    from robaudit.models.robustbench_source import resolve_name, robustbench_zoo

    monkeypatch.setattr(robustbench.utils, "download_gdrive_new", failing_download([]))
    places: dict[str, list[str]] = {}
    for dataset, by_threat in model_dicts.items():
        for threat, models in by_threat.items():
            for name in models:
                places.setdefault(name, []).append(f"robustbench:{dataset.value}/{threat.value}/{name}")
    assert len(places["Standard"]) > 1
    with pytest.raises(RobauditError, match="choose one") as info:
        load_model("robustbench:Standard", model_dir=tmp_path)
    assert sorted(re.findall(r"robustbench:\w+/\w+/\w+", str(info.value))) == sorted(places["Standard"])
    elsewhere = next(n for n, specs in places.items() if len(specs) == 1 and "cifar10/Linf/" not in specs[0])
    assert f"robustbench:{'/'.join(resolve_name(elsewhere, robustbench_zoo()))}" == places[elsewhere][0]


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import timm

    path = tmp_path_factory.mktemp("timm") / "resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    return path


@pytest.mark.parametrize("name", ["resnet18.tv_in1k", "resnet18.a1_in1k", "resnet18"])
def test_timm_local_weights_get_the_config_of_their_tag_and_say_which(resnet18_weights: Path, name: str) -> None:
    import timm.models

    cfg = timm.models.get_pretrained_cfg(name)  # works offline; an untagged name gives the default tag
    info = load_model(f"timm:{name}", weights=resnet18_weights).info
    assert info.input_size == tuple(cfg.test_input_size or cfg.input_size)
    assert info.crop_pct == pytest.approx(cfg.test_crop_pct or cfg.crop_pct)
    assert info.interpolation == cfg.interpolation and info.mean == tuple(cfg.mean)
    assert info.extra["pretrained_cfg"] == f"resnet18.{cfg.tag}"
    if "." not in name:  # the tag of the weights is unknown: the report says whose config it used
        assert f"default tag resnet18.{cfg.tag}" in info.extra["pretrained_cfg_note"]
    else:
        assert "pretrained_cfg_note" not in info.extra


def test_listing_the_library_zoos_prints_no_library_warnings() -> None:
    """Importing timm and RobustBench prints deprecation notices about their own code (torch.jit,
    pkg_resources); the CLI hides exactly those, so a user's terminal shows no warning."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("PYTHONWARNINGS", None)
    for source in ("robustbench", "timm"):
        done = subprocess.run([sys.executable, "-m", "robaudit", "models", "resnet", "--source", source],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr


def test_scoring_a_torchscript_model_prints_no_library_warnings(tmp_path: Path) -> None:
    """torch deprecates its own TorchScript loader; the file: source still reads the user's
    TorchScript files, and the CLI hides exactly that notice."""
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 10)))
    meta = json.dumps({"input_size": [3, 32, 32], "num_classes": 10})
    torch.jit.save(net, str(tmp_path / "ts.pt"), _extra_files={"robaudit.json": meta})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run([sys.executable, "-m", "robaudit", "score", "-m", f"file:{tmp_path / 'ts.pt'}", "-d",
                           "embedded", "--probes", "hybrid", "--n-images", "20", "--hybrid-seeds", "1", "-q",
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr


def test_timm_offline_reads_weights_from_a_filled_hub_cache(empty_caches: list[str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache laid out as huggingface_hub lays it out (refs/main → snapshots/REV/FILE) is used
    with HF_HUB_OFFLINE=1, without asking the hub; the loaded weights are the file's."""
    import timm
    import timm.models
    from safetensors.torch import save_file

    cfg = timm.models.get_pretrained_cfg("resnet10t")
    repo = tmp_path / "hf" / f"models--{cfg.hf_hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    weights = timm.create_model("resnet10t", pretrained=False).state_dict()
    save_file({k: v.contiguous() for k, v in weights.items()}, repo / "snapshots" / ("0" * 40) / "model.safetensors")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_model("timm:resnet10t")
    assert empty_caches == []
    assert torch.equal(model.net.state_dict()["fc.weight"], weights["fc.weight"])
    assert model.info.extra["pretrained_cfg"] == f"resnet10t.{cfg.tag}"


def test_robustbench_load_model_reads_tensors_only(tmp_path: Path) -> None:
    """Inside the RobustBench load, torch.load refuses pickled code whatever its caller asks for
    (the truth: torch's own weights-only unpickler); outside, torch.load is torch's again."""
    path = tmp_path / "code.pt"
    torch.save({"extra": requests.Session}, path)
    with weights_only_loads(), pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location="cpu", weights_only=False)
    assert torch.load(path, map_location="cpu", weights_only=False)["extra"] is requests.Session
