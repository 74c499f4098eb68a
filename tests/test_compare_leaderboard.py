"""`robaudit compare`: rows, derived columns, settings check, escaping, model_info and the schema."""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from scipy import stats

from robaudit.cli import main
from robaudit.compare import write_leaderboard
from robaudit.compare.document import SCHEMA_PATH, schema_text
from robaudit.errors import RobauditError
from tests.compare_cards import ZOO, card, sweep, zoo_sweep


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = zoo_sweep(tmp_path_factory.mktemp("zoo") / "sweep")
    board = write_leaderboard([folder], folder / "leaderboard", baseline="alpha")
    return folder, board


def rows_by_name(board: dict) -> dict[str, dict]:
    return {row["name"]: row for row in board["rows"]}


def test_one_row_per_model_and_a_failed_model_keeps_its_row(zoo: tuple[Path, dict]) -> None:
    folder, board = zoo
    rows = rows_by_name(board)
    assert list(rows) == [name for name, *_ in ZOO] + ["broken"]
    broken = rows["broken"]
    assert broken["status"] == "failed" and broken["values"]["reason"] == "RuntimeError: CUDA out of memory"
    assert broken["values"]["f_rev_cpp"] is None and broken["link"] is None
    assert rows["alpha"]["link"] == "../models/alpha/report.md"
    out = folder / "leaderboard"
    with (out / "leaderboard.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["name"] for r in table] == list(rows) and table[-1]["status"] == "failed"
    markdown = (out / "leaderboard.md").read_text()
    assert markdown.count("\n| [") + markdown.count("\n| broken") == len(rows)


def test_leaderboard_json_follows_the_published_schema(zoo: tuple[Path, dict]) -> None:
    folder, board = zoo
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(json.loads((folder / "leaderboard" / "leaderboard.json").read_text()), schema)
    assert SCHEMA_PATH.read_text() == schema_text(), "run python -m robaudit.compare.document"


def test_robust_accuracy_columns_come_from_the_minimal_sizes(zoo: tuple[Path, dict]) -> None:
    rows = rows_by_name(zoo[1])
    for name, _, _, sizes, _ in ZOO:
        # 10 images examined, 2 misclassified: robust accuracy = 0.8 × P(size > 8/255 | attacked).
        expected = 0.8 * sum(s > 8 / 255 for s in sizes) / len(sizes)
        assert rows[name]["values"]["robust_acc_linf_8_255"] == pytest.approx(expected)
        assert rows[name]["values"]["robust_acc_l2_0.5"] is None  # an L∞ attack says nothing about L2
        assert rows[name]["values"]["median_size"] == pytest.approx(np.median(sizes), rel=1e-6)
    assert rows["alpha"]["values"]["robust_acc_linf_8_255"] == pytest.approx(0.6)


def test_mean_corruption_error_against_the_baseline_model(zoo: tuple[Path, dict]) -> None:
    folder, board = zoo
    rows = rows_by_name(board)
    assert rows["alpha"]["values"]["mce"] == pytest.approx(1.0)  # the baseline against itself

    def table(name: str) -> dict:
        return json.loads((folder / "models" / name / "report.json").read_text())["probes"]["corruptions"]["accuracy"]

    base = table("alpha")
    for name in ("beta", "gamma", "delta"):
        acc = table(name)
        ce = [sum(1 - acc[c][s] for s in acc[c]) / sum(1 - base[c][s] for s in base[c]) for c in acc]
        assert rows[name]["values"]["mce"] == pytest.approx(np.mean(ce))


def test_correlations_match_scipy_and_figures_are_written(zoo: tuple[Path, dict]) -> None:
    folder, board = zoo
    found = {(c["x"], c["y"]): c for c in board["correlations"]}
    f_rev, f05 = [z[1] for z in ZOO], [z[2] for z in ZOO]
    assert found[("f_rev_cpp", "f05_cpp")]["rho"] == pytest.approx(stats.spearmanr(f_rev, f05).statistic)
    assert found[("f_rev_cpp", "f05_cpp")]["n"] == len(ZOO)
    for category in ("low", "mid", "high"):
        assert (("f_rev_cpp", f"corruption_acc_{category}") in found) == (category != "mid")  # mid never ran
    assert {"scatter_frev_f05.png", "scatter_frev_robust_acc.png", "scatter_f05_median_size.png",
            "scatter_frev_corruption.png", "overlay_hybrid.png", "overlay_spectra.png",
            "overlay_robust_acc.png"} <= set(board["figures"])
    for name in board["figures"]:
        assert (folder / "leaderboard" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mixed_settings_are_refused_with_the_difference_named_unless_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = card(tmp_path / "a", "a", f_rev=0.1, f05=0.05, sizes=[0.01, 0.02, 0.03])
    b = card(tmp_path / "b", "b", f_rev=0.2, f05=0.07, sizes=[0.01, 0.02, 0.03], data_sha="ab" * 32)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "lb")]) == 2
    message = capsys.readouterr().err
    assert "data.sha256" in message and "--allow-mixed" in message and "abababababab" in message
    assert not (tmp_path / "lb" / "leaderboard.json").exists()
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "lb"), "--allow-mixed", "-q"]) == 0
    board = json.loads((tmp_path / "lb" / "leaderboard.json").read_text())
    assert board["differing_settings"] == ["data.sha256"]
    notes = [row["values"]["settings"] for row in board["rows"]]
    assert notes[0].startswith("data.sha256=2b60e1980512") and notes[1] == "data.sha256=abababababab"


def test_different_probe_settings_are_refused_too(tmp_path: Path) -> None:
    a = card(tmp_path / "a", "a", f_rev=0.1, f05=0.05, sizes=[0.01, 0.02, 0.03])
    b = card(tmp_path / "b", "b", f_rev=0.2, f05=0.07, sizes=[0.01, 0.02, 0.03], norm="l2")
    with pytest.raises(RobauditError, match="adversarial_spectrum.norm differs"):
        write_leaderboard([a, b], tmp_path / "lb")


def test_every_user_given_string_is_escaped_in_the_page(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    folder = tmp_path / "sweep"
    card(folder / "models" / "m", "m", f_rev=0.1, f05=0.05, sizes=[0.01, 0.02])
    sweep(folder, [{"name": evil, "out": "models/m", "spec": 'py:"x"&<b>'},
                   {"name": "<img src=x onerror=alert(2)>", "status": "failed", "reason": "<b>boom</b> & \"quote\""}])
    write_leaderboard([folder], tmp_path / "lb")
    page = (tmp_path / "lb" / "leaderboard.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and evil not in page
    assert "<img src=x" not in page and "&lt;b&gt;boom&lt;/b&gt; &amp; &quot;quote&quot;" in page
    assert "py:&quot;x&quot;&amp;&lt;b&gt;" in page
    assert page.count("<script>") == 1  # only the page's own sorting script


def test_model_info_joins_robustbench_numbers_and_adds_the_autoattack_plot(tmp_path: Path) -> None:
    folder = zoo_sweep(tmp_path / "sweep", failed=None)
    info = tmp_path / "model_info" / "cifar10" / "Linf"
    info.mkdir(parents=True)
    for i, (name, *_) in enumerate(ZOO):
        (info / f"{name}.json").write_text(json.dumps({
            "name": f"Paper {name}", "venue": "ICML 2099", "clean_acc": f"{90 - i}.5",
            "autoattack_acc": f"{50 - 5 * i}.25", "eps": "8/255"}))
    board = write_leaderboard([folder], tmp_path / "lb", model_info=tmp_path / "model_info")
    alpha = rows_by_name(board)["alpha"]["values"]
    assert alpha["rb_clean_acc"] == pytest.approx(0.905) and alpha["rb_autoattack_acc"] == pytest.approx(0.5025)
    assert alpha["rb_reference"] == "Paper alpha (ICML 2099)"
    assert "scatter_robust_acc_autoattack.png" in board["figures"]


def test_unknown_baseline_and_empty_sources_are_user_errors(tmp_path: Path) -> None:
    folder = zoo_sweep(tmp_path / "sweep")
    with pytest.raises(RobauditError, match="--baseline 'nobody' is not a model"):
        write_leaderboard([folder], tmp_path / "lb", baseline="nobody")
    with pytest.raises(RobauditError, match="Did you mean: alpha"):
        write_leaderboard([folder], tmp_path / "lb", baseline="alpah")
    with pytest.raises(RobauditError, match="neither a sweep folder"):
        write_leaderboard([tmp_path / "nothing"], tmp_path / "lb")


def test_models_of_the_same_name_from_two_sweeps_are_told_apart(tmp_path: Path) -> None:
    first, second = zoo_sweep(tmp_path / "monday"), zoo_sweep(tmp_path / "tuesday", failed=None)
    copy = shutil.copytree(first / "models" / "alpha", tmp_path / "copies" / "models" / "alpha")
    board = write_leaderboard([first, second, copy / "report.json"], tmp_path / "lb")
    names = [row["name"] for row in board["rows"]]
    assert names[:2] == ["alpha@monday", "beta@monday"] and "alpha@tuesday" in names
    assert names[-1] == "alpha@models" and len(set(names)) == len(names)


def test_a_model_folder_given_twice_is_one_row(tmp_path: Path) -> None:
    folder = zoo_sweep(tmp_path / "sweep")
    once = write_leaderboard([folder], tmp_path / "once")
    twice = write_leaderboard([folder, folder, folder / "models" / "alpha" / "report.json"], tmp_path / "twice")
    assert [row["name"] for row in twice["rows"]] == [row["name"] for row in once["rows"]]
    assert {c["n"] for c in twice["correlations"]} == {c["n"] for c in once["correlations"]}


def test_a_reused_folder_keeps_no_figure_of_the_previous_leaderboard(tmp_path: Path) -> None:
    from robaudit.compare.build import SCATTER_FILES

    out = tmp_path / "lb"
    first = write_leaderboard([zoo_sweep(tmp_path / "sweep")], out)
    assert set(first["figures"]) <= {*SCATTER_FILES, "overlay_hybrid.png", "overlay_spectra.png",
                                     "overlay_robust_acc.png"}
    (out / "notes.txt").write_text("mine")
    one = card(tmp_path / "one", "one", f_rev=0.1, f05=0.05, sizes=[0.01])
    second = write_leaderboard([one], out)  # one model: no scatter plot
    assert not any(name.startswith("scatter_") for name in second["figures"])
    assert sorted(p.name for p in out.glob("*.png")) == sorted(second["figures"])
    assert (out / "notes.txt").read_text() == "mine"


def test_an_unmodified_score_card_reads_as_it_was_written(tmp_path: Path) -> None:
    from tests.compare_cards import TEMPLATE

    board = write_leaderboard([TEMPLATE / "report.json"], tmp_path / "lb")
    report = json.loads((TEMPLATE / "report.json").read_text())
    adv, corr = report["probes"]["adversarial_spectrum"], report["probes"]["corruptions"]
    values = board["rows"][0]["values"]
    assert values["f05_cpp"] == adv["f_05"]["cycles_per_pixel"]["value"]
    assert values["f_rev_cpp"] is None  # this model never crossed: the reason stays in the report
    assert values["clean_acc"] == corr["clean_accuracy"] and values["corruption_acc_mid"] is None
    with np.load(TEMPLATE / "adversarial_spectrum.npz") as arrays:
        sizes = arrays["size"]
    clean = (adv["n_examined"] - adv["n_skipped"]) / adv["n_examined"]
    assert values["robust_acc_linf_8_255"] == pytest.approx(clean * np.mean(sizes > 8 / 255))
    assert "never cross" in values["flags"]


@pytest.mark.parametrize(("side", "norm", "filled"), [
    (32, "linf", "robust_acc_linf_8_255"), (32, "l2", "robust_acc_l2_0.5"),
    (224, "linf", "robust_acc_linf_4_255"), (224, "l2", "robust_acc_l2_3.0")])
def test_the_budget_follows_the_input_size_and_the_attack_norm(tmp_path: Path, side: int, norm: str,
                                                                filled: str) -> None:
    sizes = [0.001, 0.01, 0.02, 0.1, 0.4, 0.6, 2.0, 4.0]
    epsilon = {"robust_acc_linf_8_255": 8 / 255, "robust_acc_l2_0.5": 0.5, "robust_acc_linf_4_255": 4 / 255,
               "robust_acc_l2_3.0": 3.0}
    folder = card(tmp_path / "m", "m", f_rev=0.1, f05=0.05, sizes=sizes, examined=10, skipped=2, norm=norm, side=side)
    values = write_leaderboard([folder], tmp_path / "lb")["rows"][0]["values"]
    for key, eps in epsilon.items():
        expected = 0.8 * sum(s > eps for s in sizes) / len(sizes) if key == filled else None
        assert values[key] == (pytest.approx(expected) if expected is not None else None), key


def test_a_probe_declaring_its_metrics_gets_columns_with_its_units_and_directions(tmp_path: Path) -> None:
    from robaudit.probes import PROBES, Probe
    from robaudit.report_model import Section, metric

    class BandMetrics(Section):
        f_lp50: float | None = metric(unit="cycles_per_pixel", label="low-pass f_50")
        accuracy_drop: float = metric(unit="fraction", label="accuracy drop", direction="lower")
        curve: list[float] = []

    class BandProbe(Probe):
        name = "toy_bandpass"
        Settings = dict
        Metrics = BandMetrics

        def run(self, ctx):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    PROBES.register("toy_bandpass")(BandProbe)
    try:
        folders = []
        for name, f_rev, f_lp50 in (("a", 0.1, 0.05), ("b", 0.2, 0.15), ("c", 0.3, 0.1)):
            folder = card(tmp_path / name, name, f_rev=f_rev, f05=0.05, sizes=[0.01, 0.02])
            report = json.loads((folder / "report.json").read_text())
            report["probes"]["toy_bandpass"] = {"f_lp50": f_lp50, "accuracy_drop": f_rev / 2, "curve": [1.0]}
            (folder / "report.json").write_text(json.dumps(report))
            folders.append(folder)
        board = write_leaderboard(folders, tmp_path / "lb")
    finally:
        PROBES._items.pop("toy_bandpass")
    columns = {c["key"]: c for c in board["columns"]}
    assert columns["toy_bandpass.f_lp50"]["unit"] == "cycles_per_pixel"
    assert columns["toy_bandpass.f_lp50"]["direction"] is None
    assert columns["toy_bandpass.accuracy_drop"]["direction"] == "lower"
    assert "toy_bandpass.curve" not in columns
    assert [row["values"]["toy_bandpass.f_lp50"] for row in board["rows"]] == [0.05, 0.15, 0.1]
    assert "scatter_frev_flp50.png" in board["figures"]
    found = {(c["x"], c["y"]): c["rho"] for c in board["correlations"]}
    assert found[("f_rev_cpp", "toy_bandpass.f_lp50")] == pytest.approx(stats.spearmanr([1, 2, 3], [1, 3, 2]).statistic)


def test_models_without_an_adversarial_section_get_no_empty_overlays_and_no_warnings(tmp_path: Path) -> None:
    models = []
    for name, f_rev in (("alpha", 0.1), ("beta", 0.2)):
        folder = card(tmp_path / "sweep" / "models" / name, name, f_rev=f_rev, f05=0.05, sizes=[0.01])
        report = json.loads((folder / "report.json").read_text())
        del report["probes"]["adversarial_spectrum"], report["config"]["probe_settings"]["adversarial_spectrum"]
        (folder / "report.json").write_text(json.dumps(report))
        (folder / "adversarial_spectrum.npz").unlink()
        models.append({"name": name})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # matplotlib: a legend without labelled artists
        board = write_leaderboard([sweep(tmp_path / "sweep", models)], tmp_path / "lb")
    assert "overlay_hybrid.png" in board["figures"]
    for absent in ("overlay_spectra.png", "overlay_robust_acc.png"):
        assert absent not in board["figures"] and not (tmp_path / "lb" / absent).exists()


def test_scatter_groups_come_from_the_reference_kinds_and_each_group_has_its_own_marker() -> None:
    from robaudit.compare.figures import MODEL_GROUP, group_of, marker_of
    from robaudit.references.kinds import REFERENCE_KINDS, ReferenceKind

    class Toy(ReferenceKind):
        name, description, plot_group = "toy_kind", "a kind registered by this test", "toy group"

    REFERENCE_KINDS.register("toy_kind")(Toy)
    try:
        kinds = REFERENCE_KINDS.names()
        groups = {group_of(kind) for kind in kinds} | {MODEL_GROUP}
        assert group_of("toy_kind") == "toy group" and group_of("blur") != group_of("neural")
        assert group_of(None) == group_of("not a kind") == MODEL_GROUP
        assert len({marker_of(group) for group in groups}) == len(groups)
    finally:
        REFERENCE_KINDS._items.pop("toy_kind")


def test_a_probe_marking_a_column_gets_that_column_alone_on_every_board(tmp_path: Path) -> None:
    from robaudit.probes import PROBES, Probe
    from robaudit.report_model import Section, metric

    class ToyMetrics(Section):
        headline: float = metric(unit="fraction", label="toy headline", direction="higher", column="toy_headline")
        detail: float = metric(unit="fraction", label="toy detail")

    class ToyProbe(Probe):
        name, Settings, Metrics = "toy_marked", dict, ToyMetrics

        def run(self, ctx):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    PROBES.register("toy_marked")(ToyProbe)
    try:
        folder = card(tmp_path / "a", "a", f_rev=0.1, f05=0.05, sizes=[0.01])
        report = json.loads((folder / "report.json").read_text())
        report["probes"]["toy_marked"] = {"headline": 0.7, "detail": 0.2}
        (folder / "report.json").write_text(json.dumps(report))
        board = write_leaderboard([folder], tmp_path / "lb")
        without = write_leaderboard([card(tmp_path / "b", "b", f_rev=0.1, f05=0.05, sizes=[0.01])], tmp_path / "lb2")
    finally:
        PROBES._items.pop("toy_marked")
    columns = {c["key"]: c for c in board["columns"]}
    assert columns["toy_headline"]["label"] == "toy headline" and columns["toy_headline"]["direction"] == "higher"
    assert not any(key.startswith("toy_marked.") for key in columns)
    assert board["rows"][0]["values"]["toy_headline"] == 0.7
    assert "toy_headline" in {c["key"] for c in without["columns"]}  # declared: on a board without the probe too
