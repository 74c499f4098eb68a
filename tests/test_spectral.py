"""spectral.py against analytic truths and numpy's FFT (an independent implementation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robaudit import spectral


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 3, 16, 20, generator=g), torch.rand(4, 3, 16, 20, generator=g)


def numpy_hybrid(low: np.ndarray, high: np.ndarray, f: float) -> np.ndarray:
    """The spec's definition, literally: clip(Re(ifft2(F_low·M + F_high·(1−M))), 0, 1)."""
    h, w = low.shape[-2:]
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    mask = (np.sqrt(fy**2 + fx**2) <= f).astype(float)
    mixed = np.fft.fft2(low) * mask + np.fft.fft2(high) * (1 - mask)
    return np.clip(np.real(np.fft.ifft2(mixed)), 0, 1)


def test_hybrid_of_an_image_with_itself_is_the_image(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    x = images[0]
    out = spectral.hybrid_images(x, x, torch.tensor([0.0, 0.1, 0.3, 0.5, 0.8]))
    assert torch.allclose(out, x.expand_as(out), atol=1e-5)


@pytest.mark.parametrize("f", [0.0, 0.05, 0.125, 0.25, 0.4, 0.5, 0.75])
def test_hybrid_matches_the_spec_formula_in_numpy(images: tuple[torch.Tensor, torch.Tensor], f: float) -> None:
    low, high = images
    out = spectral.hybrid_images(low, high, torch.tensor([f]))[0]
    expected = numpy_hybrid(low.double().numpy(), high.double().numpy(), f)
    assert np.allclose(out.numpy(), expected, atol=1e-5)


def test_hybrid_at_zero_keeps_only_the_low_images_mean(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    low, high = (x * 0.5 + 0.25 for x in images)  # stay inside [0, 1] after the DC swap
    out = spectral.hybrid_images(low, high, torch.tensor([0.0]))[0]
    expected = high - high.mean((-2, -1), keepdim=True) + low.mean((-2, -1), keepdim=True)
    assert torch.allclose(out, expected, atol=1e-5)


def test_low_plus_high_part_is_the_image(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    for cut in (0.0, 0.1, 0.33, 0.5):
        low, high = spectral.split_bands(images[0], cut)
        assert torch.allclose(low + high, images[0], atol=1e-6)
    low, high = spectral.split_bands(images[0], 0.8)
    assert torch.allclose(high, torch.zeros_like(high), atol=1e-5)


def test_radial_frequency_grid_follows_the_convention() -> None:
    r = spectral.radial_frequency(8, 8)
    assert r[0, 0] == 0
    assert r[0, 4] == pytest.approx(0.5)  # Nyquist column wraps to -0.5
    assert r[4, 4] == pytest.approx(0.5 * 2**0.5)
    assert r[1, 0] == pytest.approx(1 / 8)


def test_power_spectrum_of_a_sinusoid_peaks_at_its_frequency() -> None:
    h = w = 32
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    d = torch.cos(2 * torch.pi * (3 * xx / w + 5 * yy / h)).float()[None, None] + 7.0  # DC offset removed
    p = spectral.power_spectrum(d)
    peaks = {tuple(i) for i in torch.nonzero(p > 0.5 * p.max()).tolist()}
    assert peaks == {(5, 3), (h - 5, w - 3)}
    radii, cumulative = spectral.radial_cumulative(p)
    f05 = spectral.first_crossing(radii, cumulative, 0.5)
    r0 = (3**2 + 5**2) ** 0.5 / 32
    below = radii[radii < r0 - 1e-6].max().item()
    assert f05 is not None and below < f05 <= r0 + 1e-9  # all power on one ring: R jumps 0 → 1 there


def test_power_spectrum_of_a_gaussian_blur_matches_the_analytic_response() -> None:
    """White noise blurred by a Gaussian kernel: P(f) ∝ |G(f)|² = exp(−4π²σ²|f|²)."""
    sigma, n = 1.5, 64
    kernel = spectral.gaussian_kernel(sigma)
    noise = torch.randn(64, 1, n, n, generator=torch.Generator().manual_seed(1))
    spec = torch.fft.fft2(noise)
    pad = torch.zeros(n, n)
    k = kernel.shape[0] // 2
    pad[: 2 * k + 1, : 2 * k + 1] = kernel
    pad = torch.roll(pad, (-k, -k), (0, 1))
    blurred = torch.fft.ifft2(spec * torch.fft.fft2(pad)).real
    p = spectral.power_spectrum(blurred)
    r = spectral.radial_frequency(n, n)
    analytic = torch.exp(-4 * torch.pi**2 * sigma**2 * r**2)
    rings = [p[(r > a) & (r <= a + 0.04)].mean() / analytic[(r > a) & (r <= a + 0.04)].mean()
             for a in (0.0, 0.04, 0.08, 0.12, 0.16)]
    ratio = torch.stack(rings)
    assert float(ratio.std() / ratio.mean()) < 0.05  # same shape as |G(f)|² within noise


def test_first_crossing_interpolates_and_returns_none_without_a_crossing() -> None:
    x = torch.tensor([0.0, 1.0, 2.0, 3.0])
    assert spectral.first_crossing(x, torch.tensor([-1.0, -0.5, 0.5, 1.0])) == pytest.approx(1.5)
    assert spectral.first_crossing(x, torch.tensor([1.0, 0.5, 0.2, 0.1])) is None
    assert spectral.first_crossing(x, torch.tensor([-1.0, 0.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert spectral.sign_changes(torch.tensor([-1.0, 1.0, -1.0, 1.0])) == 3


def test_gaussian_kernel_sums_to_one_with_the_spec_half_width() -> None:
    for sigma in (0.5, 1.5, 3.0):
        k = spectral.gaussian_kernel(sigma)
        assert k.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert k.shape[0] == 2 * int(np.ceil(2.5 * sigma)) + 1


@pytest.mark.parametrize(("h", "w"), [(8, 8), (7, 10), (16, 12)])
def test_fourier_basis_is_numpys_inverse_fft_of_a_symmetric_pair_of_deltas(h: int, w: int) -> None:
    rows = spectral.centred_frequency_indices(h)
    cols = spectral.centred_frequency_indices(w)
    ky, kx = (t.flatten() for t in torch.meshgrid(rows, cols, indexing="ij"))
    basis = spectral.fourier_basis(h, w, ky, kx, dtype=torch.float64).numpy()
    for b, u, v in zip(basis, ky.tolist(), kx.tolist(), strict=True):
        spectrum = np.zeros((h, w), dtype=complex)
        spectrum[u % h, v % w] = 1.0
        spectrum[-u % h, -v % w] = 1.0
        expected = np.fft.ifft2(spectrum)
        assert np.abs(expected.imag).max() < 1e-12  # a symmetric pair has a real inverse
        expected = expected.real / np.linalg.norm(expected.real)
        assert np.allclose(b, expected, atol=1e-12)
        assert np.linalg.norm(b) == pytest.approx(1.0)
    mirrored = spectral.fourier_basis(h, w, -ky, -kx, dtype=torch.float64).numpy()
    assert np.allclose(mirrored, basis, atol=1e-12)


def test_centred_indices_follow_fftshift_and_crop_the_centre() -> None:
    assert spectral.centred_frequency_indices(8).tolist() == np.fft.fftshift(np.fft.fftfreq(8, 1 / 8)).tolist()
    assert spectral.centred_frequency_indices(7).tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert spectral.centred_frequency_indices(224, 63).tolist() == list(range(-31, 32))
    assert spectral.centred_frequency_indices(32, 63).tolist() == list(range(-16, 16))
    assert spectral.hermitian_representative(3, -2, 8, 8) == spectral.hermitian_representative(-3, 2, 8, 8)


def numpy_radial_filter(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """clip(Re(ifft2(fft2(x) · keep)), 0, 1) with a full (two-sided) mask, in numpy."""
    return np.clip(np.real(np.fft.ifft2(np.fft.fft2(x) * keep)), 0, 1)


@pytest.mark.parametrize("cut", [0.0, 0.1, 0.25, 0.4])
def test_ideal_low_high_and_band_pass_match_numpy_masks(images: tuple[torch.Tensor, torch.Tensor], cut: float) -> None:
    x = images[0]
    h, w = x.shape[-2:]
    r = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
    dc = (r == 0).astype(float)
    cuts = torch.tensor([cut], dtype=torch.float64)
    low = spectral.filter_images(x, spectral.radial_transfer(h, w, cuts * 0 - 1, cuts))[0]
    high = spectral.filter_images(x, spectral.radial_transfer(h, w, cuts, cuts * 0 + np.inf, keep_mean=True))[0]
    band = spectral.filter_images(x, spectral.radial_transfer(h, w, cuts, cuts * 2, keep_mean=True))[0]
    xn = x.double().numpy()
    assert np.allclose(low.numpy(), numpy_radial_filter(xn, (r <= cut).astype(float)), atol=1e-5)
    assert np.allclose(high.numpy(), numpy_radial_filter(xn, np.maximum((r > cut).astype(float), dc)), atol=1e-5)
    in_band = ((r > cut) & (r <= 2 * cut)).astype(float)
    assert np.allclose(band.numpy(), numpy_radial_filter(xn, np.maximum(in_band, dc)), atol=1e-5)


def test_gaussian_filters_follow_the_analytic_response_and_sum_to_the_image() -> None:
    h = w = 32
    r = spectral.radial_frequency(h, w, onesided=True, dtype=torch.float64)
    cuts = torch.tensor([0.05, 0.2], dtype=torch.float64)
    low = spectral.radial_transfer(h, w, cuts * 0 - 1, cuts, "gaussian").double()
    assert torch.allclose(low, torch.exp(-(r**2) / (2 * cuts[:, None, None] ** 2)), atol=1e-6)
    high = spectral.radial_transfer(h, w, cuts, cuts * 0 + np.inf, "gaussian").double()
    assert torch.allclose(low + high, torch.ones_like(low), atol=1e-6)  # low-pass + high-pass = identity
    kept = spectral.radial_transfer(h, w, cuts, cuts * 0 + np.inf, "gaussian", keep_mean=True)
    assert bool((kept[:, 0, 0] == 1).all())
    band = spectral.radial_transfer(h, w, cuts[:1], cuts[1:], "gaussian").double()
    assert torch.allclose(band[0], low[1] - low[0], atol=1e-6)


def test_octave_bands_are_an_octave_wide_and_cover_every_frequency_of_the_grid() -> None:
    low, high, centre = spectral.octave_bands(1 / 32)
    assert torch.allclose(high, 2 * low) and torch.allclose(centre, torch.sqrt(low * high))
    assert centre.tolist() == pytest.approx([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2])
    r = spectral.radial_frequency(32, 32, dtype=torch.float64).flatten()
    r = r[r > 0]
    covered = ((r[:, None] > low[None] + 1e-9) & (r[:, None] <= high[None] + 1e-9)).sum(1)
    assert bool((covered == 1).all())  # every non-DC bin in exactly one band
