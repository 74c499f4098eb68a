"""From a zoo file to the list of model jobs, every entry checked before any model runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robaudit.errors import RobauditError, one_line
from robaudit.suite import SuiteConfig
from robaudit.sweep.expand import check_spec, expand_spec, is_pattern
from robaudit.sweep.options import build_suite_config, check_option_names, check_options
from robaudit.sweep.zoo import Zoo, ZooEntry, read_zoo


@dataclass
class ModelJob:
    """One model of the sweep: its folder name, spec and the SuiteConfig `score` would use.

    ``config.out`` is the model's folder DIR/models/NAME; executors that run elsewhere replace it.
    """

    name: str
    spec: str
    config: SuiteConfig

    @property
    def fingerprint(self) -> str:
        """Hash of everything that decides the model's report (not where it is written)."""
        fields = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in ("out", "command", "cache")}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def work(self) -> dict[str, Any]:
        """What the model will be asked to do: probes, images per probe, data."""
        from robaudit.probes import PROBES

        probes = self.config.probes or PROBES.names()
        n_images = {p: self.config.probe_options.get(p, {}).get("n_images") for p in probes}
        return {"probes": probes, "n_images": n_images, "data": self.config.data,
                "seed": self.config.seed, "device": self.config.device}


def short_name(spec: str) -> str:
    """A folder name from a spec: 'robustbench:cifar10/Linf/Standard' → 'Standard', 'file:r/b.pt' → 'b'."""
    prefix, _, name = spec.partition(":")
    if prefix == "py":
        target, _, func = name.rpartition(":")
        name = f"{Path(target).stem}.{func}"
    elif prefix == "file":
        name = Path(name).stem
    return safe_name(name.rstrip("/").split("/")[-1])


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "model"


def plan_sweep(zoo_path: Path, out: Path) -> tuple[Zoo, list[ModelJob]]:
    """Read, expand and check the whole zoo; one RobauditError line per bad entry."""
    zoo = read_zoo(zoo_path)
    try:  # once here, rather than once per entry that inherits it
        check_option_names(zoo.defaults, "top-level option")
    except RobauditError as exc:
        raise RobauditError(f"{zoo.path.name}: {one_line(exc)} Nothing was run.") from None
    errors: list[str] = []
    planned: list[tuple[ZooEntry, str, SuiteConfig]] = []
    for entry in zoo.entries:
        try:
            planned += [(entry, spec, config) for spec, config in _plan_entry(entry, zoo.base_dir, out)]
        except RobauditError as exc:
            errors.append(f"{entry.where}: {one_line(exc)}")
    jobs = _name_jobs(_unique(planned), out, errors)
    if errors:
        lines = "\n".join(f"  {line}" for line in errors)
        raise RobauditError(f"{zoo.path.name}: {len(errors)} bad entr{'y' if len(errors) == 1 else 'ies'}, "
                            f"nothing was run:\n{lines}")
    return zoo, jobs


def _plan_entry(entry: ZooEntry, base_dir: Path, out: Path) -> list[tuple[str, SuiteConfig]]:
    from robaudit.suite import build_probes
    from robaudit.sweep.options import resolve_spec_path

    if "__bad__" in entry.options:
        raise RobauditError(entry.options["__bad__"])
    if entry.name is not None and is_pattern(entry.spec):
        raise RobauditError("`name:` cannot be given to a pattern (each match gets its own name)")
    options = check_options(entry.options, "option")
    specs = expand_spec(resolve_spec_path(entry.spec, base_dir), _resolved(options, base_dir))
    results = []
    for spec in specs:
        check_spec(spec, _resolved(options, base_dir))
        config = build_suite_config(spec, options, base_dir, out)
        build_probes(config)  # unknown probes, bad probe settings, missing corruption sets
        _check_data(config)
        results.append((spec, config))
    return results


def _resolved(options: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    from robaudit.sweep.options import resolve_path

    model_dir = options.get("model_dir")
    return {**options, "model_dir": resolve_path(str(model_dir), base_dir) if model_dir else None}


def _check_data(config: SuiteConfig) -> None:
    """The dataset's name and the paths it needs, without loading it."""
    from robaudit.data import DATASETS

    name, _, arg = config.data.partition(":")
    DATASETS.get(name)
    if name in ("npz", "folder") and not Path(arg).expanduser().exists():
        raise RobauditError(f"dataset path {arg} does not exist")
    if config.data_dir is not None and not config.data_dir.is_dir():
        raise RobauditError(f"data_dir {config.data_dir} is not a folder")


def _unique(planned: list[tuple[ZooEntry, str, SuiteConfig]]) -> list[tuple[ZooEntry, str, SuiteConfig]]:
    """Drop repeats of the same model with the same options (overlapping patterns), keeping the first."""
    seen: set[str] = set()
    kept = []
    for entry, spec, config in planned:
        key = ModelJob(entry.name or "", spec, config).fingerprint + (entry.name or "")
        if key not in seen:
            seen.add(key)
            kept.append((entry, spec, config))
    return kept


def _name_jobs(planned: list[tuple[ZooEntry, str, SuiteConfig]], out: Path, errors: list[str]) -> list[ModelJob]:
    """Folder names: the entry's `name`, else the spec's short name (the full spec where two clash)."""
    short = [entry.name or short_name(spec) for entry, spec, _ in planned]
    clashes = Counter(short)
    jobs = []
    for (entry, spec, config), name in zip(planned, short, strict=True):
        if clashes[name] > 1 and entry.name is None:
            name = safe_name(spec.replace(":", "_").replace("/", "_"))
        config.out = out / "models" / name
        jobs.append(ModelJob(name=name, spec=spec, config=config))
    for name, count in Counter(j.name for j in jobs).items():
        if count > 1:
            pairs = zip(planned, jobs, strict=True)
            where = ", ".join(f"models[{entry.index}]" for (entry, _, _), job in pairs if job.name == name)
            errors.append(f"{where}: {count} models are named {name!r}; give each its own `name:`")
    return jobs
