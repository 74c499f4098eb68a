"""Everything checked and built before the first training step: data, stats, net, targets.

All user-fixable problems (shapes, NaNs, mismatched N, asymmetric S) raise RobauditError here,
so a bad input fails in seconds rather than after an epoch.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robaudit.data.base import ImageSet
from robaudit.errors import RobauditError
from robaudit.references import backbones as bb
from robaudit.references import response as resp
from robaudit.references import similarity as sim
from robaudit.references.checkpoint import ReferenceNet, build_prefilter
from robaudit.references.layers import LUMA, check_pca_size, fit_pca
from robaudit.references.recipes import Recipe, make_recipe

STATS_IMAGES = 10000  # images used for mean/std
PCA_IMAGES = 10000  # images used to fit PCA (≤ 10 000 × 16 384 floats)


@dataclass
class TrainSpec:
    """What `robaudit train-reference` was asked for (the CLI maps its flags onto these)."""

    kind: str
    dataset: str = "embedded"
    arch: str = "resnet18"
    out: Path = Path("reference.pt")
    recipe: str = "default"
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    data_dir: Path | None = None
    similarity: Path | None = None
    responses: Path | None = None
    reg_images: Path | None = None
    reg_data: str | None = None
    predictor: str | None = None
    layers: list[str] | None = None
    layer: str | None = None
    loss: str = "poisson"
    resume: bool = True
    quiet: bool = False
    max_steps: int = 0  # stop each epoch after this many steps (0: full epochs); tests/benchmarks


@dataclass
class Prepared:
    """The checked, built pieces a training run needs."""

    recipe: Recipe
    train: ImageSet
    test: ImageSet | None
    mean: list[float]
    std: list[float]
    arch: bb.ArchSpec
    prefilter: list[dict[str, Any]]
    net: ReferenceNet
    head: nn.Module | None = None
    layers: list[str] = field(default_factory=list)
    reg_images: Tensor | None = None  # (N, C, H, W) in [0, 1], task size and channels
    pair_target: sim.PairTarget | None = None
    responses: Tensor | None = None  # (N, A)
    settings: dict[str, Any] = field(default_factory=dict)


def load_data(spec: str, split: str, data_dir: Path | None) -> ImageSet:
    """The lead's dataset loader (robaudit.data.load_dataset), imported lazily."""
    from robaudit.data import load_dataset

    return load_dataset(spec, split=split, data_dir=data_dir)


def prepare(spec: TrainSpec, train: ImageSet, test: ImageSet | None, reg_set: ImageSet | None = None) -> Prepared:
    """Check every input and build the net, fixed layers, head and targets."""
    c, h, w = train.info.image_size
    recipe = make_recipe(spec.recipe, spec.kind, spec.arch, max(h, w), spec.overrides)
    _check_kind_inputs(spec)
    pretrained = recipe.pretrained and spec.arch.startswith(("timm:", "torchvision:"))
    rgb_backbone = spec.arch.startswith("torchvision:")
    in_chans = 3 if (rgb_backbone or not (recipe.grey or c == 1)) else 1
    arch = bb.ArchSpec(spec.arch, train.info.num_classes, in_chans, recipe.width, pretrained)
    prefilter = _prefilter_layers(spec.kind, recipe, c, in_chans, (h, w))
    with torch.random.fork_rng(devices=[]):  # layer init uses the global RNG: scope it to the seed
        torch.manual_seed(spec.seed)
        backbone = bb.build_backbone(arch)
    net = ReferenceNet(build_prefilter(prefilter), backbone)
    prep = Prepared(recipe, train, test, [], [], arch, prefilter, net)
    if spec.kind in ("neural", "pixel", "response"):  # reads and checks the user's files first
        _prepare_regularizer(spec, prep, reg_set, (in_chans, h, w))
    prep.mean, prep.std = channel_stats(train, recipe.grey, _gen(spec.seed, "stats"))
    if spec.kind == "pca":
        _fit_pca(prep, spec.seed)
    return prep


def _check_kind_inputs(spec: TrainSpec) -> None:
    needs = {
        "neural": spec.reg_images is not None and (spec.similarity or spec.responses) is not None,
        "response": (spec.responses is not None and spec.reg_images is not None) or spec.predictor is not None,
    }
    if spec.kind == "neural" and not needs["neural"]:
        raise RobauditError("neural needs --reg-images X.npy and --similarity S.npy or --responses R.npy")
    if spec.kind == "neural" and spec.similarity and spec.responses:
        raise RobauditError("give --similarity or --responses, not both")
    if spec.kind == "response" and not needs["response"]:
        raise RobauditError("response needs --responses R.npy with --reg-images X.npy, or --predictor SPEC")
    if spec.kind == "response" and spec.loss not in resp.LOSSES:
        raise RobauditError(f"--loss must be poisson or mse, got {spec.loss!r}")


def _prefilter_layers(kind: str, recipe: Recipe, c: int, in_chans: int, hw: tuple[int, int]) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    channels = c
    if recipe.grey and c == 3:
        layers.append({"type": "grey"})
        channels = 1
    if in_chans != channels:
        layers.append({"type": "repeat", "channels": in_chans})
        channels = in_chans
    if kind == "blur":
        half = max(1, math.ceil(2.5 * recipe.sigma))
        if half >= min(hw):
            raise RobauditError(f"--sigma {recipe.sigma} needs a {2 * half + 1}-px kernel; images are {hw}")
        layers.append({"type": "blur", "channels": channels, "sigma": recipe.sigma})
    if kind == "pca":
        check_pca_size((channels, *hw), recipe.components)
        layers.append(
            {
                "type": "pca",
                "components": recipe.components,
                "dim": channels * hw[0] * hw[1],
                "centre": recipe.pca_centre,
            }
        )
    return layers


def _gen(seed: int, tag: str) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}|{tag}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def channel_stats(data: ImageSet, grey: bool, gen: torch.Generator) -> tuple[list[float], list[float]]:
    """Per-channel mean/std over ≤ STATS_IMAGES training images; grey: luminance stats repeated.

    Accumulated in float64 over chunks of 256 images, so large images never sit in memory at once.
    """
    n = len(data)
    idx = torch.randperm(n, generator=gen)[: min(n, STATS_IMAGES)].sort().values
    c = data.info.image_size[0]
    luma = torch.tensor(LUMA, dtype=torch.float64).view(1, 3, 1, 1)
    count, sums = 0, None  # sums: (2, C) per-channel Σx and Σx²
    for chunk in idx.split(256):
        x = data.load(chunk)[0].double()
        if grey and c == 3:
            x = (x * luma).sum(1, keepdim=True)
        part = torch.stack([x.sum(dim=(0, 2, 3)), x.pow(2).sum(dim=(0, 2, 3))])
        sums = part if sums is None else sums + part
        count += x.shape[0] * x.shape[2] * x.shape[3]
    assert sums is not None
    mean = sums[0] / count
    std = (sums[1] / count - mean**2).clamp_min(1e-12).sqrt().clamp_min(1e-6)
    if grey and c == 3:
        mean, std = mean.repeat(3), std.repeat(3)
    return mean.tolist(), std.tolist()


def normalise(x: Tensor, mean: list[float], std: list[float]) -> Tensor:
    """(x − mean) / std per channel; x (N, C, H, W)."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def _fit_pca(prep: Prepared, seed: int) -> None:
    """Fit PCA on normalised (and, for grey models, greyscaled) training images."""
    n = len(prep.train)
    idx = torch.randperm(n, generator=_gen(seed, "pca"))[: min(n, PCA_IMAGES)].sort().values
    x, _ = prep.train.load(idx)
    x = normalise(x, prep.mean, prep.std)
    pre = prep.net.pre
    with torch.no_grad():
        for name in ("grey", "repeat"):
            if name in pre._modules:
                x = pre.get_submodule(name)(x)
    fitted = fit_pca(x, prep.recipe.components, prep.recipe.pca_centre)
    prep.net.pre.get_submodule("pca").load_state_dict(fitted.state_dict())
    prep.settings["pca_fit_images"] = len(idx)


def _prepare_regularizer(
    spec: TrainSpec, prep: Prepared, reg_set: ImageSet | None, backbone_in: tuple[int, int, int]
) -> None:
    c, h, w = prep.train.info.image_size
    backbone = prep.net.backbone
    raw = _reg_images(spec, prep, reg_set)
    if spec.kind in ("neural", "pixel"):
        layers = spec.layers or bb.default_feature_layers(backbone)
        bb.check_layers(backbone, layers)
        dims = [int(np.prod(s)) for s in bb.feature_shapes(backbone, layers, backbone_in)]
        prep.head, prep.layers = sim.LayerSimilarity(layers, dims), layers
        prep.pair_target = _pair_target(spec, prep, raw)
    else:
        layer = spec.layer or bb.default_readout_layer(backbone)
        bb.check_layers(backbone, [layer])
        shape = bb.feature_shapes(backbone, [layer], backbone_in)[0]
        prep.responses = _response_targets(spec, raw)
        pool = prep.recipe.readout_pool
        prep.head = resp.ResponseReadout(resp.readout_in_features(shape, pool), prep.responses.shape[1], pool)
        prep.layers = [layer]
        prep.settings.update(loss=spec.loss if spec.predictor is None else "mse")
    prep.reg_images = match_images(raw, c, h, w)


def _reg_images(spec: TrainSpec, prep: Prepared, reg_set: ImageSet | None) -> Tensor:
    if spec.reg_images is not None:
        prep.settings["reg_images"] = {
            "path": str(spec.reg_images),
            "sha256": _sha(spec.reg_images),
        }
        return as_images(load_npy(spec.reg_images, "--reg-images"), "--reg-images")
    data = (
        reg_set
        if reg_set is not None
        else (load_data(spec.reg_data, "train", spec.data_dir) if spec.reg_data else prep.train)
    )
    n = min(len(data), prep.recipe.reg_size)
    idx = torch.randperm(len(data), generator=_gen(spec.seed, "reg"))[:n].sort().values
    prep.settings["reg_data"] = {
        "spec": spec.reg_data or spec.dataset,
        "images": n,
        "sha256": data.info.sha256,
    }
    return data.load(idx)[0]


def _pair_target(spec: TrainSpec, prep: Prepared, raw: Tensor) -> sim.PairTarget:
    n = raw.shape[0]
    if spec.kind == "pixel":
        prep.settings["threshold"] = prep.recipe.threshold
        return sim.PairTarget(embedding=sim.pixel_embedding(raw), threshold=prep.recipe.threshold)
    if spec.similarity is not None:
        s = load_npy(spec.similarity, "--similarity")
        sim.check_similarity_matrix(s, n)
        prep.settings["similarity"] = {
            "path": str(spec.similarity),
            "sha256": _sha(spec.similarity),
        }
        return sim.PairTarget(matrix=torch.from_numpy(s.astype(np.float32)))
    assert spec.responses is not None
    r = load_npy(spec.responses, "--responses")
    if r.ndim not in (2, 3) or r.shape[0] != n:
        raise RobauditError(
            f"--responses must be N × neurons or N × repeats × neurons with N = {n} "
            f"(the --reg-images count), got shape {r.shape}"
        )
    if not np.all(np.isfinite(r)):
        raise RobauditError("--responses contains NaN or infinite values")
    embedding, weights = sim.neural_embedding(r.astype(np.float64))
    prep.settings["responses"] = {
        "path": str(spec.responses),
        "sha256": _sha(spec.responses),
        "snr_weights": None if weights is None else weights.tolist(),
    }
    return sim.PairTarget(embedding=embedding)


def _response_targets(spec: TrainSpec, raw: Tensor) -> Tensor:
    if spec.predictor is not None:
        from robaudit.models.wrapper import resolve_device

        return resp.predictor_targets(spec.predictor, raw, resolve_device(spec.device))
    assert spec.responses is not None
    return resp.prepare_responses(load_npy(spec.responses, "--responses"), raw.shape[0], spec.loss)


def load_npy(path: Path, what: str) -> np.ndarray:
    """np.load without pickles, with a clear error for missing or unreadable files."""
    if not Path(path).is_file():
        raise RobauditError(f"{what} file {path} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise RobauditError(f"cannot read {what} {path} as a .npy array: {exc}") from None
    if not np.issubdtype(array.dtype, np.number):
        raise RobauditError(f"{what} must hold numbers, got dtype {array.dtype}")
    return array


def as_images(array: np.ndarray, what: str) -> Tensor:
    """(N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float in [0, 1] → float (N, C, H, W)."""
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] < 2:
        raise RobauditError(f"{what} must be N×H×W, N×H×W×C or N×C×H×W (C 1 or 3, N ≥ 2), got {array.shape}")
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255.0)
    if not np.all(np.isfinite(array)):
        raise RobauditError(f"{what} contains NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise RobauditError(f"{what} floats must lie in [0, 1] (or pass uint8 0–255)")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def match_images(x: Tensor, c: int, h: int, w: int) -> Tensor:
    """Bring images (N, C', H', W') to the task's channels (luminance / repeat) and size."""
    if x.shape[1] == 1 and c == 3:
        x = x.expand(-1, 3, -1, -1).contiguous()
    elif x.shape[1] == 3 and c == 1:
        x = (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if tuple(x.shape[-2:]) != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
