"""Inputs checked for what they mean, not just their form: data identity by content, corruption
sets and baseline reports against this run's data, the model's input size (--resize)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from robaudit.cli import main
from tests.bad_inputs import CHEAP, good_npz
from tests.conftest import TINY_FACTORY

CORRUPT_ONLY = ["--probes", "corruptions", "--n-images", "5", "--set", "corruptions.corruptions=[contrast]",
                "--set", "corruptions.severities=[1]", "--set", "corruptions.noise_sweep=[0.0]", "-q"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A tiny model and two npz sets with the same shapes and labels but other pixels."""
    root = tmp_path_factory.mktemp("meaning")
    (root / "f.py").write_text(TINY_FACTORY)
    specs = {"model": f"py:{root / 'f.py'}:make"}
    for name, seed in (("a", 0), ("b", 1)):
        arrays = good_npz(40, x=np.random.default_rng(seed).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8))
        np.savez(root / f"{name}.npz", **arrays)  # type: ignore[arg-type]
        specs[name] = f"npz:{root / name}.npz"
    return specs


def run(*args: object) -> int:
    return main([str(a) for a in args])


def write_bmp_folder(root: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for c in range(10):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / f"c{c}" / f"{i}.bmp")


def test_folder_images_rewritten_at_the_same_size_miss_the_cache(tmp_path: Path, files: dict[str, str]) -> None:
    images, out = tmp_path / "imgs", tmp_path / "card"
    write_bmp_folder(images, seed=0)
    args = ["score", "-m", files["model"], "-d", f"folder:{images}", "-o", out, *CHEAP]
    assert run(*args) == 0
    first = json.loads((out / "report.json").read_text())
    assert run(*args) == 0  # the control: nothing changed, everything from the cache
    assert json.loads((out / "report.json").read_text())["provenance"]["cache"]["misses"] == 0
    victim = images / "c3" / "1.bmp"
    size = victim.stat().st_size
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(victim)  # new pixels, same name and size
    assert victim.stat().st_size == size
    assert run(*args) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["data"]["sha256"] != first["data"]["sha256"]
    assert again["provenance"]["cache"]["misses"] > 0 and again["provenance"]["cache"]["hits"] == 0


FACTORY = """import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(3 * 32 * 32, 10)
    def forward(self, x):
        return {forward}

def make():
    return {{"model": Net(), "input_size": [3, 32, 32], "num_classes": 10, "mean": [{mean}] * 3, "std": [0.25] * 3}}
"""
PLAIN = {"forward": "self.lin(x.flatten(1))", "mean": 0.5}


@pytest.mark.parametrize("change", [{"forward": "self.lin(x.flatten(1)).flip(1)"}, {"mean": 0.4}],
                         ids=["forward code", "normalisation"])
def test_a_model_changed_beside_its_weights_misses_the_cache(tmp_path: Path, files: dict[str, str],
                                                               change: dict[str, object]) -> None:
    """The weights stay bit for bit the same; the factory's forward pass or normalisation changes."""
    factory, out = tmp_path / "net.py", tmp_path / "card"
    factory.write_text(FACTORY.format(**PLAIN))
    args = ["score", "-m", f"py:{factory}:make", "-d", files["a"], "-o", out, *CHEAP]
    assert run(*args) == 0
    first = json.loads((out / "report.json").read_text())
    assert run(*args) == 0  # the control: nothing changed, everything from the cache
    assert json.loads((out / "report.json").read_text())["provenance"]["cache"]["misses"] == 0
    factory.write_text(FACTORY.format(**{**PLAIN, **change}))
    assert run(*args) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["model"]["weights_sha256"] == first["model"]["weights_sha256"]
    assert again["provenance"]["cache"]["misses"] > 0 and again["provenance"]["cache"]["hits"] == 0


def test_a_corruption_set_from_other_data_or_seed_is_refused(tmp_path: Path, files: dict[str, str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    made = tmp_path / "set"
    assert run("corrupt", files["a"], "-o", made, "--corruptions", "contrast", "--n-images", "5") == 0
    card = ["-m", files["model"], "--corruptions-dir", made, *CORRUPT_ONLY]
    assert run("score", "-d", files["a"], "-o", tmp_path / "ok", *card) == 0  # the control: the set's own data
    report = json.loads((tmp_path / "ok" / "report.json").read_text())
    assert report["probes"]["corruptions"]["source"] == f"npy:{made}"
    more = [*card, "--n-images", "20"]  # more images asked for than the set holds: its 5 (and the clean 5)
    assert run("score", "-d", files["a"], "-o", tmp_path / "more", *more) == 0
    section = json.loads((tmp_path / "more" / "report.json").read_text())["probes"]["corruptions"]
    assert section["n_images"] == section["n_clean_images"] == 5
    capsys.readouterr()
    assert run("score", "-d", files["b"], "-o", tmp_path / "other", *card) == 2
    assert "was made from" in capsys.readouterr().err
    assert run("score", "-d", files["a"], "-o", tmp_path / "seed", "--seed", "1", *card) == 2
    assert "--seed 0" in capsys.readouterr().err


def test_a_set_without_manifest_must_hold_the_datas_labels(tmp_path: Path, files: dict[str, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "c10c"
    folder.mkdir()
    np.save(folder / "contrast.npy", np.zeros((5 * 40, 32, 32, 3), np.uint8))
    np.save(folder / "labels.npy", np.tile((np.arange(40) + 1) % 10, 5).astype(np.uint8))  # not a's labels
    args = ["score", "-m", files["model"], "-d", files["a"], "--corruptions-dir", folder, *CORRUPT_ONLY]
    assert run(*args, "-o", tmp_path / "card") == 2
    assert "other data" in capsys.readouterr().err
    np.save(folder / "labels.npy", np.tile(np.arange(40) % 10, 5).astype(np.uint8))
    assert run(*args, "-o", tmp_path / "card") == 0


def test_a_baseline_report_from_other_data_is_refused(tmp_path: Path, files: dict[str, str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    base = ["score", "-m", files["model"], *CORRUPT_ONLY]
    assert run(*base, "-d", files["b"], "-o", tmp_path / "base_b") == 0
    assert run(*base, "-d", files["a"], "-o", tmp_path / "base_a") == 0
    relative = ["--set", f"corruptions.baseline_report={tmp_path / 'base_b' / 'report.json'}"]
    capsys.readouterr()
    assert run(*base, "-d", files["a"], "-o", tmp_path / "run", *relative) == 2
    assert "measured on" in capsys.readouterr().err
    relative = ["--set", f"corruptions.baseline_report={tmp_path / 'base_a' / 'report.json'}"]
    assert run(*base, "-d", files["a"], "-o", tmp_path / "run", *relative) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["probes"]["corruptions"]["relative_error"]["mce"] == pytest.approx(1.0)  # against itself
    capsys.readouterr()
    for other in (["--n-images", "4"], ["--seed", "1"]):  # other images of the same data (5 of its 40)
        assert run(*base, *other, "-d", files["a"], "-o", tmp_path / "other", *relative) == 2
        assert "other images do not compare" in capsys.readouterr().err


def test_resize_is_explicit_and_recorded(tmp_path: Path, files: dict[str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "small.npz"
    np.savez(path, **good_npz(40, size=16))  # type: ignore[arg-type]
    args = ["score", "-m", files["model"], "-d", f"npz:{path}", "-o", tmp_path / "card", *CHEAP]
    assert run(*args) == 2
    assert "--resize" in capsys.readouterr().err
    assert run(*args, "--resize") == 0
    report = json.loads((tmp_path / "card" / "report.json").read_text())
    assert report["data"]["image_size"] == [3, 32, 32]
    assert report["data"]["extra"]["resized"] == {"from": [3, 16, 16], "to": [3, 32, 32], "crop_pct": 0.875}


def test_corrupt_into_another_set_needs_overwrite_and_the_same_set_resumes(tmp_path: Path, files: dict[str, str],
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    common = ["-o", out, "--n-images", "5"]
    assert run("corrupt", files["a"], *common, "--corruptions", "contrast") == 0
    first = (out / "contrast.npy").stat().st_mtime_ns
    assert run("corrupt", files["a"], *common, "--corruptions", "contrast,brightness") == 0  # same set: resumes
    assert (out / "contrast.npy").stat().st_mtime_ns == first
    assert json.loads((out / "manifest.json").read_text())["corruptions"] == ["contrast", "brightness"]
    capsys.readouterr()
    assert run("corrupt", files["b"], *common, "--corruptions", "contrast") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run("corrupt", files["b"], *common, "--corruptions", "contrast", "--overwrite") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"]["spec"] == files["b"] and manifest["corruptions"] == ["contrast"]
    assert not (out / "brightness.npy").exists()


def test_no_corruption_verdict_on_a_model_that_predicts_one_class(tmp_path: Path, files: dict[str, str]) -> None:
    """Its accuracy under corruption equals its clean accuracy whatever the corruption: no verdict."""
    from tests.bad_inputs import net_factory

    factory = tmp_path / "constant.py"
    constant = net_factory("self.lin(x.flatten(1)) * 0 + torch.arange(10.0)")  # always the last class
    factory.write_text("import torch\nfrom torch import nn\n" + constant)
    out = tmp_path / "card"
    assert run("score", "-m", f"py:{factory}:make", "-d", files["a"], "-o", out, *CORRUPT_ONLY) == 0
    report = json.loads((out / "report.json").read_text())
    section = report["probes"]["corruptions"]
    assert section["verdict_refused"] and section["overall_mean"] is None
    assert set(section["category_mean"].values()) == {None} and "one class" in section["refusal"]
    assert any("no verdict" in flag for flag in report["flags"]["corruptions"])
