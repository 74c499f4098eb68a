"""Bad inputs to every command but `score` (check, corrupt, train-reference, sweep, compare, models,
datasets, probes), table-driven through the real CLI: exit 2, one line on stderr, no traceback,
and an earlier report card (also given as --out where a command writes one) unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import Env, assert_refused, build_card, good_npz


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    return build_card(tmp_path_factory.mktemp("earlier"))


def report(env: Env) -> str:
    return str(env.card / "report.json")


def policy(env: Env, text: str | bytes = "rules:\n  - {metric: config.seed, min: 0}\n") -> str:
    return str(env.file("p.yaml", text))


def other_version(env: Env) -> str:
    data = json.loads((env.card / "report.json").read_text())
    data["schema_version"] = "0.9"
    return str(env.file("old/report.json", json.dumps(data)))


def other_set(env: Env) -> list[str]:
    """A folder holding a corruption set of other data (its manifest names another content hash)."""
    folder = env.tmp / "set"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"dataset": {"spec": "cifar10", "sha256": "0" * 64,
                                                                  "split": "test"}, "seed": 0}))
    np.save(folder / "fog.npy", np.zeros((5, 32, 32, 3), np.uint8))
    return ["-o", str(folder)]


def unlabelled_set(env: Env) -> list[str]:
    """A CIFAR-10-C-style folder without manifest (e.g. the official archive)."""
    folder = env.tmp / "cifar10c"
    folder.mkdir()
    np.save(folder / "labels.npy", np.zeros(5, np.uint8))
    np.save(folder / "fog.npy", np.zeros((5, 32, 32, 3), np.uint8))
    return ["-o", str(folder)]


def zoo(env: Env, text: str | bytes) -> str:
    return str(env.file("zoo.yaml", text))


def state_file(env: Env, content: bytes) -> list[str]:
    env.file("ref.pt.state", content)
    return ["--out", str(env.tmp / "ref.pt")]


def corrupt(*args: str) -> Callable[[Env], list[str]]:
    """`corrupt` of the working npz into the earlier card's folder unless the row says otherwise."""
    def build(env: Env) -> list[str]:
        given = list(args)
        dataset = [] if given and not given[0].startswith("-") else [env.data]
        out = [] if "-o" in given else ["-o", str(env.card)]
        return ["corrupt", *dataset, *given, *out, "--corruptions", "contrast", "--n-images", "5"]
    return build


Row = tuple[str, Callable[[Env], list[str]], str]
ROWS: list[Row] = [
    # check
    ("check: binary report", lambda e: ["check", e.file("r.json", bytes(range(256))), "--policy", policy(e)],
     "not a text file"),
    ("check: report not JSON", lambda e: ["check", e.file("r.json", "{"), "--policy", policy(e)], "not valid JSON"),
    ("check: report is a list", lambda e: ["check", e.file("r.json", "[]"), "--policy", policy(e)], "not a robaudit"),
    ("check: other schema version", lambda e: ["check", other_version(e), "--policy", policy(e)], "schema version"),
    ("check: report is a folder", lambda e: ["check", e.tmp, "--policy", policy(e)], "a folder without report.json"),
    ("check: binary policy", lambda e: ["check", report(e), "--policy", policy(e, bytes(range(256)))], "policy"),
    ("check: policy NaN bound", lambda e: ["check", report(e), "--policy",
                                           policy(e, "rules:\n  - {metric: config.seed, max: .nan}\n")], "finite"),
    ("check: policy min > max", lambda e: ["check", report(e), "--policy",
                                           policy(e, "rules:\n  - {metric: config.seed, min: 3, max: 1}\n")], "min"),
    ("check: policy unknown key", lambda e: ["check", report(e), "--policy",
                                             policy(e, "rules:\n  - {metric: config.seed, minn: 3}\n")], "minn"),
    ("check: policy unknown metric", lambda e: ["check", report(e), "--policy",
                                                policy(e, "rules:\n  - {metric: probes.hybrid.nope, min: 0}\n")],
     "nope"),
    ("check: --junit is a folder", lambda e: ["check", report(e), "--policy", policy(e), "--junit", e.tmp], "junit"),
    ("check: --junit too long", lambda e: ["check", report(e), "--policy", policy(e), "--junit", e.tmp / ("j" * 300)],
     "junit"),
    ("check: --junit on /proc", lambda e: ["check", report(e), "--policy", policy(e), "--junit", "/proc/j.xml"],
     "junit"),
    ("check: missing policy flag", lambda e: ["check", report(e)], "--policy"),
    # corrupt
    ("corrupt: --reference-size 100", corrupt("--reference-size", "100"), "reference-size"),
    ("corrupt: unknown corruption", lambda e: [*corrupt()(e), "--corruptions", "fgo"], "fog"),
    ("corrupt: --out is a file", lambda e: corrupt("-o", str(e.file("f", b"x")))(e), "--out"),
    ("corrupt: missing npz", corrupt("npz:/nonexistent/d.npz"), "does not exist"),
    ("corrupt: --n-images 0", lambda e: [*corrupt()(e), "--n-images", "0"], "n-images"),
    ("corrupt: fractional labels", lambda e: corrupt(e.npz(**good_npz(y=np.arange(40) % 10 + 0.5)))(e), "label"),
    ("corrupt: --seed -1", corrupt("--seed", "-1"), "seed"),
    ("corrupt: npz --split validation", corrupt("--split", "validation"), "no splits"),
    ("corrupt: --device tpu", corrupt("--device", "tpu"), "device"),
    ("corrupt: into another set", lambda e: corrupt(*other_set(e))(e), "--overwrite"),
    ("corrupt: into a set without manifest", lambda e: corrupt(*unlabelled_set(e))(e), "--overwrite"),
    # train-reference
    ("train-reference: --out is a folder", lambda e: ["train-reference", "baseline", "--out", e.card], "folder"),
    ("train-reference: corrupt .state", lambda e: ["train-reference", "baseline", "--epochs", "1",
                                                   *state_file(e, b"garbage")], "resume state"),
    ("train-reference: truncated .state", lambda e: ["train-reference", "baseline", "--epochs", "1",
                                                     *state_file(e, (e.card / "hybrid.npz").read_bytes()[:50])],
     "resume state"),
    ("train-reference: unknown kind", lambda e: ["train-reference", "basline", "--out", e.tmp / "r.pt"], "baseline"),
    ("train-reference: unknown --set", lambda e: ["train-reference", "baseline", "--set", "epochz=1"], "epochs"),
    ("train-reference: --epochs 0", lambda e: ["train-reference", "baseline", "--epochs", "0"], "epochs"),
    ("train-reference: --out too long", lambda e: ["train-reference", "baseline", "--out", e.tmp / ("r" * 300)],
     "--out"),
    ("train-reference: fractional labels", lambda e: ["train-reference", "baseline", "--out", e.tmp / "r.pt",
                                                      "--dataset", e.npz(**good_npz(y=np.arange(40) % 10 + 0.5))],
     "label"),
    ("train-reference: --seed 2**67", lambda e: ["train-reference", "baseline", "--seed", "99999999999999999999",
                                                 "--out", e.tmp / "r.pt"], "--seed"),
    ("train-reference: --seed -1", lambda e: ["train-reference", "baseline", "--seed", "-1", "--out", e.tmp / "r.pt"],
     "--seed"),
    ("train-reference: torchvision arch misspelt", lambda e: ["train-reference", "baseline", "--arch",
                                                              "torchvision:resnt18", "--out", e.tmp / "r.pt"],
     "Did you mean: resnet18"),
    ("train-reference: timm arch misspelt", lambda e: ["train-reference", "baseline", "--arch", "timm:resnet18x",
                                                       "--out", e.tmp / "r.pt"], "Did you mean: resnet18"),
    # sweep
    ("sweep: missing zoo", lambda e: ["sweep", e.tmp / "none.yaml", "-o", e.tmp / "s"], "does not exist"),
    ("sweep: binary zoo", lambda e: ["sweep", zoo(e, bytes(range(256))), "-o", e.tmp / "s"], "zoo"),
    ("sweep: invalid YAML", lambda e: ["sweep", zoo(e, "models: ["), "-o", e.tmp / "s"], "YAML"),
    ("sweep: no models", lambda e: ["sweep", zoo(e, "models: []\n"), "-o", e.tmp / "s"], "models"),
    ("sweep: unknown top-level key", lambda e: ["sweep", zoo(e, f"modelz: [{e.model}]\n"), "-o", e.tmp / "s"],
     "models"),
    ("sweep: --out is a file", lambda e: ["sweep", zoo(e, f"models: ['{e.model}']\ndata: '{e.data}'\n"),
                                          "-o", e.file("f", b"x")], "f"),
    ("sweep: --jobs 0", lambda e: ["sweep", zoo(e, "models: []\n"), "--jobs", "0"], "jobs"),
    ("sweep: unknown executor", lambda e: ["sweep", zoo(e, f"models: ['{e.model}']\ndata: '{e.data}'\n"),
                                           "-o", e.tmp / "s", "--executor", "kubernetes"], "executor"),
    # compare
    ("compare: missing source", lambda e: ["compare", e.tmp / "none", "-o", e.tmp / "b"], "none"),
    ("compare: binary report", lambda e: ["compare", e.file("r/report.json", bytes(range(256))), "-o", e.tmp / "b"],
     "report"),
    ("compare: report not JSON", lambda e: ["compare", e.file("r/report.json", "{"), "-o", e.tmp / "b"], "report"),
    ("compare: report without model", lambda e: ["compare", e.file("r/report.json", "{}"), "-o", e.tmp / "b"],
     "not a robaudit report"),
    ("compare: --out is a file", lambda e: ["compare", e.card, "-o", e.file("f", b"x")], "f"),
    ("compare: no sources", lambda e: ["compare", "-o", e.tmp / "b"], "sources"),
    # the listings
    ("models: unknown source", lambda e: ["models", "--source", "timmm"], "timm"),
    ("models: unknown option", lambda e: ["models", "--sauce", "timm"], "--sauce"),
    ("datasets: extra argument", lambda e: ["datasets", "cifar10"], "cifar10"),
    ("datasets: unknown option", lambda e: ["datasets", "--all"], "--all"),
    ("probes: extra argument", lambda e: ["probes", "hybrid"], "hybrid"),
    ("probes: unknown option", lambda e: ["probes", "--json"], "--json"),
    ("unknown command", lambda e: ["scroe"], "scroe"),
]


@pytest.mark.parametrize(("build", "message"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_command_refuses_bad_input(earlier: tuple[Path, str, str], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], build: Callable[[Env], list[str]],
                                   message: str) -> None:
    card, model, data = earlier
    assert_refused(build(Env(tmp_path, card, model, data)), card, capsys, message=message)
