"""Settings metadata → Typer flags: given flags arrive typed, absent flags arrive as None."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from robaudit import config
from robaudit.cli_options import given_values, typer_parameters, with_parameters


@dataclass
class Demo:
    rate: float = config.setting(0.5, help="learning rate", flag="rate", minimum=0.0)
    steps: int = config.setting(3, help="number of steps", flag="steps")
    mode: str = config.setting("fast", help="how to run", flag="mode", choices=("fast", "slow"))
    grey: bool = config.setting(False, help="greyscale images", flag="grey")
    grid: list[float] = config.setting(help="grid in cpp", flag="grid", factory=lambda: [0.1, 0.2])
    folder: Path | None = config.setting(None, help="where data lives", flag="folder")
    hidden: int = config.setting(7, help="only through --set")


INFOS = config.settings_info(Demo)
received: dict[str, Any] = {}


def _command(name: Annotated[str, typer.Argument()], **kwargs: Any) -> None:
    received.clear()
    received.update(kwargs, name=name)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("command")(with_parameters(_command, typer_parameters(INFOS)))
    app.command("other")(lambda: None)  # two commands so Typer keeps the command name
    return app


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(_app(), ["command", *args])
    assert result.exit_code == 0, result.output
    return result


def test_given_flags_arrive_typed() -> None:
    _invoke("x", "--rate", "0.25", "--steps", "9", "--mode", "slow", "--grid", "0.1,0.3", "--folder", "d")
    assert received["name"] == "x"
    assert received["rate"] == 0.25 and received["steps"] == 9 and received["mode"] == "slow"
    assert received["grid"] == "0.1,0.3"  # comma text; build_settings parses it
    assert received["folder"] == Path("d")
    settings = config.build_settings(Demo, given_values(INFOS, received), "demo")
    assert settings.grid == [0.1, 0.3] and settings.rate == 0.25 and settings.hidden == 7


def test_absent_flags_are_none_and_not_given() -> None:
    _invoke("x")
    assert all(received[info.name] is None for info in INFOS if info.flag)
    assert "hidden" not in received  # no flag: only --set reaches it
    assert given_values(INFOS, received) == {}


@pytest.mark.parametrize(("args", "expected"), [(["--grey"], True), (["--no-grey"], False), ([], None)])
def test_bool_flags_have_a_negative_form(args: list[str], expected: bool | None) -> None:
    _invoke("x", *args)
    assert received["grey"] is expected


def test_help_lists_choices_and_defaults() -> None:
    result = CliRunner().invoke(_app(), ["command", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert "one of: fast, slow" in text and "default: fast" in text
    assert "--no-grey" in text and "--hidden" not in text


def test_wrong_type_is_a_usage_error() -> None:
    result = CliRunner().invoke(_app(), ["command", "x", "--steps", "many"])
    assert result.exit_code == 2


def test_prefix_keeps_two_settings_classes_apart() -> None:
    params = typer_parameters(INFOS, name_prefix="demo_")
    assert {p.name for p in params} == {f"demo_{i.name}" for i in INFOS if i.flag}
    assert given_values(INFOS, {"demo_rate": 0.1, "rate": 0.9}, name_prefix="demo_") == {"rate": 0.1}


def test_clashing_parameter_is_refused() -> None:
    def command(rate: float = 1.0, **kwargs: Any) -> None: ...

    with pytest.raises(ValueError, match="rate"):
        with_parameters(command, typer_parameters(INFOS))
