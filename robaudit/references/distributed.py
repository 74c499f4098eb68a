"""torchrun / DDP plumbing. Single-process runs (WORLD_SIZE unset or 1) bypass all of it.

Under torchrun each process trains on its shard of every epoch's seeded permutation with
batch_size // world_size images (so the recipe's batch size is the global one); gradients are
averaged by DistributedDataParallel; rank 0 evaluates, logs and writes files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from robaudit.devices import resolve_device


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup() -> World:
    """Join the process group when launched by torchrun (env WORLD_SIZE > 1)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def device_for(name: str, world: World) -> torch.device:
    """The process's device: cuda:LOCAL_RANK under torchrun with CUDA, else --device."""
    if world.size > 1 and torch.cuda.is_available():
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return resolve_device(name)


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """DistributedDataParallel around module when world.size > 1, else module itself."""
    if world.size <= 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def all_reduce_sum(t: Tensor, world: World) -> Tensor:
    """Sum a tensor over processes (identity for one process)."""
    if world.size > 1:
        t = t.clone()
        dist.all_reduce(t)
    return t


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def cleanup(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def log(world: World, text: str) -> None:
    """An information line on rank 0 only, through the ``robaudit`` logger (the CLI shows it on
    stderr unless a command runs with --quiet)."""
    if world.main:
        logging.getLogger("robaudit.train").info(text)
