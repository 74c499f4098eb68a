"""Remote model zoos: torchvision and timm (each also accepts local weights); RobustBench is in
``robustbench_source.py``."""

from __future__ import annotations

from torch import nn

from robaudit.errors import RobauditError
from robaudit.models import hub
from robaudit.models.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODEL_SOURCES,
    LoadOptions,
    ModelSource,
    load_weights_into,
    offline_error,
    unknown_model,
)
from robaudit.models.wrapper import ModelInfo
from robaudit.registry import suggest
from robaudit.robustbench_import import import_robustbench


@MODEL_SOURCES.register("torchvision")
class TorchvisionSource(ModelSource):
    """``torchvision:NAME``; ``--weights`` takes a weights enum name (e.g. IMAGENET1K_V2) or a
    local state-dict file. Default: the model's DEFAULT weights."""

    prefix = "torchvision"
    description = "torchvision.models classifiers (ImageNet weights)"
    takes_weights = True

    def available(self) -> list[str]:
        import torchvision

        return sorted(torchvision.models.list_models(module=torchvision.models))

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        import torchvision

        if name not in self.available():
            raise unknown_model("torchvision", name, self.available(), "See `robaudit models --source torchvision`.")
        given = options.weights
        # a path with a suffix, or any existing file, is a state dict; otherwise a weights enum name
        local = given if given and (given.suffix or given.expanduser().is_file()) else None
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
    """``timm:NAME`` or ``timm:NAME.TAG`` with pretrained weights from the local cache or the hub;
    ``--weights PATH`` for a local file. Mean, std, input size, crop and interpolation come from
    the pretrained config of the tag (timm's default tag when none is given), recorded in
    ``extra["pretrained_cfg"]``."""

    prefix = "timm"
    description = "timm models (pretrained config gives mean/std/input size)"
    takes_weights = True

    def available(self) -> list[str]:
        import timm

        return list(timm.list_models(pretrained=True))

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        import timm
        from timm.data import resolve_data_config

        if not timm.is_model(name.split(".")[0]):
            raise unknown_model("timm", name, timm.list_models(), "See `robaudit models --source timm`.")
        _check_timm_tag(name)
        local = options.weights
        net = timm.create_model(name, pretrained=False) if local else _pretrained_timm(name)
        if local:
            load_weights_into(net, local)
        config = resolve_data_config({}, model=net, use_test_size=True)  # the tag's eval-time recipe
        info = ModelInfo(
            spec=f"timm:{name}", source="timm", name=name,
            input_size=tuple(config["input_size"]),
            num_classes=int(getattr(net, "num_classes", 1000)),
            mean=tuple(config["mean"]), std=tuple(config["std"]),
            crop_pct=float(config.get("crop_pct", 0.875)),
            interpolation=str(config.get("interpolation", "bicubic")),
            extra={"weights": str(local) if local else "pretrained", **_config_origin(name, net, local)},
        )
        return net, info


def _check_timm_tag(name: str) -> None:
    """Refuse ``ARCH.TAG`` when timm has no pretrained config of that tag (read from timm's own
    registry, offline), naming the close matches and the architecture's tags."""
    import timm

    arch, sep, tag = name.partition(".")
    if not sep:
        return
    tags = [t.partition(".")[2] for t in timm.list_pretrained(f"{arch}.*") if t.partition(".")[0] == arch]
    if tag in tags:
        return
    if not tags:
        raise RobauditError(f"timm {arch} has no pretrained tags, so not {tag!r}; use timm:{arch} with --weights PATH")
    raise RobauditError(f"timm {arch} has no pretrained tag {tag!r}.{suggest(tag, tags)} "
                        f"Valid tags: {', '.join(tags)}.")


def _pretrained_timm(name: str) -> nn.Module:
    """timm model ``name`` with its pretrained weights: read from the local cache when there,
    else downloaded (after :func:`hub.ensure_available` has checked that a download can work)."""
    import timm

    cached = hub.ensure_available(name, hub.local_file_hint(f"timm:{name}"))
    overlay = {"state_dict": hub.read_weights(cached)} if cached else None
    try:
        net = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except Exception as exc:  # hub errors vary: LocalEntryNotFoundError, OSError, HTTPError
        raise offline_error(f"timm weights for {name}", exc, hub.local_file_hint(f"timm:{name}")) from None
    net.pretrained_cfg.pop("state_dict", None)  # timm keeps the overlay: drop the second copy of the weights
    return net


def _config_origin(name: str, net: nn.Module, local: object) -> dict[str, str]:
    """Which pretrained config set the preprocessing (and, for local weights of an untagged name,
    that it is timm's default tag's, which may not be the tag the weights come from)."""
    cfg = getattr(net, "pretrained_cfg", {}) or {}
    arch, tag = cfg.get("architecture") or name.split(".")[0], cfg.get("tag")
    used = f"{arch}.{tag}" if tag else arch
    origin = {"pretrained_cfg": used}
    if local and "." not in name and tag:
        origin["pretrained_cfg_note"] = (
            f"input size, mean/std, crop and interpolation are those of timm's default tag {used}; "
            f"name the tag your weights come from (timm:{arch}.TAG) if it is another")
    return origin


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "import_robustbench"]
