"""Reference kinds: what each kind of reference model adds to plain training.

A kind is one registered :class:`ReferenceKind` class: its fixed pre-filter (blur, PCA or none),
its regularizer (similarity to a target, a response readout or none), its recipe defaults and the
inputs it needs. setup, the trainer and the checkpoint ask the kind object; nothing else names a
kind. A new kind is one registered class plus one row in tests/test_references_kinds.py.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from robaudit.data.base import ImageSet
from robaudit.digests import file_sha256
from robaudit.errors import RobauditError
from robaudit.references import backbones as bb
from robaudit.references import response as resp
from robaudit.references import similarity as sim
from robaudit.references.inputs import as_images, load_data, load_npy, match_images, normalise
from robaudit.references.layers import check_pca_size, fit_pca
from robaudit.references.recipes import Recipe, apply_overrides, base_recipe
from robaudit.references.regularizers import Regularizer, ResponseRegularizer, SimilarityRegularizer
from robaudit.references.spec import Prepared, TrainSpec
from robaudit.registry import Registry
from robaudit.seeding import seeded_generator

PCA_IMAGES = 10000  # images used to fit PCA (≤ 10 000 × 16 384 floats)


class ReferenceKind:
    """One kind of reference model; the defaults describe plain supervised training."""

    name: ClassVar[str]
    description: ClassVar[str]
    alpha: ClassVar[dict[str, float]] = {}  # recipe name → default regularization strength α
    paper_grey: ClassVar[bool] = False  # the paper recipe trains on greyscale images
    paper_notes: ClassVar[tuple[str, ...]] = ()  # paper settings this kind does not reproduce
    plot_group: ClassVar[str] = "regularized"  # how the leaderboard's scatter plots mark such models

    def recipe(self, name: str, arch: str, image_size: int, overrides: dict[str, Any]) -> Recipe:
        """The recipe ``name`` with this kind's defaults, then ``overrides``."""
        recipe = base_recipe(name, image_size, arch.startswith(("timm:", "torchvision:")))
        recipe.alpha = self.alpha.get(name, self.alpha.get("default", 0.0))
        if name == "paper":
            recipe.grey = self.paper_grey
            recipe.notes.extend(self.paper_notes)
        return apply_overrides(recipe, overrides)

    def check_inputs(self, spec: TrainSpec) -> None:
        """Raise a RobauditError when an input file or option the kind needs is missing."""
        return None

    def prefilter(self, recipe: Recipe, channels: int, hw: tuple[int, int]) -> list[dict[str, Any]]:
        """Descriptions of the fixed layers between the (grey) input and the backbone."""
        return []

    def fit(self, prep: Prepared, seed: int) -> None:
        """Fit fixed layers on the (normalised) training images, after the channel statistics."""
        return None

    def regularizer(self, spec: TrainSpec, prep: Prepared, reg_set: ImageSet | None,
                    backbone_in: tuple[int, int, int], predictor: nn.Module | None) -> Regularizer | None:
        """The regularizer and its targets (None: the task loss only)."""
        return None


REFERENCE_KINDS: Registry[type[ReferenceKind]] = Registry("reference kind")


def make_recipe(name: str, kind: str, arch: str, image_size: int, overrides: dict[str, Any] | None = None) -> Recipe:
    """The recipe ``name`` for this kind/arch/image size, with ``overrides`` applied last."""
    return REFERENCE_KINDS.get(kind)().recipe(name, arch, image_size, overrides or {})


@REFERENCE_KINDS.register("baseline")
class Baseline(ReferenceKind):
    name, description = "baseline", "plain supervised training (the comparison point)"
    plot_group = "reference baseline"


@REFERENCE_KINDS.register("blur")
class Blur(ReferenceKind):
    name, description = "blur", "a fixed Gaussian blur (σ = --sigma px) before the backbone"
    plot_group = "blur"
    paper_notes = ("the 2023 paper does not state its CIFAR schedule; the 2019 one is used",)

    def prefilter(self, recipe: Recipe, channels: int, hw: tuple[int, int]) -> list[dict[str, Any]]:
        half = max(1, math.ceil(2.5 * recipe.sigma))
        if half >= min(hw):
            raise RobauditError(f"--sigma {recipe.sigma} needs a {2 * half + 1}-px kernel; images are {hw}")
        return [{"type": "blur", "channels": channels, "sigma": recipe.sigma}]


@REFERENCE_KINDS.register("pca")
class PCA(ReferenceKind):
    name, description = "pca", "a fixed projection onto the top --components principal components"
    plot_group = "PCA"
    paper_notes = Blur.paper_notes

    def prefilter(self, recipe: Recipe, channels: int, hw: tuple[int, int]) -> list[dict[str, Any]]:
        check_pca_size((channels, *hw), recipe.components)
        return [{"type": "pca", "components": recipe.components, "dim": channels * hw[0] * hw[1],
                 "centre": recipe.pca_centre}]

    def fit(self, prep: Prepared, seed: int) -> None:
        n = len(prep.train)
        idx = torch.randperm(n, generator=seeded_generator(seed, "pca"))[: min(n, PCA_IMAGES)].sort().values
        x = normalise(prep.train.load(idx)[0], prep.mean, prep.std)
        with torch.no_grad():
            for name in ("grey", "repeat"):  # the layers ahead of the projection
                if name in prep.net.pre._modules:
                    x = prep.net.pre.get_submodule(name)(x)
        fitted = fit_pca(x, prep.recipe.components, prep.recipe.pca_centre)
        prep.net.pre.get_submodule("pca").load_state_dict(fitted.state_dict())
        prep.settings["pca_fit_images"] = len(idx)


class _Similarity(ReferenceKind):
    """Layer similarity S_cnn(i, j) of pairs of regularization images matched to a target."""

    def regularizer(self, spec: TrainSpec, prep: Prepared, reg_set: ImageSet | None,
                    backbone_in: tuple[int, int, int], predictor: nn.Module | None) -> Regularizer | None:
        raw = regularization_images(spec, prep, reg_set)
        backbone = prep.net.backbone
        layers = spec.layers or bb.default_feature_layers(backbone)
        bb.check_layers(backbone, layers)
        dims = [int(np.prod(s)) for s in bb.feature_shapes(backbone, layers, backbone_in)]
        target = self.target(spec, prep, raw)
        images = match_images(raw, *prep.train.info.image_size)
        return SimilarityRegularizer(sim.LayerSimilarity(layers, dims), layers, images, target, prep.settings)

    def target(self, spec: TrainSpec, prep: Prepared, raw: Tensor) -> sim.PairTarget:
        raise NotImplementedError


@REFERENCE_KINDS.register("neural")
class Neural(_Similarity):
    name, description = "neural", "similarity to a neural similarity matrix or recorded responses"
    alpha = {"default": 10.0, "paper": 20.0}
    paper_grey = True

    def check_inputs(self, spec: TrainSpec) -> None:
        if spec.reg_images is None or (spec.similarity or spec.responses) is None:
            raise RobauditError("neural needs --reg-images X.npy and --similarity S.npy or --responses R.npy")
        if spec.similarity and spec.responses:
            raise RobauditError("give --similarity or --responses, not both")

    def target(self, spec: TrainSpec, prep: Prepared, raw: Tensor) -> sim.PairTarget:
        n = raw.shape[0]
        if spec.similarity is not None:
            s = load_npy(spec.similarity, "--similarity")
            sim.check_similarity_matrix(s, n)
            prep.settings["similarity"] = {"path": str(spec.similarity), "sha256": file_sha256(spec.similarity)}
            return sim.PairTarget(matrix=torch.from_numpy(s.astype(np.float32)))
        assert spec.responses is not None
        r = load_npy(spec.responses, "--responses")
        if r.ndim not in (2, 3) or r.shape[0] != n:
            raise RobauditError(f"--responses must be N × neurons or N × repeats × neurons with N = {n} "
                                f"(the --reg-images count), got shape {r.shape}")
        if not np.all(np.isfinite(r)):
            raise RobauditError("--responses contains NaN or infinite values")
        embedding, weights = sim.neural_embedding(r.astype(np.float64))
        prep.settings["responses"] = {"path": str(spec.responses), "sha256": file_sha256(spec.responses),
                                      "snr_weights": None if weights is None else weights.tolist()}
        return sim.PairTarget(embedding=embedding)


@REFERENCE_KINDS.register("pixel")
class Pixel(_Similarity):
    name, description = "pixel", "similarity to thresholded pixel-space similarity (Attias et al.)"
    alpha = {"default": 10.0, "paper": 10.0}

    def target(self, spec: TrainSpec, prep: Prepared, raw: Tensor) -> sim.PairTarget:
        prep.settings["threshold"] = prep.recipe.threshold
        return sim.PairTarget(embedding=sim.pixel_embedding(raw), threshold=prep.recipe.threshold)


@REFERENCE_KINDS.register("response")
class Response(ReferenceKind):
    name, description = "response", "a readout predicts recorded responses or a predictor model's outputs"
    alpha = {"default": 1.0, "paper": 1.0}
    paper_notes = ("Safarani et al. / Ma & Shao schedules are not reproduced; α = 1",)

    def check_inputs(self, spec: TrainSpec) -> None:
        if not ((spec.responses is not None and spec.reg_images is not None) or spec.predictor is not None):
            raise RobauditError("response needs --responses R.npy with --reg-images X.npy, or --predictor SPEC")
        if spec.loss not in resp.LOSSES:
            raise RobauditError(f"--loss must be poisson or mse, got {spec.loss!r}")

    def regularizer(self, spec: TrainSpec, prep: Prepared, reg_set: ImageSet | None,
                    backbone_in: tuple[int, int, int], predictor: nn.Module | None) -> Regularizer | None:
        raw = regularization_images(spec, prep, reg_set)
        backbone = prep.net.backbone
        layer = spec.layer or bb.default_readout_layer(backbone)
        bb.check_layers(backbone, [layer])
        shape = bb.feature_shapes(backbone, [layer], backbone_in)[0]
        if spec.predictor is not None:
            if predictor is None:
                raise RobauditError("--predictor needs its model: pass predictor=robaudit.load_model(SPEC)")
            targets, loss = resp.predictor_targets(predictor, raw), "mse"
        else:
            assert spec.responses is not None
            targets = resp.prepare_responses(load_npy(spec.responses, "--responses"), raw.shape[0], spec.loss)
            loss = spec.loss
        prep.settings.update(loss=loss)
        pool = prep.recipe.readout_pool
        head = resp.ResponseReadout(resp.readout_in_features(shape, pool), targets.shape[1], pool)
        images = match_images(raw, *prep.train.info.image_size)
        return ResponseRegularizer(head, layer, images, targets, loss, prep.settings)


def regularization_images(spec: TrainSpec, prep: Prepared, reg_set: ImageSet | None) -> Tensor:
    """The regularization images (N, C', H', W') in [0, 1]: --reg-images, else a seeded subset of
    --reg-data (or of the training set)."""
    if spec.reg_images is not None:
        prep.settings["reg_images"] = {"path": str(spec.reg_images), "sha256": file_sha256(spec.reg_images)}
        return as_images(load_npy(spec.reg_images, "--reg-images"), "--reg-images")
    if reg_set is not None:
        data = reg_set
    else:
        data = load_data(spec.reg_data, "train", spec.data_dir) if spec.reg_data else prep.train
    n = min(len(data), prep.recipe.reg_size)
    idx = torch.randperm(len(data), generator=seeded_generator(spec.seed, "reg"))[:n].sort().values
    prep.settings["reg_data"] = {"spec": spec.reg_data or spec.dataset, "images": n, "sha256": data.info.sha256}
    return data.load(idx)[0]
