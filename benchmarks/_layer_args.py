"""Command-line arguments shared by the layer benchmarks (``plif_speed.py``, ``neuron_layers_speed.py``)."""

from __future__ import annotations

import argparse


def parse_layer_args(argv: list[str] | None, description: str, shape: tuple[int, ...],
                     repeats: int) -> argparse.Namespace:
    """``--repeats``, ``--threads``, ``--json`` and ``--shape`` (comma-separated input shape ``[T, B, ...]``)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--shape", type=lambda v: tuple(int(d) for d in v.split(",")), default=shape,
                    help=f"input shape, comma-separated (default {','.join(map(str, shape))}; smaller for a smoke test)")
    return ap.parse_args(argv)
