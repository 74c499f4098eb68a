"""Dataset loaders on SYNTHETIC files written in each official format (no real data here)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from robaudit.data import DATASETS, check_compatible, load_dataset
from robaudit.errors import RobauditError
from robaudit.models.wrapper import ModelInfo

RNG = np.random.default_rng(0)


def write_cifar10(root: Path, n: int = 20) -> tuple[np.ndarray, list[int]]:
    """Synthetic CIFAR-10 python batches: dict(b'data': N×3072 uint8, b'labels': list)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in RNG.integers(0, 10, n)]
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data,
                     b"filenames": [b"x.png"] * n}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}, f)
    return data, labels


def write_cifar100(root: Path, n: int = 12) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    with open(folder / "test", "wb") as f:
        pickle.dump({b"fine_labels": [int(v) for v in RNG.integers(0, 100, n)],
                     b"coarse_labels": [0] * n, b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8)}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"c{i}".encode() for i in range(100)], b"coarse_label_names": []}, f)


def write_folder(root: Path, size: tuple[int, int] = (40, 30)) -> Path:
    for cls in ("cat", "dog", "emu"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            pixels = RNG.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def test_cifar10_reader_matches_the_official_layout(tmp_path: Path) -> None:
    data, labels = write_cifar10(tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    x, y = ds.load(torch.arange(len(ds)))
    assert ds.info.num_classes == 10 and ds.info.class_names[3] == "class3"
    assert x.shape == (20, 3, 32, 32) and y.tolist() == labels
    # CIFAR rows are R plane, G plane, B plane of 32×32 each.
    assert float(x[5, 1, 2, 7]) == pytest.approx(data[5, 1024 + 2 * 32 + 7] / 255.0)


def test_cifar100_reader_uses_fine_labels(tmp_path: Path) -> None:
    write_cifar100(tmp_path)
    ds = load_dataset("cifar100", data_dir=tmp_path)
    assert ds.info.num_classes == 100 and len(ds) == 12


def test_cifar_reader_refuses_pickled_code(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": print}, f)  # a global reference that must not be resolved
    (folder / "batches.meta").write_bytes(b"")
    with pytest.raises(RobauditError, match="builtins.print, which a CIFAR python batch never needs"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batches_pickled_by_python_3_load(tmp_path: Path, protocol: int) -> None:
    """Protocol 2 rebuilds bytes with _codecs.encode, protocol 5 arrays with numpy's _frombuffer."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = RNG.integers(0, 256, (7, 3072), dtype=np.uint8)
    labels = [int(v) for v in RNG.integers(0, 10, 7)]
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data,
             b"filenames": [f"{i}.png".encode() for i in range(7)]}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    ds = load_dataset("cifar10", data_dir=tmp_path)
    x, y = ds.load(torch.arange(7))
    assert y.tolist() == labels and ds.info.class_names[9] == "class9"
    assert torch.equal((x * 255).round().to(torch.uint8).reshape(7, -1), torch.from_numpy(data))


class _System:
    """Pickles as a call of os.system: what a malicious batch would hold."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("true",)


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_reader_refuses_os_system_and_says_what_to_do(tmp_path: Path, protocol: int) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _System()}, protocol=protocol))
    with pytest.raises(RobauditError, match=r"system, which a CIFAR python batch never needs.*official") as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_cifar_reader_refuses_other_codecs(tmp_path: Path) -> None:
    """_codecs.encode is allowed only as pickle uses it: latin-1 text to bytes."""
    import codecs

    class Rot13:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return codecs.encode, ("abc", "rot13")

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Rot13()}, protocol=2))
    with pytest.raises(RobauditError, match="_codecs.encode"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_image_folder_resizes_to_the_model_only_when_asked(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "imgs")
    model = ModelInfo(spec="m", source="t", name="m", input_size=(3, 16, 16), num_classes=3,
                      mean=(0.0,), std=(1.0,), crop_pct=0.875)
    with pytest.raises(RobauditError, match="--resize"):
        check_compatible(model, load_dataset(f"folder:{root}", model_info=model).info)
    ds = load_dataset(f"folder:{root}", model_info=model, resize=True)
    assert ds.info.extra["resized"] == {"to": [3, 16, 16], "crop_pct": 0.875}
    x, y = ds.load(torch.tensor([0, 4, 8]))
    assert x.shape == (3, 3, 16, 16) and y.tolist() == [0, 1, 2]
    assert ds.info.class_names == ["cat", "dog", "emu"]
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_image_folder_skips_hidden_folders_and_files(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "imgs", size=(8, 8))
    for hidden in (root / ".ipynb_checkpoints", root / "cat" / ".ipynb_checkpoints"):
        hidden.mkdir()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(hidden / "0-checkpoint.png")
    ds = load_dataset(f"folder:{root}")
    assert ds.info.class_names == ["cat", "dog", "emu"] and len(ds) == 9


def test_class_count_mismatch_names_the_classes_found(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "imgs", size=(8, 8))
    model = ModelInfo(spec="m", source="t", name="m", input_size=(3, 8, 8), num_classes=2, mean=(0.0,), std=(1.0,))
    with pytest.raises(RobauditError, match=r"has 3 \(cat, dog, emu\)"):
        check_compatible(model, load_dataset(f"folder:{root}").info)
    many = load_dataset(f"folder:{root}").info
    many.class_names, many.num_classes = [f"n{i:02d}" for i in range(20)], 20
    with pytest.raises(RobauditError, match=r"has 20 \(n00, .*n11, … 8 more\)"):
        check_compatible(model, many)


@pytest.mark.parametrize("source", ["npz", "folder"])
def test_split_free_sources_refuse_another_split(tmp_path: Path, source: str) -> None:
    if source == "npz":
        np.savez(tmp_path / "d.npz", x=np.zeros((3, 4, 4, 3), dtype=np.uint8), y=np.arange(3))
        spec = f"npz:{tmp_path / 'd.npz'}"
    else:
        spec = f"folder:{write_folder(tmp_path / 'imgs', size=(8, 8))}"
    assert DATASETS.get(source).split_free
    with pytest.raises(RobauditError, match="have no splits.*--split validation cannot apply") as info:
        load_dataset(spec, split="validation")
    assert "\n" not in str(info.value)
    for split in ("test", "train"):  # score's default, and what train-reference asks for
        assert load_dataset(spec, split=split).info.split == "all"


def test_imagenet_val_folder(tmp_path: Path) -> None:
    write_folder(tmp_path / "val", size=(64, 80))
    ds = load_dataset("imagenet", data_dir=tmp_path)
    assert ds.info.image_size == (3, 224, 224) and len(ds) == 9
    assert ds.load(torch.tensor([1]))[0].shape == (1, 3, 224, 224)


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_npz_accepts_both_layouts(tmp_path: Path, layout: str) -> None:
    x = RNG.integers(0, 256, (6, 12, 10, 3), dtype=np.uint8)
    stored = x if layout == "nhwc" else x.transpose(0, 3, 1, 2)
    np.savez(tmp_path / "d.npz", x=stored, y=np.array([0, 1, 2, 0, 1, 2]))
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    loaded, _ = ds.load(torch.arange(6))
    assert ds.info.image_size == (3, 12, 10)
    assert torch.allclose(loaded, torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255)


def bad_npz(tmp: Path) -> str:
    np.savez(tmp / "bad.npz", x=np.zeros((3, 4, 4, 3), dtype=np.float32), y=np.zeros(3))
    return f"npz:{tmp / 'bad.npz'}"


def short_labels(tmp: Path) -> str:
    np.savez(tmp / "short.npz", x=np.zeros((3, 4, 4, 3), dtype=np.uint8), y=np.zeros(2))
    return f"npz:{tmp / 'short.npz'}"


DATA_ERRORS = [
    (lambda tmp: "cifar11", "Did you mean: cifar10"),
    (lambda tmp: "cifar10", "not found under"),
    (lambda tmp: f"npz:{tmp}/none.npz", "does not exist"),
    (bad_npz, "must be uint8"),
    (short_labels, "3 images but 2 labels"),
    (lambda tmp: f"folder:{tmp}/none", "does not exist"),
    (lambda tmp: "embedded", None),  # loads fine: the control row
]


@pytest.mark.parametrize(("make_spec", "message"), DATA_ERRORS, ids=[str(m) for _, m in DATA_ERRORS])
def test_bad_dataset_specs_give_one_clear_error(tmp_path: Path, make_spec, message: str | None) -> None:
    spec = make_spec(tmp_path)
    if message is None:
        assert len(load_dataset(spec, data_dir=tmp_path)) > 0
        return
    with pytest.raises(RobauditError, match=message) as info:
        load_dataset(spec, data_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_label_space_and_size_mismatches_are_caught_before_work() -> None:
    ds = load_dataset("embedded")
    model = ModelInfo(spec="timm:x", source="timm", name="x", input_size=(3, 224, 224), num_classes=1000,
                      mean=(0.0,), std=(1.0,))
    with pytest.raises(RobauditError, match="1000 classes"):
        check_compatible(model, ds.info)
    model.num_classes = 10
    with pytest.raises(RobauditError, match="inputs of size"):
        check_compatible(model, ds.info)


def test_embedded_default_is_deterministic_and_split() -> None:
    train, test = load_dataset("embedded", split="train"), load_dataset("embedded", split="test")
    assert train.info.num_classes == test.info.num_classes == 10
    assert len(train) > 2 * len(test) > 0
    assert load_dataset("embedded").info.sha256 == test.info.sha256
    assert set(DATASETS.names()) >= {"cifar10", "cifar100", "imagenet", "folder", "npz", "embedded"}
