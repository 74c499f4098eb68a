"""The suite's options (what `robaudit score`, a zoo file entry and the Python API take) and presets.

Every field is declared with :func:`robaudit.config.setting`, so the `score` flags, the zoo-file
keys and the validation come from here. ``probe_options`` maps a probe name to its settings
(validated against that probe's Settings when the config is made).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robaudit.config import build_settings, setting
from robaudit.errors import RobauditError
from robaudit.registry import Registry

DEFAULT_MODEL = "embedded:cnn"
DEFAULT_DATASET = "embedded"


def probe_name(name: str) -> str:
    """Normalise a user-typed probe name ('adversarial-spectrum' → 'adversarial_spectrum')."""
    return name.strip().replace("-", "_")


def _probe_list(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise RobauditError(f"probes must be a comma-separated list of probe names, not {value!r}")
    return [probe_name(str(p)) for p in items if str(p).strip()]


@dataclass
class SuiteConfig:
    """Everything `robaudit score` takes; str paths are accepted and made Paths."""

    model: str = setting(DEFAULT_MODEL, help="PREFIX:NAME, e.g. timm:resnet18, file:ckpt.pt", flag="model", short="m")
    data: str = setting(DEFAULT_DATASET, help="cifar10, imagenet, folder:P, npz:P, embedded...", flag="data",
                      short="d")
    probes: list[str] | None = setting(None, help="comma-separated probes (default: all)", flag="probes",
                                       parse=_probe_list)
    out: Path = setting(Path("robaudit-report"), help="report folder", flag="out", short="o")
    seed: int = setting(0, help="drives every random choice", flag="seed", minimum=0, maximum=2**63 - 1)
    device: str = setting("auto", help="auto, cpu or cuda[:N]", flag="device")
    batch_size: int = setting(256, help="images per model call", flag="batch-size", minimum=1)
    split: str = setting("test", help="dataset split", flag="split")
    data_dir: Path | None = setting(None, help="folder holding the dataset's official files", flag="data-dir",
                                   path=True)
    resize: bool = setting(False, help="resize and centre-crop images that are not the model's input size "
                           "(recorded in the report; without it a size mismatch is refused)", flag="resize")
    download: bool = setting(False, help="allow downloading the dataset", flag="download")
    weights: str | None = setting(None, help="local state dict (or torchvision weights enum name)", flag="weights",
                                  path=True)
    model_dir: Path | None = setting(None, help="RobustBench checkpoints: DIR/<dataset>/<threat>/<name>.pt", path=True,
                                     flag="model-dir")
    probe_options: dict[str, dict[str, Any]] = setting(help="probe name → its settings", factory=dict)
    cache: bool = setting(True, help="reuse/save partial results in OUT/.robaudit-cache", flag="cache")
    command: str | None = setting(None, help="the command line, recorded in the report")

    def __post_init__(self) -> None:
        for name in ("out", "data_dir", "model_dir"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, Path(value))
        self.probes = None if self.probes is None else _probe_list(self.probes)
        self.probe_options = {probe_name(k): dict(v) for k, v in self.probe_options.items()}

    def probe_names(self) -> list[str]:
        """The probes this run uses, in the suite's order (registration order when not given)."""
        from robaudit.probes import PROBES

        names = self.probes or PROBES.names()
        for name in names:
            PROBES.get(name)  # unknown names raise with suggestions
        return names

    def probe_settings(self) -> dict[str, Any]:
        """Each selected probe's validated Settings; unknown probes or keys raise RobauditError."""
        from robaudit.probes import PROBES

        names = self.probe_names()
        everyone = [*names, *(n for n in self.probe_options if n not in names)]
        built: dict[str, Any] = {
            name: build_settings(PROBES.get(name).Settings, self.probe_options.get(name, {}), f"probe {name}")
            for name in everyone}
        return {name: built[name] for name in names}


@dataclass(frozen=True)
class Preset:
    """A named set of option values applied before the user's own (which win)."""

    name: str
    description: str
    suite: dict[str, Any]
    probe_options: dict[str, dict[str, Any]]


PRESETS: Registry[Preset] = Registry("preset")
PRESETS.register("demo")(Preset(
    "demo", "the embedded CNN on the embedded photographs with the quick adversarial protocol "
    "(what `robaudit score` runs with no model or data given)",
    {"model": DEFAULT_MODEL, "data": DEFAULT_DATASET}, {"adversarial_spectrum": {"protocol": "fast"}}))


def suite_fields() -> list[str]:
    """The SuiteConfig option names (zoo-file keys and Python keyword arguments)."""
    return [f.name for f in dataclasses.fields(SuiteConfig)]


def probe_flags() -> dict[str, list[tuple[str, str]]]:
    """Option key (flag with underscores, e.g. 'hybrid_grid') → [(probe, setting)] it sets.

    A flag several probes declare (e.g. 'n_images') sets that setting on each of them.
    """
    from robaudit.config import settings_info
    from robaudit.probes import PROBES

    flags: dict[str, list[tuple[str, str]]] = {}
    for name in PROBES.names():
        for info in settings_info(PROBES.get(name).Settings):
            if info.flag:
                flags.setdefault(info.flag.replace("-", "_"), []).append((name, info.name))
    return flags


def parse_set_options(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """['hybrid.seeds=6'] → {'hybrid': {'seeds': 6}}; values parsed as YAML scalars or lists."""
    import yaml

    options: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, eq, value = str(pair).partition("=")
        probe, dot, field = key.partition(".")
        if not eq or not dot or not field.strip():
            raise RobauditError(f"--set {pair!r} must look like PROBE.SETTING=VALUE, e.g. hybrid.seeds=6")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        options.setdefault(probe_name(probe), {})[field.strip()] = parsed
    return options


def assemble_config(values: dict[str, Any], sets: list[str] | None = None, preset: str | None = None) -> SuiteConfig:
    """A SuiteConfig from flat option values keyed as the `score` flags with underscores (a zoo
    file's keys), ``--set`` pairs and an optional preset. Values of None count as not given;
    explicit ``--set`` values win over flags, which win over the preset. Everything is validated."""
    given = {k: v for k, v in values.items() if v is not None}
    flags = probe_flags()
    suite_keys = set(suite_fields()) - {"probe_options", "command"}
    unknown = sorted(set(given) - suite_keys - set(flags) - {"command"})
    if unknown:
        from robaudit.registry import suggest

        valid = sorted(suite_keys | set(flags))
        raise RobauditError(f"unknown option {unknown[0]!r}.{suggest(unknown[0], valid)} Valid: {', '.join(valid)}.")
    base = PRESETS.get(preset) if preset else None
    suite = dict(base.suite if base else {}) | {k: v for k, v in given.items() if k in suite_keys | {"command"}}
    options: dict[str, dict[str, Any]] = {p: dict(o) for p, o in (base.probe_options if base else {}).items()}
    selected = _probe_list(suite["probes"]) if suite.get("probes") else None
    for key, targets in flags.items():
        for probe, field in targets if key in given else []:
            if selected is None or probe in selected or len(targets) == 1:
                options.setdefault(probe, {})[field] = given[key]
    for probe, fields in parse_set_options(sets or []).items():
        options.setdefault(probe, {}).update(fields)
    config = build_settings(SuiteConfig, suite | {"probe_options": options}, "score")
    settings = config.probe_settings()  # validate every probe option now, before any work
    config.probe_options = {name: {key: getattr(settings[name], key) if name in settings else value
                                   for key, value in given_options.items()}
                            for name, given_options in config.probe_options.items()}
    return config
