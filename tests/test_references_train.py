"""Training loop, checkpoints, resume and input checks, on tiny in-memory data (16 px)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from robaudit.data.base import DatasetInfo, TensorImageSet
from robaudit.errors import RobauditError
from robaudit.references.checkpoint import build_from_checkpoint, check_format
from robaudit.references.kinds import make_recipe
from robaudit.references.recipes import learning_rate
from robaudit.references.setup import TrainSpec, prepare
from robaudit.references.train import train_reference
from robaudit.references.trainee import augment

TINY = {"epochs": 2, "width": 0.25, "batch_size": 16, "eval_images": 32, "components": 8}


def load_checkpoint(path: Path) -> dict:
    """A written checkpoint, read as a user would (weights_only) and format-checked."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    check_format(ckpt)
    return ckpt


def tiny_set(n: int = 64, size: int = 16, seed: int = 0) -> TensorImageSet:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    base = torch.rand(4, 3, size, size, generator=gen)
    images = (base[labels] * 0.7 + 0.3 * torch.rand(n, 3, size, size, generator=gen)) * 255
    info = DatasetInfo(
        spec="tiny",
        name="tiny",
        split="train",
        num_images=n,
        num_classes=4,
        image_size=(3, size, size),
        class_names=list("abcd"),
    )
    return TensorImageSet(images.to(torch.uint8), labels, info)


def spec(tmp_path: Path, kind: str, **kw: Any) -> TrainSpec:
    overrides = {**TINY, **kw.pop("overrides", {})}
    return TrainSpec(
        kind=kind,
        arch="small-cnn",
        out=tmp_path / f"{kind}.pt",
        device="cpu",
        overrides=overrides,
        quiet=True,
        max_steps=3,
        **kw,
    )


@pytest.mark.parametrize("kind", ["baseline", "blur", "pca", "pixel"])
def test_each_kind_trains_and_loads_back_with_weights_only(tmp_path: Path, kind: str) -> None:
    data = tiny_set()
    ckpt = train_reference(spec(tmp_path, kind), train=data, test=tiny_set(seed=1))
    loaded = torch.load(tmp_path / f"{kind}.pt", map_location="cpu", weights_only=True)
    assert loaded["format"] == "robaudit-reference" and loaded["format_version"] == 1
    net, meta = build_from_checkpoint(loaded)
    assert meta["input_size"] == [3, 16, 16] and meta["num_classes"] == 4
    assert meta["class_names"] == list("abcd") and len(meta["curve"]) == 2
    assert {"torch", "timm"} <= set(meta["versions"]) and meta["seed"] == 0
    x, _ = data.load(torch.arange(8))
    mean = torch.tensor(meta["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(meta["std"]).view(1, 3, 1, 1)
    rebuilt = build_from_checkpoint(ckpt)[0]
    torch.testing.assert_close(net((x - mean) / std), rebuilt((x - mean) / std))
    if kind == "pixel":
        assert set(meta["gamma"]) == {"block1", "block2", "block3"}
        assert meta["regularizer_fit"]["before"]["loss"] > 0


def test_checkpoint_loads_through_the_file_model_source(tmp_path: Path) -> None:
    from robaudit.models import load_model

    data = tiny_set()
    train_reference(spec(tmp_path, "blur"), train=data)
    model = load_model(f"file:{tmp_path / 'blur.pt'}", device="cpu")
    ckpt = load_checkpoint(tmp_path / "blur.pt")
    net, meta = build_from_checkpoint(ckpt)
    x, _ = data.load(torch.arange(4))
    mean, std = (torch.tensor(meta[k]).view(1, 3, 1, 1) for k in ("mean", "std"))
    torch.testing.assert_close(model(x), net((x - mean) / std))


def test_kill_and_resume_continues_from_the_last_epoch(tmp_path: Path) -> None:
    data = tiny_set()
    whole = train_reference(spec(tmp_path / "a", "pixel"), train=data)

    class Killed(Exception):
        pass

    def kill(epoch: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        train_reference(spec(tmp_path / "b", "pixel"), train=data, on_epoch_end=kill)
    assert (tmp_path / "b" / "pixel.pt.state").is_file()
    assert not (tmp_path / "b" / "pixel.pt").exists()
    epochs_run: list[int] = []
    resumed = train_reference(spec(tmp_path / "b", "pixel"), train=data, on_epoch_end=epochs_run.append)
    assert epochs_run == [1]  # only the second epoch ran again
    assert not (tmp_path / "b" / "pixel.pt.state").exists()  # removed once the checkpoint is written
    assert [e["epoch"] for e in resumed["meta"]["curve"]] == [1, 2]
    for key, value in whole["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, msg=key)


def test_resume_refuses_a_state_from_other_settings(tmp_path: Path) -> None:
    data = tiny_set()

    def kill(epoch: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_reference(spec(tmp_path, "baseline"), train=data, on_epoch_end=kill)
    with pytest.raises(RobauditError, match="other settings"):
        train_reference(spec(tmp_path, "baseline", overrides={"lr": 0.01}), train=data)


def _npy(tmp_path: Path, name: str, array: np.ndarray) -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    ("similarity", "message"),
    [
        (np.eye(5), "5 × 5 but --reg-images holds 6"),
        (np.triu(np.ones((6, 6))), "not symmetric"),
        (np.full((6, 6), np.nan), "NaN"),
        (np.ones((6, 3)), "N × N"),
    ],
)
def test_bad_similarity_inputs_fail_before_training(tmp_path: Path, similarity: np.ndarray, message: str) -> None:
    images = _npy(tmp_path, "x.npy", np.random.default_rng(0).random((6, 16, 16)).astype(np.float32))
    s = _npy(tmp_path, "s.npy", similarity)
    bad = spec(tmp_path, "neural", reg_images=images, similarity=s)
    with pytest.raises(RobauditError, match=message):
        prepare(bad, tiny_set(), None)


def test_bad_response_and_image_inputs_fail_before_training(tmp_path: Path) -> None:
    images = _npy(tmp_path, "x.npy", np.random.default_rng(0).random((6, 16, 16)).astype(np.float32))
    wrong_n = _npy(tmp_path, "r.npy", np.ones((5, 3, 4)))
    with pytest.raises(RobauditError, match="N = 6"):
        prepare(spec(tmp_path, "neural", reg_images=images, responses=wrong_n), tiny_set(), None)
    bad_images = _npy(tmp_path, "b.npy", np.full((6, 16, 16), 2.0))
    s = _npy(tmp_path, "s.npy", np.eye(6))
    with pytest.raises(RobauditError, match=r"\[0, 1\]"):
        prepare(spec(tmp_path, "neural", reg_images=bad_images, similarity=s), tiny_set(), None)
    with pytest.raises(RobauditError, match="--reg-images"):
        prepare(spec(tmp_path, "neural", similarity=s), tiny_set(), None)


def test_neural_and_response_kinds_train_from_npy_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = _npy(tmp_path, "x.npy", (rng.random((10, 20, 20, 3)) * 255).astype(np.uint8))
    responses = _npy(tmp_path, "r.npy", rng.poisson(2.0, size=(10, 3, 7)).astype(np.float32))
    neural = train_reference(spec(tmp_path, "neural", reg_images=images, responses=responses), train=tiny_set())
    weights = neural["meta"]["settings"]["responses"]["snr_weights"]
    assert len(weights) == 7 and neural["meta"]["grey"] is False
    response = train_reference(
        spec(tmp_path, "response", reg_images=images, responses=responses, loss="poisson"),
        train=tiny_set(),
    )
    assert response["meta"]["settings"]["layers"] == ["pool"]
    assert response["meta"]["curve"][-1]["reg_loss"] > 0


def test_grey_model_takes_rgb_input_and_records_equal_channel_stats(tmp_path: Path) -> None:
    ckpt = train_reference(spec(tmp_path, "blur", overrides={"grey": True}), train=tiny_set())
    meta = ckpt["meta"]
    assert meta["grey"] and meta["input_size"] == [3, 16, 16]
    assert len(set(meta["mean"])) == 1 and [p["type"] for p in meta["prefilter"]] == [
        "grey",
        "blur",
    ]
    net, _ = build_from_checkpoint(ckpt)
    assert net(torch.zeros(2, 3, 16, 16)).shape == (2, 4)


def test_paper_recipe_and_overrides() -> None:
    r = make_recipe("paper", "neural", "resnet18", 32, {"alpha": "16", "augment": "false"})
    assert (r.epochs, r.batch_size, r.pair_batch, r.lr, r.grey) == (40, 64, 16, 0.1, True)
    assert r.alpha == 16.0 and r.augment is False
    assert learning_rate(r, 0) == pytest.approx(0.1)
    assert learning_rate(r, 4.5) == pytest.approx(0.03)
    assert learning_rate(r, 19) == pytest.approx(0.1 * 0.3**4)
    assert learning_rate(r, 20) == pytest.approx(0.1)  # reset after the 20th epoch
    assert make_recipe("paper", "pixel", "resnet18", 32).alpha == 10.0
    with pytest.raises(RobauditError, match="Did you mean"):
        make_recipe("default", "blur", "resnet18", 32, {"sigmaa": 1})


def test_augment_is_a_crop_of_the_padded_image_or_its_mirror() -> None:
    x = torch.rand(6, 2, 8, 8)
    out = augment(x, torch.Generator().manual_seed(0), pad=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(6):
        crops = [padded[b, :, i : i + 8, j : j + 8] for i in range(5) for j in range(5)]
        assert any(torch.equal(out[b], c) or torch.equal(out[b], c.flip(-1)) for c in crops)


def test_command_runs_and_bad_input_is_a_robaudit_error(tmp_path: Path) -> None:
    from robaudit.commands.train_reference import command

    with pytest.raises(RobauditError, match="unknown reference kind"):
        command(kind="blurr", out=tmp_path / "x.pt")
    with pytest.raises(RobauditError, match="--set expects"):
        command(kind="blur", out=tmp_path / "x.pt", set_=["epochs"])


def test_cli_trains_from_an_npz_dataset_and_reports(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from robaudit.commands.train_reference import command

    data = tiny_set(n=32)
    npz = tmp_path / "d.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    app = typer.Typer()
    app.command("train-reference")(command)
    app.command("other")(lambda: None)  # two commands: typer keeps the subcommand name
    out = tmp_path / "m.pt"
    args = ["train-reference", "blur", "--dataset", f"npz:{npz}", "--arch", "small-cnn",
            "--out", str(out), "--sigma", "1.0", "--device", "cpu", "-q",
            "--set", "epochs=1", "--set", "width=0.25", "--batch-size", "16"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = load_checkpoint(out)["meta"]
    assert meta["recipe"]["sigma"] == 1.0 and meta["overrides"]["epochs"] == "1"
    assert meta["prefilter"] == [{"type": "blur", "channels": 3, "sigma": 1.0}]


def test_response_kind_matches_a_predictor_model(tmp_path: Path) -> None:
    data = tiny_set()
    train_reference(spec(tmp_path, "baseline"), train=data)
    from robaudit.models import load_model

    predictor = f"file:{tmp_path / 'baseline.pt'}"
    ckpt = train_reference(spec(tmp_path, "response", predictor=predictor, layer="block2"), train=data,
                           predictor=load_model(predictor))
    meta = ckpt["meta"]
    assert meta["settings"]["loss"] == "mse" and meta["settings"]["layers"] == ["block2"]
    assert meta["regularizer_fit"]["before"]["loss"] > 0


def test_jitter_adds_one_offset_per_image_and_channel() -> None:
    from robaudit.references.trainee import jitter

    x = torch.full((4, 3, 5, 5), 0.5)
    out = jitter(x.clone(), torch.Generator().manual_seed(0), 0.3)
    offsets = out - x
    assert torch.allclose(offsets, offsets[:, :, :1, :1].expand_as(offsets))
    assert float(offsets.abs().max()) <= 0.3 and float(offsets.std()) > 0


@pytest.mark.gpu
def test_cuda_training_with_amp_and_channels_last(tmp_path: Path) -> None:
    s = spec(tmp_path, "pixel")
    s.device = "cuda"
    ckpt = train_reference(s, train=tiny_set())
    assert ckpt["meta"]["device"].startswith("cuda")
    assert all(v.device.type == "cpu" for v in ckpt["state_dict"].values())
    net, _ = build_from_checkpoint(ckpt)
    assert torch.isfinite(net(torch.zeros(2, 3, 16, 16))).all()


@pytest.mark.parametrize("grey", [False, True])
def test_channel_stats_match_numpy(grey: bool) -> None:
    from robaudit.references.setup import channel_stats

    data = tiny_set(n=300)
    mean, std = channel_stats(data, grey, torch.Generator().manual_seed(0))
    x = data.images.double().numpy() / 255
    if grey:
        x = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None].repeat(3, axis=1)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-6)


def test_pca_on_too_large_images_fails_before_loading(tmp_path: Path) -> None:
    big = tiny_set(n=8, size=96)  # 3 × 96 × 96 = 27 648 > 16 384
    with pytest.raises(RobauditError, match="limit is D = C·H·W ≤ 16384"):
        prepare(spec(tmp_path, "pca"), big, None)


def test_quiet_training_prints_no_epoch_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The epoch and file lines are information: on stderr, and gone under --quiet."""
    from robaudit.cli import main

    data = tiny_set(n=32)
    npz = tmp_path / "d.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    base = ["train-reference", "baseline", "--dataset", f"npz:{npz}", "--arch", "small-cnn", "--device", "cpu",
            "--set", "epochs=1", "--set", "width=0.25", "--batch-size", "16", "--no-resume"]
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "loud.pt")]) == 0
    loud = capsys.readouterr().err
    assert "epoch 1:" in loud and "wrote" in loud
    assert main([*base, "--out", str(tmp_path / "quiet.pt"), "-q"]) == 0
    assert capsys.readouterr().err == ""
