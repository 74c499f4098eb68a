"""The bandpass probe: accuracy on low-, high- and octave band-pass filtered images."""

from robaudit.probes.bandpass.probe import BandpassProbe, BandpassSettings

__all__ = ["BandpassProbe", "BandpassSettings"]
