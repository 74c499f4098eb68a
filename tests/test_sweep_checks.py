"""Plan-time checks of a zoo file: folder names, input-file identity for resume, one line per
shared problem, top-level key typos, datasets that cannot be opened, and docs/sweep.md's examples."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from robaudit.cli import main
from robaudit.sweep import plan_sweep, zoo_schema
from robaudit.sweep.options import check_options, score_options
from tests.conftest import TINY_FACTORY, write_small_cnn
from tests.test_sweep_zoo import ROOT, make_zoo_folder, write_zoo

UNSAFE_NAMES = ["../../evil", "/abs/path", "a/b", "..", ".", ".hidden", "a\\b", "x y", ""]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_a_name_that_is_not_one_plain_folder_is_refused_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path / "zoo"), [{"spec": "file:refs/a.pt", "name": name}])
    out = tmp_path / "deep" / "er" / "out"
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "must be one folder name" in err and "models[0]" in err
    assert not (tmp_path / "deep").exists() and not (tmp_path / "evil").exists()


def test_safe_names_are_kept(tmp_path: Path) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), [{"spec": "file:refs/a.pt", "name": "r18.a1_in1k-v2"}])
    _, (job,) = plan_sweep(zoo, tmp_path / "out")
    assert job.config.out == tmp_path / "out" / "models" / "r18.a1_in1k-v2"


def test_the_fingerprint_follows_the_content_of_every_local_input_file(tmp_path: Path) -> None:
    """Overwriting a checkpoint, a factory's .py file or a weights file changes the fingerprint;
    touching a file without changing it does not."""
    root = make_zoo_folder(tmp_path)
    (root / "factory.py").write_text(TINY_FACTORY)
    write_small_cnn(root / "w.pt", 5)
    zoo = write_zoo(root, ["file:refs/a.pt", {"spec": "py:factory.py:make", "name": "py"},
                           {"spec": "file:refs/b.pt", "name": "bw", "weights": "w.pt"}])

    def fingerprints() -> dict[str, str]:
        return {job.name: job.fingerprint for job in plan_sweep(zoo, tmp_path / "out")[1]}

    first = fingerprints()
    (root / "refs" / "a.pt").write_bytes((root / "refs" / "a.pt").read_bytes())  # same bytes, new mtime
    assert fingerprints() == first
    write_small_cnn(root / "refs" / "a.pt", 7)
    (root / "factory.py").write_text(TINY_FACTORY.replace("manual_seed(0)", "manual_seed(1)"))
    write_small_cnn(root / "w.pt", 6)
    second = fingerprints()
    assert all(second[name] != first[name] for name in ("a", "py", "bw"))


def test_a_bad_top_level_value_is_reported_once_with_the_entries_it_affects(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = ["file:refs/a.pt", "file:refs/b.pt", "file:nan.pt", {"spec": "file:refs/a.pt", "name": "a2"},
              {"spec": "file:refs/b.pt", "name": "b2"}, {"spec": "file:nan.pt", "name": "n2"}]
    root = make_zoo_folder(tmp_path)
    for key, value, message in (("protocol", "fastt", "Did you mean: fast"),
                                ("probes", ["hybrid", "adversarial_spectrm"], "Did you mean: adversarial_spectrum")):
        zoo = write_zoo(root, models, **{key: value})
        assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "-q"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 2 and "6 bad entries" in lines[0] and message in lines[1]
        assert "(6 entries)" in lines[1] and lines[1].strip().startswith("models[0], models[1], models[2], …")
    assert not (tmp_path / "out").exists()


def test_a_misspelt_models_key_gets_a_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text("data: embedded\nmodel:\n  - embedded:cnn\n")
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown key 'model'" in err and "Did you mean: models" in err


def test_a_dataset_that_cannot_be_opened_is_caught_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_zoo_folder(tmp_path / "zoo")
    (root / "empty").mkdir()
    monkeypatch.chdir(tmp_path)  # no ./data/cifar-10-batches-py here
    zoo = write_zoo(root, ["file:refs/a.pt", "file:refs/b.pt", {"spec": "file:nan.pt", "data_dir": "empty"}],
                    data="cifar10")
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and "3 bad entries" in lines[0]
    assert "models[0], models[1] (2 entries): dataset cifar10: cifar10 not found" in lines[1]
    assert "models[2] (file:nan.pt)" in lines[2] and str(root / "empty") in lines[2]
    assert all("set `data_dir:`" in line and "--data-dir" not in line for line in lines[1:])
    assert not (tmp_path / "out").exists()


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)


def test_every_yaml_block_of_the_docs_parses_and_the_example_zoo_is_valid() -> None:
    blocks = yaml_blocks((ROOT / "docs" / "sweep.md").read_text())
    assert blocks
    for block in blocks:
        zoo = yaml.safe_load(block)
        jsonschema.validate(zoo, zoo_schema())
        check_options({k: v for k, v in zoo.items() if k != "models"}, "top-level option")
        for entry in zoo["models"]:
            if isinstance(entry, dict):
                check_options({k: v for k, v in entry.items() if k not in ("spec", "name")}, "option")


def test_the_docs_list_every_zoo_key() -> None:
    text = (ROOT / "docs" / "sweep.md").read_text()
    listed = text.split("The keys are `score`'s options:", 1)[1].split("\n- ", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", listed)) == set(score_options())


def test_the_example_zoo_of_the_docs_plans(tmp_path: Path) -> None:
    """The docs' example with its models swapped for local ones: every top-level default plans."""
    zoo = yaml.safe_load(yaml_blocks((ROOT / "docs" / "sweep.md").read_text())[0])
    root = make_zoo_folder(tmp_path)
    (root / "data_folder").mkdir()
    defaults = {k: v for k, v in zoo.items() if k not in ("models", "model_dir")}
    defaults.update(data="npz:data.npz", data_dir="data_folder")
    path = root / "zoo.yaml"
    path.write_text(yaml.safe_dump({**defaults, "models": ["file:refs/a.pt"]}))
    _, (job,) = plan_sweep(path, tmp_path / "out")
    assert job.config.probe_options["corruptions"]["severities"] == [1, 3, 5]



def test_dry_run_checks_the_executor_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt"])
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "--dry-run", "--executor", "loacl"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown executor 'loacl'. Did you mean: local?" in err
    assert not (tmp_path / "out").exists()
