"""A batch that does not fit gives a one-line error naming --batch-size, not a crash.

The model raises what PyTorch's allocators raise (CUDA's OutOfMemoryError, the CPU allocator's
"not enough memory" RuntimeError, Python's MemoryError) when it is given more images than it
can hold; other errors pass through unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from robaudit.cli import main
from robaudit.errors import RobauditError
from robaudit.probes.bandpass import BandpassProbe, BandpassSettings
from robaudit.probes.base import ProbeContext
from tests.conftest import make_imageset, wrap

ALLOCATOR_ERRORS = {
    "cuda": lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    "cpu": lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: "
                                "you tried to allocate 9663676416 bytes."),
    "python": lambda: MemoryError(),
}


class FitsFew(nn.Module):
    """Classifies up to ``limit`` images per call; raises ``error()`` for more."""

    def __init__(self, limit: int, error: object) -> None:
        super().__init__()
        self.limit, self.error = limit, error
        self.head = nn.Linear(3, 10)

    def forward(self, x: Tensor) -> Tensor:
        if len(x) > self.limit:
            raise self.error()  # type: ignore[operator]
        return self.head(x.mean(dim=(2, 3)))


def context(error: object, batch_size: int) -> ProbeContext:
    images = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    model = wrap(FitsFew(8, error), (3, 16, 16), 10)
    return ProbeContext(model=model, data=make_imageset(images, torch.arange(40) % 10),
                        device=torch.device("cpu"), batch_size=batch_size)


@pytest.mark.parametrize("kind", sorted(ALLOCATOR_ERRORS))
def test_out_of_memory_becomes_a_batch_size_hint(kind: str) -> None:
    probe = BandpassProbe(BandpassSettings(n_images=20, cutoffs=[0.1]))
    with pytest.raises(RobauditError, match=r"ran out of memory .* batches of up to 32 images.*--batch-size 8"):
        probe(context(ALLOCATOR_ERRORS[kind], batch_size=32))
    assert probe(context(ALLOCATOR_ERRORS[kind], batch_size=8)).metrics["n_images"] == 20


def test_other_errors_pass_through() -> None:
    probe = BandpassProbe(BandpassSettings(n_images=20, cutoffs=[0.1]))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        probe(context(lambda: RuntimeError("shape mismatch"), batch_size=32))


FACTORY = """
import torch
from torch import nn

class FitsFew(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Linear(3, 10)

    def forward(self, x):
        if len(x) > 40:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.head(x.mean(dim=(2, 3)))

def make():
    return {"model": FitsFew(), "input_size": [3, 32, 32], "num_classes": 10}
"""


def test_cli_exits_2_with_the_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "factory.py").write_text(FACTORY)
    args = ["score", "--model", f"py:{tmp_path / 'factory.py'}:make", "--probes", "bandpass", "--n-images", "60",
            "--set", "bandpass.cutoffs=[0.1]", "-q"]
    assert main([*args, "--out", str(tmp_path / "big"), "--batch-size", "64"]) == 2
    assert "--batch-size 16" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "small"), "--batch-size", "16"]) == 0
