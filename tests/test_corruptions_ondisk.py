"""Readers and writer for prebuilt corruption sets, on SYNTHETIC files in both published layouts
(CIFAR-10-C npy and ImageNet-C folders): the images are random, only the layout is real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from robaudit.corruptions.archive import write_npy_set
from robaudit.corruptions.ondisk import FolderSet, NpySet, open_corruption_set
from robaudit.errors import RobauditError

N = 12  # synthetic images per severity


def make_npy_set(root: Path, names: list[str], n: int = N) -> np.ndarray:
    """A synthetic CIFAR-10-C folder: <name>.npy (5n, 32, 32, 3) uint8, labels.npy (5n,) uint8.
    Severity s of image i is filled with the value 10·s + i so reads can be checked exactly."""
    root.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % 10
    images = np.zeros((5 * n, 32, 32, 3), np.uint8)
    for s in range(5):
        for i in range(n):
            images[s * n + i] = 10 * (s + 1) + i
    for name in names:
        np.save(root / f"{name}.npy", images)
    np.save(root / "labels.npy", np.tile(labels, 5).astype(np.uint8))
    return labels


def make_folder_set(root: Path, names: list[str], classes: int = 3, per_class: int = 2) -> None:
    """A synthetic ImageNet-C tree <name>/<severity>/<class>/*.JPEG of 64×64 images."""
    for name in names:
        for s in range(1, 6):
            for c in range(classes):
                folder = root / name / str(s) / f"n0{c:07d}"
                folder.mkdir(parents=True, exist_ok=True)
                for k in range(per_class):
                    value = 40 * s + 10 * c + k
                    Image.fromarray(np.full((64, 64, 3), value, np.uint8)).save(folder / f"img_{k}.JPEG", quality=95)


def test_npy_layout_reads_blocks(tmp_path: Path) -> None:
    labels = make_npy_set(tmp_path, ["fog", "snow"])
    source = open_corruption_set(tmp_path)
    assert isinstance(source, NpySet) and source.available() == ["fog", "snow"]
    source.check(["fog", "snow"], [1, 2, 3, 4, 5])
    assert source.image_size() == (3, 32, 32) and source.num_images("fog", 1) == N
    x, y = source.load("fog", 3, torch.tensor([0, 5, 11]))
    assert x.shape == (3, 3, 32, 32)
    assert torch.allclose(x[:, 0, 0, 0] * 255, torch.tensor([30.0, 35.0, 41.0]))
    assert y.tolist() == labels[[0, 5, 11]].tolist()


def test_npy_missing_and_truncated_are_named(tmp_path: Path) -> None:
    make_npy_set(tmp_path, ["fog", "snow"])
    data = (tmp_path / "snow.npy").read_bytes()
    (tmp_path / "snow.npy").write_bytes(data[: len(data) // 2])
    source = open_corruption_set(tmp_path)
    with pytest.raises(RobauditError) as err:
        source.check(["fog", "snow", "frost"], [1, 2, 3, 4, 5])
    message = str(err.value)
    assert "snow.npy is truncated" in message and "frost.npy is missing" in message
    assert "fog.npy" not in message
    assert "pass --set 'corruptions.corruptions=[fog,snow]' to use those" in message  # what to do instead


def test_folder_layout_reads_classes_in_sorted_order(tmp_path: Path) -> None:
    make_folder_set(tmp_path, ["contrast"])
    source = open_corruption_set(tmp_path)
    assert isinstance(source, FolderSet)
    source.check(["contrast"], [1, 2, 3, 4, 5])
    assert source.image_size() == (3, 64, 64) and source.num_images("contrast", 2) == 6
    x, y = source.load("contrast", 2, torch.tensor([0, 3, 5]))
    assert x.shape == (3, 3, 64, 64) and y.tolist() == [0, 1, 2]
    expected = torch.tensor([80.0, 91.0, 101.0])  # 40·s + 10·class + k, through JPEG q95
    assert torch.allclose(x[:, :, 32, 32].mean(1) * 255, expected, atol=2)


def test_folder_missing_severity_and_truncated_jpeg(tmp_path: Path) -> None:
    make_folder_set(tmp_path, ["contrast", "fog"])
    for f in (tmp_path / "fog" / "4").rglob("*"):
        if f.is_file():
            f.unlink()
    import shutil

    shutil.rmtree(tmp_path / "fog" / "5")
    source = open_corruption_set(tmp_path)
    with pytest.raises(RobauditError) as err:
        source.check(["contrast", "fog"], [1, 2, 3, 4, 5])
    assert "fog/5 is missing" in str(err.value) and "fog/4 holds no images" in str(err.value)
    assert str(tmp_path / "contrast") not in str(err.value)  # nothing wrong with it: offered instead
    assert "pass --set 'corruptions.corruptions=[contrast]'" in str(err.value)
    victim = sorted((tmp_path / "contrast" / "1").rglob("*.JPEG"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    assert isinstance(source, FolderSet)
    with pytest.raises(RobauditError, match="truncated image files: .*img_0.JPEG"):
        source.check_files("contrast", 1, torch.arange(6))


def test_unknown_or_absent_folder(tmp_path: Path) -> None:
    with pytest.raises(RobauditError, match="does not exist"):
        open_corruption_set(tmp_path / "nope")
    (tmp_path / "random.txt").write_text("x")
    with pytest.raises(RobauditError, match="neither"):
        open_corruption_set(tmp_path)


def test_writer_round_trip_and_resume(tmp_path: Path) -> None:
    labels = np.array([3, 1, 4, 1, 5, 9, 2])
    calls: list[tuple[str, int, int, int]] = []

    def render(name: str, severity: int, start: int, stop: int) -> np.ndarray:
        calls.append((name, severity, start, stop))
        return np.full((stop - start, 32, 32, 3), severity * 20 + start, np.uint8)

    write_npy_set(tmp_path, ["fog", "snow"], labels, render, chunk=4, manifest={"seed": 0})
    source = open_corruption_set(tmp_path)
    source.check(["fog", "snow"], [1, 2, 3, 4, 5])
    x, y = source.load("snow", 4, torch.tensor([0, 6]))
    assert (x[:, 0, 0, 0] * 255).round().tolist() == [80.0, 84.0] and y.tolist() == [3, 2]
    assert np.load(tmp_path / "labels.npy").shape == (35,)
    calls.clear()
    write_npy_set(tmp_path, ["fog", "snow", "frost"], labels, render, chunk=4, manifest={"seed": 0})
    assert {c[0] for c in calls} == {"frost"}  # finished corruptions are skipped


@pytest.mark.network
@pytest.mark.slow
def test_fetch_official_cifar10c(tmp_path: Path) -> None:
    from robaudit.corruptions.archive import fetch_cifar_c

    root = fetch_cifar_c("CIFAR-10-C", tmp_path)
    source = open_corruption_set(root)
    source.check(["gaussian_noise", "fog"], [1, 2, 3, 4, 5])
    assert source.num_images("fog", 1) == 10_000 and source.image_size() == (3, 32, 32)


def test_corrupt_command_writes_a_readable_set(tmp_path: Path) -> None:
    from robaudit.commands.corrupt import command
    from robaudit.data import load_dataset

    command("embedded", out=tmp_path, corruptions="contrast,gaussian_noise", n_images=20, device="cpu")
    source = open_corruption_set(tmp_path)
    source.check(["contrast", "gaussian_noise"], [1, 2, 3, 4, 5])
    clean, labels = load_dataset("embedded").load(torch.arange(20))
    x, y = source.load("contrast", 5, torch.arange(20))
    assert torch.equal(y, labels)
    # contrast is deterministic: severity 5 of the 32 px table scales deviations by 0.15
    mean = clean.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(x, (clean - mean) * 0.15 + mean, atol=1 / 255 + 1e-6)
    assert (tmp_path / "manifest.json").exists()
