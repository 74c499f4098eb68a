"""``robustbench:NAME``: the RobustBench model zoo, loaded by ``robustbench.utils.load_model``.

RobustBench takes a model's weights from one of three places, and robaudit says which one when
they are missing: a Google Drive checkpoint kept as ``MODEL_DIR/<dataset>/<threat>/<NAME>.pt``
(robaudit downloads it, then reads it with ``torch.load(weights_only=True)`` before RobustBench
loads it), a timm model on the Hugging Face hub, or, for ImageNet's ``Standard_*`` models,
torchvision's pretrained weights in torch's hub folder.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robaudit.errors import RobauditError
from robaudit.models import hub
from robaudit.models.base import (
    MODEL_SOURCES,
    LoadOptions,
    ModelSource,
    offline_error,
    unknown_model,
)
from robaudit.models.wrapper import ModelInfo
from robaudit.robustbench_import import import_robustbench
from robaudit.torch_files import load_weights_only

ROBUSTBENCH_SIZES = {"cifar10": (3, 32, 32), "cifar100": (3, 32, 32), "imagenet": (3, 224, 224)}
ROBUSTBENCH_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}
# ImageNet "Standard" models RobustBench builds from torchvision's IMAGENET1K_V1 weights
TORCHVISION_STANDARD = {"Standard_R50": "resnet50"}


def robustbench_zoo() -> dict[str, dict[str, list[str]]]:
    """RobustBench's model enumeration: {dataset: {threat model: [names]}}."""
    import_robustbench()
    from robustbench.model_zoo import model_dicts

    return {ds.value: {tm.value: sorted(models) for tm, models in by_threat.items()}
            for ds, by_threat in model_dicts.items()}


def resolve_name(name: str, zoo: dict[str, dict[str, list[str]]]) -> tuple[str, str, str]:
    """'NAME', 'DATASET/NAME', 'THREAT/NAME' or 'DATASET/THREAT/NAME' → (dataset, threat, name),
    searching every dataset and threat model; several matches are an error listing them."""
    parts = name.split("/")
    if len(parts) > 3 or "" in parts:
        raise RobauditError(f"robustbench:{name} must be robustbench:NAME or robustbench:DATASET/THREAT/NAME")
    if len(parts) == 3:
        dataset, threat, model = parts
        if dataset not in zoo:
            raise unknown_model("robustbench dataset", dataset, list(zoo), f"Valid: {', '.join(zoo)}.")
        if threat not in zoo[dataset]:
            raise unknown_model("robustbench threat", threat, list(zoo[dataset]), f"Valid: {', '.join(zoo[dataset])}.")
    model = parts[-1]
    matches = [(ds, tm, model) for ds, by_threat in zoo.items() for tm, names in by_threat.items()
               if model in names and all(p in (ds, tm) for p in parts[:-1])]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = sorted({n for by_threat in zoo.values() for names in by_threat.values() for n in names})
        where = "/".join(parts[:-1]) or "any dataset and threat model"
        raise unknown_model(f"robustbench ({where})", model, known, "See `robaudit models --source robustbench`.")
    listed = ", ".join(f"robustbench:{ds}/{tm}/{n}" for ds, tm, n in matches)
    raise RobauditError(f"robustbench:{name} is in {len(matches)} places of RobustBench's zoo; "
                        f"choose one: {listed}")


def weights_origin(dataset: str, threat: str, name: str, entry: dict[str, Any]) -> tuple[str, str]:
    """Where robustbench.utils.load_model takes the weights from, as in its own order of checks:
    ('timm', timm name), ('none', ''), ('torchvision', ''), or ('gdrive', '')."""
    import timm

    timm_name = f"{name.lower().replace('-', '_')}_{dataset}_{threat.replace('_3d', '').lower()}"
    if timm.is_model(timm_name):
        return "timm", timm_name
    if entry["gdrive_id"] is None:
        return "none", ""
    if dataset == "imagenet" and "Standard" in name:
        return "torchvision", ""
    return "gdrive", ""


def checkpoint_paths(folder: Path, name: str, entry: dict[str, Any]) -> list[tuple[Path, str]]:
    """(file, Google Drive id) of each checkpoint, named as robustbench.utils.load_model names them."""
    ids = entry["gdrive_id"]
    if isinstance(ids, list):  # an ensemble: NAME.pt_m0.pt, NAME.pt_m1.pt, ...
        return [(folder / f"{name}.pt_m{i}.pt", str(gid)) for i, gid in enumerate(ids)]
    return [(folder / f"{name}.pt", str(ids))]


@contextlib.contextmanager
def created_folders_removed_on_failure(folder: Path) -> Iterator[None]:
    """Create ``folder`` and its missing parents; if the body fails, remove the ones created here
    that are still empty (a failed download leaves no empty ./models behind)."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for path in created:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def check_plain_weights(path: Path) -> None:
    """Read ``path`` with ``torch.load(weights_only=True)``: a file that needs more than tensors and
    plain containers (pickled code) is refused before RobustBench unpickles it."""
    load_weights_only(path, "checkpoint {path} is not a plain weights file that torch.load(weights_only=True) "
                            "reads ({reason}); delete it to download it again", mmap=zipfile.is_zipfile(path))


def fetch_checkpoints(files: list[tuple[Path, str]]) -> None:
    """Download the missing checkpoints with RobustBench's own downloader, then check each one."""
    import robustbench.utils

    for path, gdrive_id in files:
        if not path.is_file():
            robustbench.utils.download_gdrive_new(gdrive_id, path)
        check_plain_weights(path)


def missing_weights_hint(origin: str, folder: Path, name: str, model_dir: Path) -> str:
    """Where to put the weights by hand, for each place RobustBench takes them from."""
    if origin == "torchvision":
        import torchvision

        arch = TORCHVISION_STANDARD.get(name, "the matching architecture")
        file = "its IMAGENET1K_V1 weights file"
        if name in TORCHVISION_STANDARD:
            file = Path(torchvision.models.get_model_weights(arch)["IMAGENET1K_V1"].url).name
        return (f"RobustBench builds {name} from torchvision's {arch} and reads nothing under --model-dir: "
                f"put {file} in {Path(torch.hub.get_dir()) / 'checkpoints'}")
    return (f"put the checkpoint at {folder / name}.pt (RobustBench's layout "
            f"MODEL_DIR/DATASET/THREAT/NAME.pt) and pass --model-dir {model_dir}")


@MODEL_SOURCES.register("robustbench")
class RobustBenchSource(ModelSource):
    """``robustbench:NAME`` (searched in every dataset and threat model) or
    ``robustbench:DATASET/THREAT/NAME``. ``--model-dir`` (default $ROBAUDIT_ROBUSTBENCH_DIR or
    ./models) holds the checkpoints as ``<dir>/<dataset>/<threat>/<name>.pt``. RobustBench models
    take [0, 1] input (normalisation is already inside), so mean 0, std 1."""

    prefix = "robustbench"
    description = "RobustBench model zoo (DATASET/THREAT/NAME)"

    def zoo(self) -> dict[str, dict[str, list[str]]]:
        return robustbench_zoo()

    def available(self) -> list[str]:
        return [f"{ds}/{tm}/{name}" for ds, by_threat in self.zoo().items()
                for tm, names in by_threat.items() for name in names]

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        dataset, threat, model_name = resolve_name(name, self.zoo())
        net = load_robustbench(dataset, threat, model_name, options)
        info = ModelInfo(
            spec=f"robustbench:{dataset}/{threat}/{model_name}", source="robustbench", name=model_name,
            input_size=ROBUSTBENCH_SIZES[dataset], num_classes=ROBUSTBENCH_CLASSES[dataset],
            mean=(0.0,), std=(1.0,),
            extra={"dataset": dataset, "threat_model": threat,
                   "note": "normalisation is inside the RobustBench model"},
        )
        if dataset == "imagenet":
            info.crop_pct = 224 / 256
        return net, info


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Within the block, every ``torch.load`` reads tensors only (``weights_only=True``): RobustBench's
    ``load_model`` calls ``torch.load`` without it, which would unpickle arbitrary code."""
    original = torch.load

    def load(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **(kwargs | {"weights_only": True}))

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


def load_robustbench(dataset: str, threat: str, name: str, options: LoadOptions) -> nn.Module:
    """The network of one zoo entry; missing weights fail at once with where to put them."""
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel
    from robustbench.utils import load_model as rb_load

    entry = model_dicts[BenchmarkDataset(dataset)][ThreatModel(threat)][name]
    spec = f"robustbench:{dataset}/{threat}/{name}"
    model_dir = Path(options.model_dir or os.environ.get("ROBAUDIT_ROBUSTBENCH_DIR", "./models"))
    folder = model_dir / dataset / threat.replace("_3d", "")  # RobustBench keeps 3d-corruption models there too
    origin, timm_name = weights_origin(dataset, threat, name, entry)
    if origin == "none":
        raise RobauditError(f"RobustBench's load_model has no weights for {spec} (no checkpoint, no timm model)")
    if origin == "timm":
        hub.ensure_available(timm_name, f"RobustBench takes {spec} from timm's {timm_name}: copy a Hugging Face "
                                        "cache holding it to this machine (HF_HOME), or use --model file:PATH")
    hint = missing_weights_hint(origin, folder, name, model_dir)
    scope = created_folders_removed_on_failure(folder) if origin == "gdrive" else contextlib.nullcontext()
    with scope:
        try:
            if origin == "gdrive":
                fetch_checkpoints(checkpoint_paths(folder, name, entry))
            with weights_only_loads():
                net: nn.Module = rb_load(model_name=name, model_dir=str(model_dir), dataset=dataset,
                                         threat_model=threat)
        except RobauditError:
            raise
        except Exception as exc:  # gdown / requests / torch.hub errors when offline
            raise offline_error(f"RobustBench model {spec}", exc, hint) from None
    return net
