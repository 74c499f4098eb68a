"""Remote model zoos: torchvision, timm and RobustBench (each also accepts local weights)."""

from __future__ import annotations

import os

from torch import nn

from robaudit.errors import RobauditError
from robaudit.models.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODEL_SOURCES,
    LoadOptions,
    ModelSource,
    load_weights_into,
    offline_error,
)
from robaudit.models.wrapper import ModelInfo
from robaudit.registry import suggest
from robaudit.robustbench_import import import_robustbench


def _unknown(kind: str, name: str, choices: list[str], how: str) -> RobauditError:
    return RobauditError(f"unknown {kind} model {name!r}.{suggest(name, choices)} {how}")


@MODEL_SOURCES.register("torchvision")
class TorchvisionSource(ModelSource):
    """``torchvision:NAME``; ``--weights`` takes a weights enum name (e.g. IMAGENET1K_V2) or a
    local state-dict file. Default: the model's DEFAULT weights."""

    prefix = "torchvision"
    description = "torchvision.models classifiers (ImageNet weights)"

    def available(self) -> list[str]:
        import torchvision

        return sorted(torchvision.models.list_models(module=torchvision.models))

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        import torchvision

        if name not in self.available():
            raise _unknown("torchvision", name, self.available(), "See `robaudit models --source torchvision`.")
        local = options.weights if options.weights and options.weights.suffix else None
        enum_name = str(options.weights) if options.weights and not local else "DEFAULT"
        try:
            weights = torchvision.models.get_model_weights(name)[enum_name]
        except KeyError:
            names = [w.name for w in torchvision.models.get_model_weights(name)]
            raise RobauditError(
                f"torchvision {name} has no weights {enum_name!r}; choose one of {', '.join(names)} "
                "or pass a state-dict file"
            ) from None
        try:
            net = torchvision.models.get_model(name, weights=None if local else weights)
        except OSError as exc:  # URLError is an OSError
            raise offline_error(
                f"torchvision weights {weights}", exc,
                "pass --weights PATH to a local state dict, or place the file in $TORCH_HOME/hub/checkpoints",
            ) from None
        if local:
            load_weights_into(net, local)
        transform = weights.transforms()
        crop = int(transform.crop_size[0])
        categories: list[str] = list(weights.meta.get("categories") or [])
        info = ModelInfo(
            spec=f"torchvision:{name}", source="torchvision", name=name,
            input_size=(3, crop, crop), num_classes=len(categories) or 1000,
            mean=tuple(transform.mean), std=tuple(transform.std), class_names=categories or None,
            crop_pct=crop / float(transform.resize_size[0]),
            interpolation=transform.interpolation.value,
            extra={"weights": str(local) if local else weights.name},
        )
        return net, info


@MODEL_SOURCES.register("timm")
class TimmSource(ModelSource):
    """``timm:NAME`` with pretrained weights from the hub; ``--weights PATH`` for a local file.
    Mean, std, input size, crop and interpolation come from the model's pretrained config."""

    prefix = "timm"
    description = "timm models (pretrained config gives mean/std/input size)"

    def available(self) -> list[str]:
        import timm

        return list(timm.list_models(pretrained=True))

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        import timm
        from timm.data import resolve_data_config

        if not timm.is_model(name.split(".")[0]):
            raise _unknown("timm", name, timm.list_models(), "See `robaudit models --source timm`.")
        local = options.weights
        try:
            net = timm.create_model(name, pretrained=local is None)
        except Exception as exc:  # hub errors vary: LocalEntryNotFoundError, OSError, HTTPError
            raise offline_error(
                f"timm weights for {name}", exc,
                "pass --weights PATH to a local state dict (or set HF_HUB_OFFLINE=1 with a filled hub cache)",
            ) from None
        if local:
            load_weights_into(net, local)
        config = resolve_data_config({}, model=net, use_test_size=True)  # eval-time size
        info = ModelInfo(
            spec=f"timm:{name}", source="timm", name=name,
            input_size=tuple(config["input_size"]),
            num_classes=int(getattr(net, "num_classes", 1000)),
            mean=tuple(config["mean"]), std=tuple(config["std"]),
            crop_pct=float(config.get("crop_pct", 0.875)),
            interpolation=str(config.get("interpolation", "bicubic")),
            extra={"weights": str(local) if local else "pretrained"},
        )
        return net, info


ROBUSTBENCH_SIZES = {"cifar10": (3, 32, 32), "cifar100": (3, 32, 32), "imagenet": (3, 224, 224)}
ROBUSTBENCH_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}


@MODEL_SOURCES.register("robustbench")
class RobustBenchSource(ModelSource):
    """``robustbench:NAME`` or ``robustbench:DATASET/THREAT/NAME`` (default cifar10/Linf).
    ``--model-dir`` points at checkpoints already on disk as ``<dir>/<dataset>/<threat>/<name>.pt``.
    RobustBench models take [0, 1] input (normalisation is already inside), so mean 0, std 1."""

    prefix = "robustbench"
    description = "RobustBench model zoo (DATASET/THREAT/NAME)"

    def zoo(self) -> dict[str, dict[str, list[str]]]:
        import_robustbench()
        from robustbench.model_zoo import model_dicts

        return {
            ds.value: {tm.value: sorted(models) for tm, models in by_threat.items()}
            for ds, by_threat in model_dicts.items()
        }

    def available(self) -> list[str]:
        return [
            f"{ds}/{tm}/{name}"
            for ds, by_threat in self.zoo().items()
            for tm, names in by_threat.items()
            for name in names
        ]

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        parts = name.split("/")
        dataset, threat, model_name = (["cifar10", "Linf", *parts] if len(parts) == 1 else parts)[-3:]
        zoo = self.zoo()
        if dataset not in zoo:
            raise _unknown("robustbench dataset", dataset, list(zoo), f"Valid: {', '.join(zoo)}.")
        if threat not in zoo[dataset]:
            raise _unknown("robustbench threat", threat, list(zoo[dataset]), f"Valid: {', '.join(zoo[dataset])}.")
        if model_name not in zoo[dataset][threat]:
            raise _unknown(
                f"robustbench {dataset}/{threat}", model_name, zoo[dataset][threat],
                f"See `robaudit models --source robustbench {dataset}`.",
            )
        from robustbench.utils import load_model as rb_load

        model_dir = options.model_dir or os.environ.get("ROBAUDIT_ROBUSTBENCH_DIR", "./models")
        try:
            net = rb_load(model_name=model_name, model_dir=str(model_dir), dataset=dataset, threat_model=threat)
        except Exception as exc:  # gdown / requests errors when offline
            raise offline_error(
                f"RobustBench model {dataset}/{threat}/{model_name}", exc,
                f"put the checkpoint at {model_dir}/{dataset}/{threat}/{model_name}.pt and pass --model-dir",
            ) from None
        info = ModelInfo(
            spec=f"robustbench:{dataset}/{threat}/{model_name}", source="robustbench", name=model_name,
            input_size=ROBUSTBENCH_SIZES[dataset], num_classes=ROBUSTBENCH_CLASSES[dataset],
            mean=(0.0,), std=(1.0,),
            extra={"dataset": dataset, "threat_model": threat,
                   "note": "normalisation is inside the RobustBench model"},
        )
        if dataset == "imagenet":
            info.mean, info.std = (0.0,), (1.0,)
            info.crop_pct = 224 / 256
        return net, info


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "import_robustbench"]
