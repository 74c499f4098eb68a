"""From a zoo file to the list of model jobs, every entry checked before any model runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robaudit.errors import RobauditError, one_line
from robaudit.suite import SuiteConfig
from robaudit.sweep.checks import DataCheck, check_name, input_hashes
from robaudit.sweep.expand import check_spec, expand_spec, is_pattern
from robaudit.sweep.options import build_suite_config, check_option_names, check_options
from robaudit.sweep.zoo import Zoo, ZooEntry, read_zoo


@dataclass
class ModelJob:
    """One model of the sweep: its folder name, spec and the SuiteConfig `score` would use.

    ``config.out`` is the model's folder DIR/models/NAME; executors that run elsewhere replace it.
    ``inputs`` maps each local file the model reads (checkpoint, factory, weights) to its sha256,
    taken when the sweep was planned; ``sweep`` identifies the run (datasets are shared within it).
    """

    name: str
    spec: str
    config: SuiteConfig
    inputs: dict[str, str] = field(default_factory=dict)
    sweep: str = ""

    @property
    def fingerprint(self) -> str:
        """Hash of everything that decides the model's report (not where it is written)."""
        fields = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in ("out", "command", "cache")}
        if self.inputs:  # a model that reads no local file keeps the options-only hash
            fields["inputs"] = self.inputs
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def work(self) -> dict[str, Any]:
        """What the model will be asked to do: probes, images per probe, data."""
        from robaudit.probes import PROBES

        probes = self.config.probes or PROBES.names()
        n_images = {p: self.config.probe_options.get(p, {}).get("n_images") for p in probes}
        return {"probes": probes, "n_images": n_images, "data": self.config.data,
                "seed": self.config.seed, "device": self.config.device}


Problem = tuple[tuple[int, ...], str, str]  # (entry indexes, where, message)


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
    """``text`` as a folder name: runs of other characters than letters, digits, '.', '_', '-' become '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "model"


def plan_sweep(zoo_path: Path, out: Path) -> tuple[Zoo, list[ModelJob]]:
    """Read, expand and check the whole zoo; one RobauditError line per problem."""
    zoo = read_zoo(zoo_path)
    try:  # once here, rather than once per entry that inherits it
        check_option_names(zoo.defaults, "top-level option", also=("models",))
    except RobauditError as exc:
        raise RobauditError(f"{zoo.path.name}: {one_line(exc)} Nothing was run.") from None
    problems: list[Problem] = []
    planned: list[tuple[ZooEntry, ModelJob]] = []
    data_check = DataCheck()
    for entry in zoo.entries:
        try:
            planned += [(entry, job) for job in _plan_entry(entry, zoo.base_dir, out, data_check)]
        except RobauditError as exc:
            problems.append(((entry.index,), entry.where, one_line(exc)))
    jobs = _name_jobs(_unique(planned), out, problems)
    if problems:
        raise RobauditError(problem_report(zoo.path.name, problems))
    return zoo, jobs


def problem_report(zoo_name: str, problems: list[Problem]) -> str:
    """The lines of a bad zoo file: a message shared by several entries (a bad top-level value
    they inherit, a missing dataset) once, naming how many entries it affects."""
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        key = problem[2] if len(problem[0]) == 1 else f"{problem[1]}: {problem[2]}"
        grouped.setdefault(key, []).append(problem)
    lines = []
    for same in grouped.values():
        indexes = sorted({i for problem in same for i in problem[0]})
        if len(same) == 1:
            lines.append(f"{same[0][1]}: {same[0][2]}")
        else:
            shown = ", ".join(f"models[{i}]" for i in indexes[:3]) + (", …" if len(indexes) > 3 else "")
            lines.append(f"{shown} ({len(indexes)} entries): {same[0][2]}")
    count = len({i for problem in problems for i in problem[0]})
    text = "\n".join(f"  {line}" for line in lines)
    return f"{zoo_name}: {count} bad entr{'y' if count == 1 else 'ies'}, nothing was run:\n{text}"


def _plan_entry(entry: ZooEntry, base_dir: Path, out: Path, data_check: DataCheck) -> list[ModelJob]:
    from robaudit.suite import build_probes
    from robaudit.sweep.options import resolve_spec_path

    if "__bad__" in entry.options:
        raise RobauditError(entry.options["__bad__"])
    if entry.name is not None and is_pattern(entry.spec):
        raise RobauditError("`name:` cannot be given to a pattern (each match gets its own name)")
    if entry.name is not None:
        check_name(entry.name)
    options = check_options(entry.options, "option")
    specs = expand_spec(resolve_spec_path(entry.spec, base_dir), _resolved(options, base_dir))
    jobs = []
    for spec in specs:
        check_spec(spec, _resolved(options, base_dir))
        config = build_suite_config(spec, options, base_dir, out)
        build_probes(config)  # unknown probes, bad probe settings, missing corruption sets
        data_check(config)
        jobs.append(ModelJob(name=entry.name or "", spec=spec, config=config, inputs=input_hashes(config)))
    return jobs


def _resolved(options: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    from robaudit.sweep.options import resolve_path

    model_dir = options.get("model_dir")
    return {**options, "model_dir": resolve_path(str(model_dir), base_dir) if model_dir else None}


def _unique(planned: list[tuple[ZooEntry, ModelJob]]) -> list[tuple[ZooEntry, ModelJob]]:
    """Drop repeats of the same model with the same options (overlapping patterns), keeping the first."""
    seen: set[str] = set()
    kept = []
    for entry, job in planned:
        key = job.fingerprint + (entry.name or "")
        if key not in seen:
            seen.add(key)
            kept.append((entry, job))
    return kept


def _name_jobs(planned: list[tuple[ZooEntry, ModelJob]], out: Path, problems: list[Problem]) -> list[ModelJob]:
    """Folder names: the entry's `name`, else the spec's short name (the full spec where two clash)."""
    short = [entry.name or short_name(job.spec) for entry, job in planned]
    clashes = Counter(short)
    jobs = []
    for (entry, job), name in zip(planned, short, strict=True):
        if clashes[name] > 1 and entry.name is None:
            name = safe_name(job.spec.replace(":", "_").replace("/", "_"))
        job.name, job.config.out = name, out / "models" / name
        jobs.append(job)
    for name, count in Counter(j.name for j in jobs).items():
        if count > 1:
            indexes = tuple(entry.index for entry, job in planned if job.name == name)
            where = ", ".join(f"models[{i}]" for i in indexes)
            problems.append((indexes, where, f"{count} models are named {name!r}; give each its own `name:`"))
    return jobs
