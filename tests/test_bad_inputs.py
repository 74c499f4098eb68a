"""Bad inputs to `robaudit score`, table-driven through the real CLI: each is refused with exit 2
(3 for what is robaudit's own failure), one line on stderr, no traceback, and the earlier report
card in --out unchanged. The other commands' rows are in test_bad_inputs_commands.py."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.bad_inputs import Env, assert_refused, build_card, checkpoint, cifar_folder, good_npz, net_factory


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    return build_card(tmp_path_factory.mktemp("earlier"))


def truncated(env: Env, name: str, source: Path) -> Path:
    data = source.read_bytes()
    return env.file(name, data[: len(data) // 2])


def no_arch(payload: dict) -> None:
    del payload["meta"]["arch"]


def other_weights(payload: dict) -> None:
    payload["state_dict"] = {k: v[..., :1] if v.ndim else v for k, v in payload["state_dict"].items()}


def torchscript(env: Env, meta: str) -> str:
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 10)))
    path = env.tmp / "ts.pt"
    torch.jit.save(net, str(path), _extra_files={"robaudit.json": meta})
    return f"file:{path}"


def npz_truncated(env: Env) -> str:
    spec = env.npz("full.npz", **good_npz())
    return f"npz:{truncated(env, 't.npz', Path(spec[4:]))}"


def folder(env: Env, files: dict[str, bytes]) -> str:
    for name, content in files.items():
        env.file(f"imgs/{name}", content)
    return f"folder:{env.tmp / 'imgs'}"


def png(size: int = 32) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def classes(image: bytes) -> dict[str, bytes]:
    """One image in each of ten class folders."""
    return {f"c{i}/0.png": image for i in range(10)}


def meta_factory(meta: str) -> str:
    """A factory body returning a working net with ``meta`` added to its metadata dict."""
    return net_factory("self.lin(x.flatten(1))").replace('"num_classes": 10}', f'"num_classes": 10, {meta}}}')


class System:
    """Pickles as a call of os.system: what a malicious CIFAR batch would hold."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("true",)


def policy(env: Env, text: str | bytes) -> list[str]:
    return ["--policy", str(env.file("p.yaml", text))]


Row = tuple[str, Callable[[Env], list[str]], str]
M = ["-m"]
ROWS: list[Row] = [
    # the model: files, factories and what its forward pass does
    ("empty .pt", lambda e: ["-m", f"file:{e.file('e.pt', b'')}"], "cannot read checkpoint"),
    ("truncated .pt", lambda e: ["-m", f"file:{truncated(e, 't.pt', checkpoint(e, 'c.pt'))}"], "checkpoint"),
    ("checkpoint without architecture", lambda e: ["-m", f"file:{checkpoint(e, 'c.pt', no_arch)}"], "arch"),
    ("mismatched state dict", lambda e: ["-m", f"file:{checkpoint(e, 'c.pt', other_weights)}"], "state"),
    ("bare state dict", lambda e: ["-m", f"file:{e.tmp / 'sd.pt'}"] if torch.save(
        {"w": torch.zeros(2)}, e.tmp / "sd.pt") is None else [], "not a robaudit checkpoint"),
    ("pickled object .pt", lambda e: ["-m", f"file:{e.file('p.pt', __import__('pickle').dumps(Env))}"],
     "cannot read checkpoint"),
    ("torchscript without metadata", lambda e: ["-m", torchscript(e, "")], "metadata"),
    ("torchscript with bad metadata", lambda e: ["-m", torchscript(e, "{not json")], "metadata"),
    ("torchscript metadata without sizes", lambda e: ["-m", torchscript(e, '{"num_classes": 10}')], "input_size"),
    ("factory raises", lambda e: ["-m", e.factory("def make():\n    raise ValueError('no weights')\n")],
     "ValueError"),
    ("factory syntax error", lambda e: ["-m", e.factory("def make(:\n")], "SyntaxError"),
    ("factory calls sys.exit", lambda e: ["-m", e.factory("import sys\ndef make():\n    sys.exit('bye')\n")],
     "SystemExit: bye"),
    ("factory missing", lambda e: ["-m", e.factory("def other():\n    pass\n").replace(":make", ":nope")],
     "no function"),
    ("factory misspelt", lambda e: ["-m", e.factory("def make():\n    pass\n").replace(":make", ":mkae")],
     "no function 'mkae'. Did you mean: make?"),
    ("factory returns a number", lambda e: ["-m", e.factory("def make():\n    return 3\n")], "not a torch"),
    ("forward raises", lambda e: ["-m", e.factory(net_factory("self.lin(x)"))], "first batch"),
    ("forward returns NaN", lambda e: ["-m", e.factory(net_factory("self.lin(x.flatten(1)) * float('nan')"))],
     "NaN"),
    ("forward returns infinity", lambda e: ["-m", e.factory(net_factory("self.lin(x.flatten(1)) / 0.0"))], "NaN"),
    ("forward NaN between pixel levels", lambda e: ["-m", e.factory(net_factory(
        "self.lin(x.flatten(1)) * torch.where((x * 255 - (x * 255).round()).flatten(1).abs().amax(1, keepdim=True)"
        " > 1e-3, float('nan'), 1.0)"))], "NaN or infinite logits for"),
    ("output width 12 for 10 classes", lambda e: ["-m", e.factory(net_factory("self.lin(x.flatten(1))", 12))],
     "12"),
    ("forward returns a 1-d tensor", lambda e: ["-m", e.factory(net_factory("self.lin(x.flatten(1)).sum(1)"))],
     "first batch"),
    ("forward returns a tuple", lambda e: ["-m", e.factory(net_factory("(self.lin(x.flatten(1)),)"))],
     "first batch"),
    ("model spec without source", lambda e: ["-m", "resnet18"], "model"),
    ("--weights for a py: factory", lambda e: ["--weights", e.tmp / "nosuch.pt"], "only torchvision:, timm: models"),
    ("--weights for embedded:cnn", lambda e: ["-m", "embedded:cnn", "--weights", "nosuch.pt"], "not used by embedded:"),
    ("--weights for a file: model", lambda e: ["-m", f"file:{checkpoint(e, 'c.pt')}", "--weights", "w.pt"],
     "not used by file:"),
    ("unknown timm tag", lambda e: ["-m", "timm:resnet18.badtag"], "no pretrained tag 'badtag'. Valid tags: a1_in1k"),
    ("factory mean not numbers", lambda e: ["-m", e.factory(meta_factory('"mean": "abc"'))], "mean must be"),
    ("factory std of two numbers", lambda e: ["-m", e.factory(meta_factory('"std": [1, 1]'))], "std must be 3"),
    ("factory std 0", lambda e: ["-m", e.factory(meta_factory('"std": 0'))], "each > 0"),
    # the data
    ("npz NaN labels", lambda e: ["-d", e.npz(**good_npz(y=np.full(40, np.nan)))], "label"),
    ("npz scalar labels", lambda e: ["-d", e.npz(**good_npz(y=np.array(3)))], "label"),
    ("npz labels past the class names", lambda e: ["-d", e.npz(**good_npz(
        y=np.arange(40) % 12, class_names=np.array([f"c{i}" for i in range(10)])))], "label"),
    ("npz negative labels", lambda e: ["-d", e.npz(**good_npz(y=np.arange(40) % 10 - 1))], "label"),
    ("npz fractional labels", lambda e: ["-d", e.npz(**good_npz(y=np.arange(40) % 10 + 0.5))], "label"),
    ("npz 2-d labels", lambda e: ["-d", e.npz(**good_npz(y=np.zeros((40, 2), np.int64)))], "label"),
    ("npz string labels", lambda e: ["-d", e.npz(**good_npz(y=np.array(["a"] * 40)))], "label"),
    ("npz no images", lambda e: ["-d", e.npz(**good_npz(0))], "no images"),
    ("npz truncated", lambda e: ["-d", npz_truncated(e)], "npz"),
    ("npz not a zip", lambda e: ["-d", f"npz:{e.file('junk.npz', b'junk' * 10)}"], "npz"),
    ("npz without y", lambda e: ["-d", e.npz(x=good_npz()["x"])], "'y'"),
    ("npz float images", lambda e: ["-d", e.npz(**good_npz(x=np.zeros((40, 32, 32, 3))))], "uint8"),
    ("npz label count", lambda e: ["-d", e.npz(**good_npz(y=np.arange(39) % 10))], "labels"),
    ("npz of pickled objects", lambda e: ["-d", e.npz(**good_npz(y=np.array([{}] * 40, dtype=object)))], "npz"),
    ("npz 16 px for a 32 px model", lambda e: ["-d", e.npz(**good_npz(size=16))], "--resize"),
    ("folder: non-image with .png name", lambda e: ["-d", folder(e, {**classes(png()), "a/x.png": b"not an image"})],
     "x.png"),
    ("folder: truncated png", lambda e: ["-d", folder(e, {**classes(png()), "a/x.png": png()[:40]})], "x.png"),
    ("folder: no images", lambda e: ["-d", folder(e, {"a/readme.txt": b"hi"})], "no images"),
    ("folder: 64 px for a 32 px model", lambda e: ["-d", folder(e, classes(png(64)))], "--resize"),
    ("folder: mixed sizes", lambda e: ["-d", folder(e, {**classes(png()), "a/big.png": png(40)})], "--resize"),
    ("folder: a stray class", lambda e: ["-d", folder(e, {**classes(png()), "stray/0.png": png()})],
     "has 11 (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, stray)"),
    ("npz --split validation", lambda e: ["--split", "validation"], "npz: datasets have no splits"),
    ("folder: a file, not a folder", lambda e: ["-d", f"folder:{e.file('f', b'x')}"], "does not exist"),
    ("cifar batch of wrong objects", lambda e: ["-d", "cifar10", "--data-dir", cifar_folder(
        e, {b"data": [b"x"] * 3, b"labels": [0, 1, 2]})], "CIFAR"),
    ("cifar batch calling os.system", lambda e: ["-d", "cifar10", "--data-dir", cifar_folder(e, {b"data": System()})],
     "system, which a CIFAR python batch never needs"),
    ("cifar batch not a dict", lambda e: ["-d", "cifar10", "--data-dir", cifar_folder(e, [1, 2, 3])], "CIFAR"),
    ("unknown dataset", lambda e: ["-d", "cifar11"], "cifar10"),
    # settings, with the same rules whatever their origin
    ("--set hybrid.seeds=abc", lambda e: ["--set", "hybrid.seeds=abc"], "seeds"),
    ("--set hybrid.seeds=0", lambda e: ["--set", "hybrid.seeds=0"], "seeds"),
    ("--hybrid-grid uniform:abc", lambda e: ["--hybrid-grid", "uniform:abc"], "grid"),
    ("--hybrid-grid uniform:-3", lambda e: ["--hybrid-grid", "uniform:-3"], "grid"),
    ("--set hybrid.grid=[0,2]", lambda e: ["--set", "hybrid.grid=[0,2]"], "grid"),
    ("--seed 1e23", lambda e: ["--seed", "1e23"], "seed"),
    ("--seed -1", lambda e: ["--seed", "-1"], "seed"),
    ("--set corruptions.severities=3", lambda e: ["--set", "corruptions.severities=3"], "severities"),
    ("--set corruptions.severities=[6]", lambda e: ["--set", "corruptions.severities=[6]"], "severities"),
    ("--set corruptions.corruptions=fgo", lambda e: ["--set", "corruptions.corruptions=fgo"], "fog"),
    ("--set corruptions.corruptions=7", lambda e: ["--set", "corruptions.corruptions=7"], "corruptions"),
    ("--n-images 0", lambda e: ["--n-images", "0"], "n-images"),
    ("--set hybrid.n_images=0", lambda e: ["--set", "hybrid.n_images=0"], "n_images"),
    ("negative bootstrap", lambda e: ["--set", "adversarial_spectrum.bootstrap=-1"], "bootstrap"),
    ("--batch-size 0", lambda e: ["--batch-size", "0"], "batch"),
    ("--device tpu", lambda e: ["--device", "tpu"], "device"),
    ("noise sweep std 2", lambda e: ["--set", "corruptions.noise_sweep=[2]"], "noise_sweep"),
    ("unknown --set probe", lambda e: ["--set", "hybird.seeds=2"], "hybrid"),
    ("missing corruptions dir", lambda e: ["--corruptions-dir", str(e.tmp / "nope")], "does not exist"),
    ("binary baseline report", lambda e: ["--set", f"corruptions.baseline_report={e.file('b.json', bytes(range(256)))}",
                                          "--probes", "corruptions"], "baseline"),
    # output paths and policies
    ("--out is a file", lambda e: ["-o", e.file("f", b"x")], "--out"),
    ("--out too long", lambda e: ["-o", e.tmp / ("x" * 300)], "--out"),
    ("--out on /proc", lambda e: ["-o", "/proc/robaudit-card"], "--out"),
    ("--junit is a folder", lambda e: [*policy(e, "rules:\n  - {metric: config.seed, min: 0}\n"), "--junit", e.tmp],
     "junit"),
    ("--junit too long", lambda e: [*policy(e, "rules:\n  - {metric: config.seed, min: 0}\n"), "--junit",
                                    e.tmp / ("j" * 300)], "junit"),
    ("binary policy", lambda e: policy(e, bytes(range(256))), "policy"),
    ("policy NaN bound", lambda e: policy(e, "rules:\n  - {metric: config.seed, min: .nan}\n"), "finite"),
    ("policy min > max", lambda e: policy(e, "rules:\n  - {metric: config.seed, min: 2, max: 1}\n"), "min"),
    ("policy without rules", lambda e: policy(e, "rules: []\n"), "rules"),
    ("policy of an unknown metric", lambda e: policy(e, "rules:\n  - {metric: probes.nope, min: 0}\n"), "nope"),
]


@pytest.mark.parametrize(("build", "message"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_score_refuses_bad_input(earlier: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 build: Callable[[Env], list[str]], message: str) -> None:
    card, model, data = earlier
    env = Env(tmp_path, card, model, data)
    args = build(env)
    defaults = {"-m": model, "-d": data, "-o": str(card)}
    given = {a for a in args if a in defaults}
    argv = ["score", *args, *(x for k, v in defaults.items() if k not in given for x in (k, v)), *_cheap(args)]
    assert_refused(argv, card, capsys, message=message)


def _cheap(args: list[str]) -> list[str]:
    """The cheap probe settings, except the flags a row sets itself."""
    from tests.bad_inputs import CHEAP

    out, skip = [], False
    for i, arg in enumerate(CHEAP):
        if skip:
            skip = False
            continue
        if arg in args:
            skip = i + 1 < len(CHEAP) and not CHEAP[i + 1].startswith("-")
            continue
        out.append(arg)
    return out


def test_a_zip_that_is_not_npz_names_the_file(tmp_path: Path, earlier: tuple[Path, str, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    card, model, _ = earlier
    assert_refused(["score", "-m", model, "-d", f"npz:{path}", "-o", card, *_cheap([])], card, capsys, message="z.npz")
