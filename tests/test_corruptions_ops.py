"""Behaviour of the batched corruptions: contract (shape, range, uint8 levels, determinism), the
size rule, the tables against imagecorruptions' source, and exact checks of the two hand-written
kernels with non-trivial semantics (motion blur, glass-blur shuffling) against the reference code."""

from __future__ import annotations

import ast
import inspect
import warnings

import numpy as np
import pytest
import torch

from robaudit.corruptions import CATEGORIES, CORRUPTION_NAMES, _ops, apply_corruption, blur, category_of, streams
from robaudit.corruptions.constants import TABLES, pick_reference

RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "snow",
          "frost", "fog", "elastic_transform"}


def _images(n: int, c: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(n, c, size + 4, size + 4, generator=g), 5, 1)
    return torch.round(smooth * 255) / 255


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
@pytest.mark.parametrize("channels", [1, 3])
def test_contract(name: str, channels: int) -> None:
    x = _images(3, channels, 32)
    outs = [apply_corruption(x, name, s, torch.Generator().manual_seed(7)) for s in (1, 5)]
    for y in outs:
        assert y.shape == x.shape and y.dtype == x.dtype
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
        levels = y * 255
        assert torch.allclose(levels, torch.round(levels), atol=1e-3)  # uint8 levels
    again = apply_corruption(x, name, 5, torch.Generator().manual_seed(7))
    assert torch.equal(again, outs[1])  # same seed, same images
    if name in RANDOM:
        other = apply_corruption(x, name, 5, torch.Generator().manual_seed(8))
        assert not torch.equal(other, outs[1])
    if name != "elastic_transform":  # 5 changes more than 1 (the CIFAR elastic table is not monotone)
        assert (outs[1] - x).abs().mean() >= (outs[0] - x).abs().mean() - 1e-3


def test_categories_cover_the_fifteen() -> None:
    grouped = [n for names in CATEGORIES.values() for n in names]
    assert sorted(grouped) == sorted(CORRUPTION_NAMES) and len(set(grouped)) == 15
    assert category_of("fog") == "low" and category_of("pixelate") == "mid"


@pytest.mark.parametrize(("h", "w", "ref", "scale"), [
    (32, 32, 32, 1.0), (64, 64, 64, 1.0), (224, 224, 224, 1.0), (45, 45, 32, 45 / 32),
    (46, 46, 64, 46 / 64), (119, 119, 64, 119 / 64), (120, 160, 224, 120 / 224),
    (299, 299, 224, 299 / 224), (28, 28, 32, 28 / 32),
])
def test_reference_size_rule(h: int, w: int, ref: int, scale: float) -> None:
    assert pick_reference(h, w) == (ref, pytest.approx(scale))
    assert pick_reference(h, w, ref=64) == (64, 1.0)


def _reference_constants(func: object) -> object:
    """The first ``c = [...]`` literal in an imagecorruptions function's source."""
    tree = ast.parse(inspect.getsource(func))  # type: ignore[arg-type]
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "c":
            value = node.value.value if isinstance(node.value, ast.Subscript) else node.value
            return ast.literal_eval(value)
    raise AssertionError("no constants found")


@pytest.mark.parametrize("name", sorted(set(CORRUPTION_NAMES) - {"zoom_blur", "elastic_transform"}))
def test_imagenet_table_is_imagecorruptions(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import imagecorruptions.corruptions as ic
    expected = np.array(_reference_constants(getattr(ic, name)), dtype=float)
    np.testing.assert_allclose(np.array(TABLES[name][224], dtype=float), expected)


def test_gaussian_noise_tables_differ_by_size() -> None:
    assert TABLES["gaussian_noise"][32] == [0.04, 0.06, 0.08, 0.09, 0.10]  # make_cifar_c.py
    assert TABLES["gaussian_noise"][224] == [0.08, 0.12, 0.18, 0.26, 0.38]  # ImageNet-C


@pytest.mark.parametrize("angle", [-40.0, -7.5, 0.0, 23.0, 45.0])
def test_motion_blur_matches_reference_kernel(angle: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import imagecorruptions.corruptions as ic
    x = _images(1, 3, 40, seed=3)
    ref = ic._motion_blur(x[0].permute(1, 2, 0).double().numpy(), radius=6, sigma=2.5, angle=angle)
    ours = _ops.motion_blur(x.double(), 6, 2.5, torch.tensor([angle]))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)  # FFT in float32; a level is 4e-3


def _reference_shuffle(img: np.ndarray, offsets: dict[tuple[int, int], tuple[int, int]], d: int) -> np.ndarray:
    """The reference's statement, verbatim, on numpy views (which makes it a copy, not a swap)."""
    x = img.copy()
    h_, w_ = x.shape[:2]
    for h in range(h_ - d, d, -1):
        for w in range(w_ - d, d, -1):
            dy, dx = offsets[(h, w)]
            h_prime, w_prime = h + dy, w + dx
            x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]
    return x


@pytest.mark.parametrize("delta", [1, 2, 3])
def test_glass_shuffle_reproduces_reference_loop(delta: int, monkeypatch: pytest.MonkeyPatch) -> None:
    size = 24
    rng = np.random.default_rng(delta)
    img = rng.integers(0, 256, (size, size, 3)).astype(np.uint8)
    rows = range(delta + 1, size - delta + 1)
    dy = rng.integers(-delta, delta, size=(1, len(rows), len(rows)))
    dx = rng.integers(-delta, delta, size=(1, len(rows), len(rows)))
    offsets = {(h, w): (int(dy[0, i, j]), int(dx[0, i, j]))
               for i, h in enumerate(rows) for j, w in enumerate(rows)}
    code = torch.from_numpy((dy + delta) * 2 * delta + dx + delta).int()  # the shuffle's encoding
    monkeypatch.setattr(torch, "randint", lambda *a, **k: code)
    packed = blur._pack(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    out = blur._unpack(blur._shuffle_pass(packed, (1, size, size), delta, torch.Generator()), (1, 3, size, size))
    ours = torch.round(out[0].permute(1, 2, 0) * 255).byte().numpy()
    np.testing.assert_array_equal(ours, _reference_shuffle(img, offsets, delta))


def test_grey_brightness_is_clipped_offset() -> None:
    x = _images(2, 1, 32)
    y = apply_corruption(x, "brightness", 3, torch.Generator())
    expected = torch.floor((x + 0.15).clamp(0, 1) * 255 + 1e-3) / 255
    assert torch.allclose(y, expected)


@pytest.mark.gpu
@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_cuda_matches_cpu(name: str) -> None:
    x = _images(4, 3, 32)
    cpu = apply_corruption(x, name, 3, torch.Generator().manual_seed(1))
    gpu = apply_corruption(x.cuda(), name, 3, torch.Generator().manual_seed(1)).cpu()
    assert gpu.device.type == "cpu" and (gpu - cpu).abs().mean() < 2 / 255


@pytest.mark.parametrize("shape", [(28, 28), (40, 56), (100, 100), (17, 33)])
def test_any_size(shape: tuple[int, int]) -> None:
    x = _images(2, 3, max(shape))[:, :, : shape[0], : shape[1]]
    for name in CORRUPTION_NAMES:
        y = apply_corruption(x, name, 3, torch.Generator().manual_seed(0))
        assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1, name


@pytest.mark.parametrize("shape", [(16, 3, 224, 224), (250, 3, 32, 32), (3, 1, 8, 8)])
def test_block_streams_depend_on_the_seed_not_on_the_thread_count(shape: tuple[int, ...]) -> None:
    rates = torch.full(shape, 4.0)
    threads = torch.get_num_threads()
    try:
        draws = []
        for count in (1, 3):
            torch.set_num_threads(count)
            draws.append(streams.poisson(rates, torch.Generator().manual_seed(5)))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(streams.poisson(rates, torch.Generator().manual_seed(6)), draws[0])
    # Blocks draw independent streams: no two blocks repeat each other's values.
    parts = streams.blocks(shape)
    if len(parts) > 1:
        assert not torch.equal(draws[0][parts[0]][:1].flatten()[:64], draws[0][parts[1]][:1].flatten()[:64])


def test_block_poisson_draws_follow_scipys_pmf() -> None:
    from scipy import stats

    rates = torch.tensor([0.5, 3.0, 12.0, 60.0]).view(4, 1, 1, 1).expand(4, 3, 64, 64).contiguous()
    draws = streams.poisson(rates, torch.Generator().manual_seed(5))
    for rate, counts in zip((0.5, 3.0, 12.0, 60.0), draws.flatten(1).numpy(), strict=True):
        ks = np.arange(int(counts.max()) + 1)
        observed = np.bincount(counts.astype(np.int64), minlength=len(ks))
        expected = stats.poisson.pmf(ks, rate) * len(counts)
        keep = expected >= 5  # chi-square bins with enough expected counts; the tails pooled
        observed = np.append(observed[keep], len(counts) - observed[keep].sum())
        expected = np.append(expected[keep], len(counts) - expected[keep].sum())
        assert stats.chisquare(observed, expected, ddof=0).pvalue > 1e-3, rate
