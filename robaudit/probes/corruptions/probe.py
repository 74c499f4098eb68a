"""Corruption-category probe: accuracy under the 15 common corruptions × 5 severities.

Images come from a prebuilt set (``corruptions_dir``: CIFAR-10-C / ImageNet-C layouts) or are
generated on the fly from ``ctx.data`` with :func:`robaudit.corruptions.apply_corruption`.
One cached unit per (corruption, severity), per noise-sweep level and for the clean images, so a
killed run resumes where it stopped. Definitions and categories: docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from robaudit.config import check_value, setting, settings_info
from robaudit.corruptions import CORRUPTION_NAMES, CORRUPTIONS, apply_corruption, metrics
from robaudit.corruptions._ops import to_grey
from robaudit.corruptions.constants import pick_reference
from robaudit.corruptions.ondisk import CorruptionSet, FolderSet, open_corruption_set
from robaudit.data.base import ImageSet
from robaudit.errors import RobauditError
from robaudit.models.wrapper import AuditedModel
from robaudit.probes.base import PROBES, GridCell, Probe, ProbeContext, ProbeResult
from robaudit.probes.corruptions import render
from robaudit.probes.corruptions.section import CorruptionMetrics
from robaudit.seeding import seeded_subset

NAME = "corruptions"
DEFAULT_NOISE_SWEEP = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2]


def generation_chunk(height: int, width: int) -> int:
    """Images corrupted together (fixed per image size, so results do not depend on the batch
    size: every chunk draws from its own seeded generator). Small for large images, which keeps
    the working set in the CPU cache; the model still sees ``batch_size`` images at a time."""
    return 250 if height * width <= 64 * 64 else 16


@dataclass
class CorruptionSettings:
    """Which corruptions and severities, on how many images, from a prebuilt set or generated."""

    corruptions_dir: str | None = setting(
        None, flag="corruptions-dir", metavar="DIR", path=True,
        help="CIFAR-10-C / ImageNet-C folder, or fetch:CIFAR-10-C (default: generate on the fly)")
    corruptions: list[str] | None = setting(None, help="corruption names (default: all 15)")
    severities: list[int] = setting(factory=lambda: [1, 2, 3, 4, 5], help="severities, a subset of 1..5",
                                    minimum=1, maximum=5)
    n_images: int | None = setting(1000, help="seeded subset of images (None: all)", flag="n-images", minimum=1)
    grey: bool = setting(False, help="evaluate greyscale versions of the images", flag="grey")
    baseline_report: str | None = setting(None, help="a baseline model's report.json for mCE-style relative error",
                                          path=True)
    noise_sweep: list[float] = setting(factory=lambda: list(DEFAULT_NOISE_SWEEP), minimum=0.0, maximum=1.0,
                                       help="Gaussian noise std grid ([0, 1] pixel units)")

    def __post_init__(self) -> None:
        for info in settings_info(type(self)):  # the same rules as flags and --set
            setattr(self, info.name, check_value(info, getattr(self, info.name), f"probe {NAME}"))
        for name in self.corruptions or []:
            CORRUPTIONS.get(name)  # unknown names raise with suggestions
        if not self.severities:
            raise RobauditError(f"probe {NAME} setting severities must be a non-empty subset of 1..5")
        if self.corruptions_dir and self.corruptions_dir.startswith("fetch:"):
            # fetch:CIFAR-10-C / fetch:CIFAR-100-C downloads the official archive (network) once
            # into $ROBAUDIT_HOME/data and uses it from there.
            from robaudit.corruptions.archive import fetch_cifar_c
            from robaudit.embedded import robaudit_home

            name = self.corruptions_dir.removeprefix("fetch:")
            self.corruptions_dir = str(fetch_cifar_c(name, robaudit_home() / "data"))
        if self.corruptions_dir:
            source = open_corruption_set(self.corruptions_dir)  # fails fast, before any work
            source.check(self.names(), self.severities)

    def names(self) -> list[str]:
        return list(self.corruptions) if self.corruptions else list(CORRUPTION_NAMES)


@PROBES.register(NAME)
class CorruptionProbe(Probe):
    name = NAME
    Settings = CorruptionSettings
    Metrics = CorruptionMetrics
    renderer: ClassVar[Any] = render
    settings: CorruptionSettings

    def check_inputs(self, model: AuditedModel, data: ImageSet, seed: int) -> None:
        """A prebuilt set and a baseline report must come from this run's data (docs/reliability.md)."""
        from robaudit.corruptions.provenance import check_baseline, check_set

        st = self.settings
        source = open_corruption_set(st.corruptions_dir) if st.corruptions_dir else None
        if source is not None:
            check_set(source, data, seed)
        if st.baseline_report:
            total = self._population(len(data), source)
            check_baseline(st.baseline_report, data.info, source, images=min(total, st.n_images or total),
                           subset=(st.n_images or total) < total, seed=seed)

    def _population(self, n_data: int, source: CorruptionSet | None) -> int:
        """How many images the seeded subset is drawn from: the data's, or a prebuilt set's (its
        image i is the data's image i, provenance.check_set) where it holds fewer."""
        if source is None:
            return n_data
        st = self.settings
        return min(n_data, *(source.num_images(n, s) for n in st.names() for s in st.severities))

    def run(self, ctx: ProbeContext) -> ProbeResult:
        st = self.settings
        names, severities = st.names(), sorted(st.severities)
        source = open_corruption_set(st.corruptions_dir) if st.corruptions_dir else None
        if source is not None:
            source.check(names, severities)
            self._check_size(ctx, source.image_size())
        baseline = metrics.load_baseline(st.baseline_report) if st.baseline_report else None
        idx = seeded_subset(self._population(len(ctx.data), source), st.n_images,
                            ctx.generator("corruptions", "subset"))
        # Clean accuracy on the very images that were corrupted; the unit is named by their count and
        # first and last index, so a cached count of other images is never reused.
        span = f"{int(idx[0])}-{int(idx[-1])}" if len(idx) else "none"
        clean = ctx.cache.get_or_compute(f"clean/n={len(idx)}/{span}/majority",
                                         partial(self._count, ctx, idx, None, 0))
        accuracy: dict[str, dict[str, float]] = {}
        cells = [(n, s) for n in names for s in severities]
        for name, sev in ctx.track(cells, "corruptions", len(cells)):
            if isinstance(source, FolderSet):
                source.check_files(name, sev, idx)
            unit = ctx.cache.get_or_compute(f"{name}/severity={sev}",
                                            partial(self._count, ctx, idx, source, sev, name))
            accuracy.setdefault(name, {})[str(sev)] = unit["correct"] / unit["total"]
        sweep = self._noise_sweep(ctx, idx)
        return self._result(ctx, source, accuracy, clean, sweep, baseline, len(idx))

    def _check_size(self, ctx: ProbeContext, size: tuple[int, int, int]) -> None:
        want = tuple(ctx.model.info.input_size)
        if tuple(size[1:]) != tuple(want[1:]):
            raise RobauditError(
                f"the corruption set's images are {size[1]}×{size[2]} but {ctx.model.info.spec} "
                f"takes {want[1]}×{want[2]}; prebuilt sets are used at their stored size, never "
                "resized — use a matching model or generate corruptions on the fly"
            )

    def _model_input(self, ctx: ProbeContext, x: Tensor) -> Tensor:
        """Grey conversion (``grey``) and channel matching for the model: (n, C, H, W)."""
        channels = ctx.model.info.input_size[0]
        if self.settings.grey or (channels == 1 and x.shape[1] == 3):
            x = to_grey(x)
        return x.expand(-1, channels, -1, -1) if x.shape[1] != channels else x

    def _count(self, ctx: ProbeContext, idx: Tensor, source: CorruptionSet | None,
               severity: int, name: str | None = None) -> dict[str, Any]:
        """Correct predictions on images idx: clean (name None), from source, or generated.

        Not ``ctx.evaluate_grid``: a cell's images come from a prebuilt set or from the data, in
        generation chunks fixed by the image size (so the draws do not depend on the batch size),
        and chunks are pooled up to ``ctx.batch_size`` before each model call."""
        c, h, w = ctx.data.info.image_size if source is None else source.image_size()
        chunk = generation_chunk(h, w)
        pending: list[tuple[Tensor, Tensor]] = []
        correct, predicted = 0, torch.zeros(ctx.model.info.num_classes, dtype=torch.long)
        for start in range(0, len(idx), chunk):
            part = idx[start : start + chunk]
            if source is not None and name is not None:
                x, y = source.load(name, severity, part)
                x, y = x.to(ctx.device), y.to(ctx.device)
            else:
                x, y = ctx.load(part)
                if name is not None:
                    x = apply_corruption(x, name, severity, ctx.generator("corruptions", name, severity, start))
            pending.append((self._model_input(ctx, x), y))
            if sum(len(p[1]) for p in pending) >= ctx.batch_size or start + chunk >= len(idx):
                xs, ys = torch.cat([p[0] for p in pending]), torch.cat([p[1] for p in pending])
                top = ctx.predict_logits(xs).argmax(-1)
                correct += int((top == ys).sum())
                predicted += torch.bincount(top.cpu(), minlength=len(predicted))[: len(predicted)]
                pending = []
        return {"correct": correct, "total": len(idx), "majority": int(predicted.max()) if len(idx) else 0}

    def _refusal(self, ctx: ProbeContext, clean: dict[str, Any]) -> str | None:
        """Why no verdict is given on this model (it predicts one class for every clean image, or
        is not above chance by the binomial test of probes/clean.py), else None."""
        from robaudit.probes.clean import check_clean

        total = int(clean["total"])
        share = int(clean["majority"]) / total if total else 0.0
        return check_clean(int(clean["correct"]), total, 1 / ctx.model.info.num_classes, share).refusal

    def _noise_sweep(self, ctx: ProbeContext, idx: Tensor) -> list[float]:
        """Accuracy under x + N(0, std²), clipped to [0, 1], per std of the sweep (2019 paper, Fig. 4)."""
        _, h, w = ctx.data.info.image_size

        def noisy(x: Tensor, cell: GridCell, start: int) -> Tensor:
            noise = torch.randn(x.shape, generator=ctx.generator("corruptions", "noise_sweep", cell.params, start))
            return self._model_input(ctx, (x + cell.params * noise.to(x.device)).clamp_(0.0, 1.0))[None]

        cells = [GridCell(f"noise_sweep/std={std}", std) for std in self.settings.noise_sweep]
        counts = ctx.evaluate_grid(cells, idx, noisy, "noise sweep", chunk=generation_chunk(h, w))
        return [int(counts[cell.key][0]) / len(idx) for cell in cells]

    def _result(self, ctx: ProbeContext, source: CorruptionSet | None, accuracy: dict[str, dict[str, float]],
                clean: dict[str, Any], sweep: list[float], baseline: dict[str, Any] | None, n: int) -> ProbeResult:
        st = self.settings
        severities = sorted(st.severities)
        clean_acc = clean["correct"] / clean["total"]
        _, h, w = ctx.data.info.image_size
        ref, scale = pick_reference(h, w)
        out: dict[str, Any] = {
            "source": "generated" if source is None else f"{source.layout}:{source.root}",
            "parameter_table": None if source else {"reference_size": ref, "scale": scale},
            "corruptions": list(accuracy), "severities": severities, "grey": st.grey,
            "n_images": n, "n_clean_images": clean["total"], "clean_accuracy": clean_acc,
            "accuracy": accuracy,
        }
        out.update(metrics.summarise(accuracy, severities))
        refusal = self._refusal(ctx, clean)
        if refusal is not None:  # accuracies of a model that learnt nothing say nothing about corruptions
            out.update(overall_mean=None, category_mean=dict.fromkeys(out["category_mean"]), verdict_refused=True,
                       refusal=refusal)
        out["noise_sweep"] = {"std": list(st.noise_sweep), "accuracy": sweep}
        if baseline is not None:
            out["relative_error"] = metrics.relative_error(accuracy, clean_acc, baseline, severities)
            out["relative_error"]["baseline"] = str(st.baseline_report)
        table = np.array([[accuracy[c][str(s)] for s in severities] for c in accuracy])
        arrays = {"accuracy": table, "noise_sweep_std": np.array(st.noise_sweep),
                  "noise_sweep_accuracy": np.array(sweep)}
        flags = [f"no verdict: {out['refusal']}"] if out.get("verdict_refused") else []
        if source is None and scale != 1.0:
            flags.append(f"{h}×{w} images use the {ref} px corruption table with lengths scaled by {scale:.3f}")
        return ProbeResult(self.name, self.settings_json(), out, arrays, flags)

