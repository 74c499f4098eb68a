"""Fidelity at 32 px with the CIFAR-10-C constants: references written here from
make_cifar_c.py (hendrycks/robustness) with the libraries it uses (numpy, scikit-image, scipy,
OpenCV, PIL) and its per-size constants, compared with our batched code at its 32 px table.

motion_blur and snow are not covered here: the script calls ImageMagick through Wand (not
installed); both use imagecorruptions' motion kernel, which test_corruptions_fidelity checks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from io import BytesIO

import cv2  # opencv comes with imagecorruptions, a dependency
import numpy as np
import pytest
import torch
from PIL import Image

from robaudit.corruptions import apply_corruption
from robaudit.embedded import photograph_crops
from tests.test_corruptions_fidelity import assert_stats_agree, patched_imagecorruptions

Ref = Callable[[np.ndarray, int], np.ndarray]  # uint8 (32, 32, 3), severity → float 0..255


def gaussian_noise(x: np.ndarray, s: int) -> np.ndarray:
    c = [0.04, 0.06, .08, .09, .10][s - 1]
    return np.clip(x / 255. + np.random.normal(size=x.shape, scale=c), 0, 1) * 255


def shot_noise(x: np.ndarray, s: int) -> np.ndarray:
    c = [500, 250, 100, 75, 50][s - 1]
    return np.clip(np.random.poisson(x / 255. * c) / c, 0, 1) * 255


def impulse_noise(x: np.ndarray, s: int) -> np.ndarray:
    import skimage as sk

    c = [.01, .02, .03, .05, .07][s - 1]
    return np.clip(sk.util.random_noise(x / 255., mode="s&p", amount=c), 0, 1) * 255


def contrast(x: np.ndarray, s: int) -> np.ndarray:
    c = [.75, .5, .4, .3, 0.15][s - 1]
    x = x / 255.
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def brightness(x: np.ndarray, s: int) -> np.ndarray:
    import skimage as sk

    c = [.05, .1, .15, .2, .3][s - 1]
    x = sk.color.rgb2hsv(x / 255.)
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    return np.clip(sk.color.hsv2rgb(x), 0, 1) * 255


def defocus_blur(x: np.ndarray, s: int) -> np.ndarray:
    import imagecorruptions.corruptions as icc

    c = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][s - 1]
    kernel = icc.disk(radius=c[0], alias_blur=c[1])
    x = x / 255.
    channels = np.array([cv2.filter2D(x[:, :, d], -1, kernel) for d in range(3)]).transpose((1, 2, 0))
    return np.clip(channels, 0, 1) * 255


def pixelate(x: np.ndarray, s: int) -> np.ndarray:
    c = [0.95, 0.9, 0.85, 0.75, 0.65][s - 1]
    img = Image.fromarray(x).resize((int(32 * c), int(32 * c)), Image.Resampling.BOX)
    return np.asarray(img.resize((32, 32), Image.Resampling.BOX)).astype(float)


def jpeg_compression(x: np.ndarray, s: int) -> np.ndarray:
    c = [80, 65, 58, 50, 40][s - 1]
    out = BytesIO()
    Image.fromarray(x).save(out, "JPEG", quality=c)
    return np.asarray(Image.open(out)).astype(float)


def zoom_blur(x: np.ndarray, s: int) -> np.ndarray:
    from scipy.ndimage import zoom as scizoom

    c = [np.arange(1, 1.06, 0.01), np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01),
         np.arange(1, 1.21, 0.01), np.arange(1, 1.26, 0.01)][s - 1]
    x = (x / 255.).astype(np.float32)
    out = np.zeros_like(x)
    for z in c:  # make_cifar_c.py's clipped_zoom: centred crop, centred trim
        ch = int(np.ceil(32 / z))
        top = (32 - ch) // 2
        img = scizoom(x[top:top + ch, top:top + ch], (z, z, 1), order=1)
        trim = (img.shape[0] - 32) // 2
        out += img[trim:trim + 32, trim:trim + 32]
    return np.clip((x + out) / (len(c) + 1), 0, 1) * 255


def glass_blur(x: np.ndarray, s: int) -> np.ndarray:
    from skimage.filters import gaussian

    c = [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)][s - 1]
    y = (gaussian(x / 255., sigma=c[0], channel_axis=-1) * 255).astype(np.uint8)
    for _ in range(c[2]):
        for h in range(32 - c[1], c[1], -1):
            for w in range(32 - c[1], c[1], -1):
                dx, dy = np.random.randint(-c[1], c[1], size=(2,))
                h_prime, w_prime = h + dy, w + dx
                y[h, w], y[h_prime, w_prime] = y[h_prime, w_prime], y[h, w]
    return np.clip(gaussian(y / 255., sigma=c[0], channel_axis=-1), 0, 1) * 255


def fog(x: np.ndarray, s: int) -> np.ndarray:
    import imagecorruptions.corruptions as icc

    c = [(.2, 3), (.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][s - 1]
    x = x / 255.
    max_val = x.max()
    x = x + c[0] * icc.plasma_fractal(mapsize=32, wibbledecay=c[1])[:32, :32][..., np.newaxis]
    return np.clip(x * max_val / (max_val + c[0]), 0, 1) * 255


def frost(x: np.ndarray, s: int) -> np.ndarray:
    import importlib.util
    from pathlib import Path

    c = [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)][s - 1]
    idx = np.random.randint(5)
    spec = importlib.util.find_spec("imagecorruptions")
    assert spec is not None and spec.submodule_search_locations is not None
    folder = Path(list(spec.submodule_search_locations)[0]) / "frost"
    name = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"][idx]
    frost_img = cv2.resize(cv2.imread(str(folder / name)), (0, 0), fx=0.2, fy=0.2)
    xs, ys = np.random.randint(0, frost_img.shape[0] - 32), np.random.randint(0, frost_img.shape[1] - 32)
    frost_img = frost_img[xs:xs + 32, ys:ys + 32][..., [2, 1, 0]]
    return np.clip(c[0] * x + c[1] * frost_img, 0, 255)


def elastic_transform(image: np.ndarray, s: int) -> np.ndarray:
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    size = 32
    c = [(size * 0, size * 0, size * 0.08), (size * 0.05, size * 0.2, size * 0.07),
         (size * 0.08, size * 0.06, size * 0.06), (size * 0.1, size * 0.04, size * 0.05),
         (size * 0.1, size * 0.03, size * 0.03)][s - 1]
    image = np.array(image, dtype=np.float32) / 255.
    shape = image.shape
    centre = np.array(shape[:2], dtype=np.float32) // 2
    sq = min(shape[:2]) // 3
    pts1 = np.array([centre + sq, [centre[0] + sq, centre[1] - sq], centre - sq], dtype=np.float32)
    pts2 = pts1 + np.random.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    image = cv2.warpAffine(image, cv2.getAffineTransform(pts1, pts2), shape[:2][::-1],
                           borderMode=cv2.BORDER_REFLECT_101)
    def field() -> np.ndarray:
        noise = np.random.uniform(-1, 1, size=shape[:2])
        return (gaussian(noise, c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)

    dx = field()
    dy = field()
    x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    idx = np.reshape(y + dy[..., None], (-1, 1)), np.reshape(x + dx[..., None], (-1, 1)), np.reshape(z, (-1, 1))
    return np.clip(map_coordinates(image, idx, order=1, mode="reflect").reshape(shape), 0, 1) * 255


PIXELWISE: list[Ref] = [contrast, brightness, defocus_blur, pixelate, jpeg_compression, zoom_blur]
STATISTICAL: list[Ref] = [gaussian_noise, shot_noise, impulse_noise, glass_blur, fog, frost, elastic_transform]


def _run(ref: Ref, imgs: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    _, mp = patched_imagecorruptions()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.random.seed(s)
            expected = np.stack([np.uint8(ref(im, s)) for im in imgs]) / 255.0
    finally:
        mp.undo()
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    ours = apply_corruption(x, ref.__name__, s, torch.Generator().manual_seed(s))  # 32 px table
    return expected, ours.permute(0, 2, 3, 1).double().numpy()


@pytest.mark.parametrize("ref", PIXELWISE, ids=lambda f: f.__name__)
def test_cifar_pixelwise(ref: Ref) -> None:
    imgs = photograph_crops(32, 6)
    for s in range(1, 6):
        expected, ours = _run(ref, imgs, s)
        assert np.abs(expected - ours).max() <= 1 / 255 + 1e-6, f"{ref.__name__} severity {s}"


@pytest.mark.parametrize("ref", STATISTICAL, ids=lambda f: f.__name__)
def test_cifar_statistics(ref: Ref) -> None:
    imgs = np.concatenate([photograph_crops(32, 6)] * 4)
    clean = imgs / 255.0
    for s in range(1, 6):
        expected, ours = _run(ref, imgs, s)
        assert_stats_agree(clean, expected, ours, f"{ref.__name__} s{s}")
