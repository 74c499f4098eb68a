"""Zoo files: parsing, pattern expansion through each source's catalogue, and whole-file checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from robaudit.cli import main
from robaudit.errors import RobauditError
from robaudit.sweep import plan_sweep, zoo_schema
from tests.conftest import write_small_cnn

ROOT = Path(__file__).parents[1]
TINY = {"data": "npz:data.npz", "probes": ["hybrid"], "n_images": 40, "hybrid_seeds": 2, "hybrid_grid": "uniform:6"}


def make_zoo_folder(root: Path, names: tuple[str, ...] = ("a", "b")) -> Path:
    """Small-CNN checkpoints refs/NAME.pt (different seeds), a 200-image npz set, a NaN model
    refs/nan.pt and an unreadable broken.pt."""
    (root / "refs").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    np.savez(root / "data.npz", x=rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8), y=np.arange(200) % 10)
    for seed, name in enumerate(names):
        write_small_cnn(root / "refs" / f"{name}.pt", seed)
    write_small_cnn(root / "nan.pt", 0, nan=True)
    (root / "broken.pt").write_bytes(b"not a checkpoint")
    return root


def start_three_model_sweep(tmp_path: Path, out: Path, stderr: int, **defaults: object) -> tuple[
        Path, subprocess.Popen[str]]:
    """A zoo of three small CNNs (refs/a, b, c) with ``defaults``, and `robaudit sweep` of it into
    ``out`` started in a subprocess (quiet; stderr as given). Returns the zoo file and the process."""
    zoo = write_zoo(make_zoo_folder(tmp_path, names=("a", "b", "c")),
                    ["file:refs/a.pt", "file:refs/b.pt", "file:refs/c.pt"], **defaults)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "robaudit", "sweep", str(zoo), "-o", str(out), "-q"], env=env,
                               stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    return zoo, process


def write_zoo(root: Path, models: list[object], **defaults: object) -> Path:
    path = root / "zoo.yaml"
    path.write_text(yaml.safe_dump({**TINY, **defaults, "models": models}))
    return path


def test_defaults_entries_and_relative_paths(tmp_path: Path) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", {"spec": "file:refs/b.pt", "name": "bee",
                                                                   "n_images": 20, "seed": 3}])
    _, jobs = plan_sweep(zoo, tmp_path / "out")
    a, b = jobs
    assert (a.name, b.name) == ("a", "bee")
    assert a.config.model == f"file:{tmp_path}/refs/a.pt" and a.config.data == f"npz:{tmp_path}/data.npz"
    assert a.config.probes == ["hybrid"] and a.config.out == tmp_path / "out" / "models" / "a"
    assert a.config.probe_options["hybrid"] == {"grid": np.linspace(0, 1, 6).tolist(), "seeds": 2, "n_images": 40}
    assert b.config.probe_options["hybrid"]["n_images"] == 20 and b.config.seed == 3 and a.config.seed == 0
    assert a.fingerprint != b.fingerprint


def test_every_path_setting_resolves_against_the_zoo_folder_set_entries_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_zoo_folder(tmp_path / "zoo")
    (root / "official").mkdir()
    monkeypatch.chdir(tmp_path)  # relative paths must not resolve against the working folder
    entry = {"spec": "file:refs/a.pt", "probes": ["hybrid", "corruptions"], "data_dir": "official",
             "set": ["corruptions.baseline_report=base/report.json", "hybrid.seeds=3"]}
    _, (job,) = plan_sweep(write_zoo(root, [entry]), tmp_path / "out")
    assert job.config.data_dir == root / "official"
    assert job.config.probe_options["corruptions"]["baseline_report"] == str(root / "base" / "report.json")
    assert job.config.probe_options["hybrid"]["seeds"] == 3


def test_file_pattern_is_a_glob_relative_to_the_zoo_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_zoo_folder(tmp_path, names=("x1", "x2", "y"))
    (tmp_path / "refs" / "notes.txt").write_text("not a model")
    monkeypatch.chdir(tmp_path.parent)
    _, jobs = plan_sweep(write_zoo(tmp_path, ["file:refs/x*.pt", "file:refs/*.txt"]), tmp_path / "out")
    assert [j.spec for j in jobs] == [f"file:{tmp_path}/refs/{n}" for n in ("x1.pt", "x2.pt", "notes.txt")]


def test_robustbench_pattern_reads_the_catalogue_offline(tmp_path: Path) -> None:
    """Only catalogue names with a checkpoint under model_dir; the truth is robustbench's model_dicts.
    The second, overlapping pattern adds no repeat."""
    from robaudit.models.sources import import_robustbench

    import_robustbench()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    catalogue = sorted(model_dicts[BenchmarkDataset("cifar10")][ThreatModel("Linf")])
    present = [catalogue[0], catalogue[3], catalogue[-1]]
    folder = tmp_path / "rb" / "cifar10" / "Linf"
    folder.mkdir(parents=True)
    for name in [*present, "NotInRobustBench"]:
        (folder / f"{name}.pt").write_bytes(b"")
    make_zoo_folder(tmp_path)
    zoo = write_zoo(tmp_path, ["robustbench:cifar10/Linf/*", f"robustbench:cifar10/Linf/{present[1][:3]}*"],
                    model_dir="rb", data="embedded")
    _, jobs = plan_sweep(zoo, tmp_path / "out")
    assert [j.spec for j in jobs] == [f"robustbench:cifar10/Linf/{n}" for n in present]
    assert [j.name for j in jobs] == present


def test_timm_pattern_reads_timms_pretrained_list(tmp_path: Path) -> None:
    import timm

    make_zoo_folder(tmp_path)
    _, jobs = plan_sweep(write_zoo(tmp_path, ["timm:resnet18.*"], data="embedded"), tmp_path / "out")
    expected = timm.list_models("resnet18.*", pretrained=True)
    assert len(expected) > 1 and [j.spec for j in jobs] == [f"timm:{n}" for n in sorted(expected)]
    assert [j.name for j in jobs] == sorted(expected)


def test_clashing_short_names_fall_back_to_the_full_spec(tmp_path: Path) -> None:
    make_zoo_folder(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.pt").write_bytes((tmp_path / "refs" / "a.pt").read_bytes())
    _, jobs = plan_sweep(write_zoo(tmp_path, ["file:refs/a.pt", "file:other/a.pt"]), tmp_path / "out")
    assert len({j.name for j in jobs}) == 2 and all(j.name.endswith("a.pt") for j in jobs)


BAD_ENTRIES = [
    ("torchvison:resnet18", "Did you mean: torchvision"),
    ("timm:resnet18x.nope", "unknown timm model"),
    ("file:refs/missing.pt", "does not exist"),
    ("file:refs/*.none", "matches no model"),
    ("robustbench:cifar10/Linf/Standrd", "Did you mean: cifar10/Linf/Standard"),
    ({"spec": "file:refs/a.pt", "n_imagse": 5}, "Did you mean: n_images"),
    ({"spec": "file:refs/a.pt", "probes": ["hybird"]}, "Did you mean: hybrid"),
    ({"spec": "file:refs/a.pt", "n_images": -3}, "must be ≥ 1"),
    ({"spec": "file:refs/a.pt", "hybrid_seeds": "many"}, "must be a number"),
    ({"spec": "file:refs/a.pt", "set": ["hybrid.sedes=3"]}, "Did you mean: seeds"),
    ({"spec": "file:refs/a.pt", "data": "npz:nothere.npz"}, "does not exist"),
    ({"spec": "file:refs/a.pt", "data": "cifar11"}, "Did you mean: cifar10"),
    ({"spec": "file:refs/*.pt", "name": "x"}, "cannot be given to a pattern"),
    ({"name": "no-spec"}, "must be a spec string or a mapping"),
]


@pytest.mark.parametrize(("entry", "message"), BAD_ENTRIES, ids=[m for _, m in BAD_ENTRIES])
def test_a_bad_entry_is_named_on_its_own_line(tmp_path: Path, entry: object, message: str) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", entry])
    with pytest.raises(RobauditError) as caught:
        plan_sweep(zoo, tmp_path / "out")
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and lines[1].strip().startswith("models[1]") and message in lines[1]


def test_every_bad_entry_is_reported_at_once_exit_2_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [entry for entry, _ in BAD_ENTRIES]
    duplicates = [{"spec": "file:refs/b.pt", "name": "dup"}, {"spec": "file:refs/a.pt", "name": "dup"}]
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", *entries, *duplicates])
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{len(BAD_ENTRIES) + 2} bad entries" in err  # both 'dup' entries
    reported = [line for line in err.splitlines() if line.strip().startswith("models[")]
    assert len(reported) == len(BAD_ENTRIES) + 1
    assert "models[15], models[16]: 2 models are named 'dup'" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_top_level_option_is_reported_once_not_per_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", "file:refs/b.pt"], n_imagez=5)
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "top-level option: unknown option 'n_imagez'" in lines[0]
    assert "Did you mean: n_images" in lines[0] and not (tmp_path / "out").exists()


def test_dry_run_lists_the_expanded_models_and_their_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/*.pt", {"spec": "file:nan.pt", "probes": "corruptions"}])
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["probes"]) for p in plan] == [("a", ["hybrid"]), ("b", ["hybrid"]), ("nan", ["corruptions"])]
    assert plan[0]["n_images"] == {"hybrid": 40} and plan[2]["n_images"] == {"corruptions": 40}
    assert not (tmp_path / "out").exists()


def test_docs_schema_is_generated_from_the_code_and_accepts_the_examples() -> None:
    schema = zoo_schema()
    assert json.loads((ROOT / "docs" / "zoo.schema.json").read_text()) == schema
    jsonschema.Draft202012Validator.check_schema(schema)
    for example in ("zoo-embedded.yaml", "zoo-cifar10.yaml"):
        jsonschema.validate(yaml.safe_load((ROOT / "examples" / example).read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"models": [{"spec": "embedded:cnn", "n_imagse": 3}]}, schema)
