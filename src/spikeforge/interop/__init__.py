"""Interchange with other tools: the Neuromorphic Intermediate Representation (NIR).

NIR (https://neuroir.org) is the graph format that snnTorch, Norse, SpikingJelly, Sinabs, Rockpool,
Lava and several chips (Loihi, SpiNNaker2, Speck, Xylo, BrainScaleS-2) read and write.

- :func:`to_nir`: a ``spikeforge.nn`` network (``nn.Sequential`` trees of conv / linear / pooling /
  :class:`~spikeforge.nn.LIF` / :class:`~spikeforge.nn.IF` / :class:`~spikeforge.nn.PLIF` /
  :class:`~spikeforge.nn.CubaLIF` / :class:`~spikeforge.nn.RecurrentLIF` layers, :class:`~spikeforge.nn.ConvSNN`,
  :class:`~spikeforge.nn.SpikingResNet19`, a converted :class:`~spikeforge.conversion.ConvertedSNN`)
  → ``nir.NIRGraph``. BatchNorm / tdBN are folded into the preceding conv first.
- :func:`from_nir`: a ``nir.NIRGraph`` (or a ``.nir`` file) → :class:`NIRNetwork`, an ``nn.Module``
  that runs ``[T, B, ...]`` sequences with spikeforge's fused LIF kernels where it can.
- :func:`register_nir_exporter`: teach :func:`to_nir` a module with a custom ``forward``.

Needs the optional ``nir`` package: ``pip install "spikeforge[nir]"``.
"""

from ._nir import NIRBuilder, NIRNetwork, Source, from_nir, register_nir_exporter, to_nir

__all__ = ["NIRBuilder", "NIRNetwork", "Source", "from_nir", "register_nir_exporter", "to_nir"]
