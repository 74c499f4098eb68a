"""Corruption-category probe: accuracy under the 15 common corruptions (docs/corruptions.md)."""

from robaudit.probes.corruptions.probe import CorruptionProbe, CorruptionSettings, generation_chunk

__all__ = ["CorruptionProbe", "CorruptionSettings", "generation_chunk"]
