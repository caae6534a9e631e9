"""Constraints on how a learning rule may move a plastic weight tensor: freeze masks,
per-synapse bounds and Langevin noise (seed 001; spec §C.3, §C.4, G.20).

Semantics, after **every** update of the rule (``Δ`` is what the rule alone would add)::

    w ← clip(w + m ⊙ Δ, lo, hi)                       m = plastic (0 freezes a synapse)
    w ← clip(w + m ⊙ σ ξ, lo, hi),  ξ ~ N(0, 1)        only if noise_std σ > 0

``lo``/``hi`` are the tighter of the rule's own bounds and the constraint's. A model that
honours constraints applies exactly this, in whatever compiled form; :func:`constrained_update`
is the readable reference. When a constraint is installed, the current weights are projected
into ``[lo, hi]`` (:func:`project`): SpykeTorch clamps the whole tensor after every update, so
the first update of the next task would do it anyway.

Several sources of constraints on one tensor (e.g. a freeze mask and Langevin ranges) combine
with :func:`merge_constraints`: increments multiply, bounds intersect, noise is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["WeightConstraint", "constrained_update", "effective_bounds", "merge_constraints", "project"]


@dataclass
class WeightConstraint:
    """Restrictions on one plastic tensor.

    Attributes
    ----------
    plastic : Tensor, optional
        Same shape as the weights; multiplier of every increment (bool or float; 0 or False
        freezes a synapse: it stays bit-identical). None: all plastic.
    lower, upper : Tensor or float, optional
        Per-synapse bounds (same shape) or scalars, applied on top of the rule's bounds.
    noise_std : float
        Langevin noise amplitude ``σ`` added to every plastic synapse after every update
        (weight units); 0 disables it.
    generator : numpy.random.Generator, optional
        Source of the noise (required if ``noise_std > 0``).
    """

    plastic: torch.Tensor | None = None
    lower: torch.Tensor | float | None = None
    upper: torch.Tensor | float | None = None
    noise_std: float = 0.0
    generator: np.random.Generator | None = None

    def __post_init__(self) -> None:
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0; got {self.noise_std}")
        if self.noise_std > 0 and self.generator is None:
            raise ValueError("noise_std > 0 needs an explicit numpy Generator (generator=...)")
        if self.lower is not None and self.upper is not None:
            lo, hi = torch.as_tensor(self.lower), torch.as_tensor(self.upper)
            if (lo > hi).any():
                raise ValueError("lower must not exceed upper anywhere")

    def check_shape(self, shape: tuple[int, ...], name: str = "weights") -> None:
        """Raise ``ValueError`` if a tensor field does not match ``shape``."""
        for field in ("plastic", "lower", "upper"):
            v = getattr(self, field)
            if isinstance(v, torch.Tensor) and v.ndim > 0 and tuple(v.shape) != tuple(shape):
                raise ValueError(f"constraint.{field} has shape {tuple(v.shape)}; {name} have {tuple(shape)}")


def merge_constraints(*constraints: WeightConstraint | None) -> WeightConstraint | None:
    """One constraint that imposes all of ``constraints`` on the same tensor.

    * ``plastic``: the product of the multipliers (a synapse frozen by any is frozen);
    * ``lower`` / ``upper``: the intersection of the bounds (largest lower, smallest upper);
    * ``noise_std`` / ``generator``: those of the one constraint that has noise.

    Parameters
    ----------
    *constraints : WeightConstraint or None
        None entries are skipped. Tensor fields broadcast against each other (scalars and
        tensors of one shape).

    Returns
    -------
    WeightConstraint or None
        None if every entry is None; the constraint itself if only one is given.

    Raises
    ------
    ValueError
        If the bounds do not intersect somewhere, or more than one constraint adds noise
        (two Langevin sources on one tensor are not defined).
    """
    given = [c for c in constraints if c is not None]
    if len(given) <= 1:
        return given[0] if given else None
    noisy = [c for c in given if c.noise_std > 0]
    if len(noisy) > 1:
        raise ValueError(f"{len(noisy)} constraints add Langevin noise to the same tensor; at most one may")

    def combine(field: str, op):
        vals = [getattr(c, field) for c in given if getattr(c, field) is not None]
        if not vals:
            return None
        if len(vals) == 1:
            return vals[0]
        out = torch.as_tensor(vals[0])
        for v in vals[1:]:
            out = op(out, torch.as_tensor(v))
        return out

    lower = combine("lower", torch.maximum)
    upper = combine("upper", torch.minimum)
    if lower is not None and upper is not None and (torch.as_tensor(lower) > torch.as_tensor(upper)).any():
        raise ValueError("the constraints' bounds do not intersect: some synapse's largest lower bound exceeds "
                         "its smallest upper bound")
    return WeightConstraint(
        plastic=combine("plastic", torch.mul),
        lower=lower,
        upper=upper,
        noise_std=noisy[0].noise_std if noisy else 0.0,
        generator=noisy[0].generator if noisy else None,
    )


def effective_bounds(
    shape: tuple[int, ...], w_min: float, w_max: float, constraint: WeightConstraint | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-synapse ``(lo, hi)`` float32 tensors: the rule's bounds tightened by the constraint."""
    lo = torch.full(shape, float(w_min), dtype=torch.float32)
    hi = torch.full(shape, float(w_max), dtype=torch.float32)
    if constraint is not None:
        if constraint.lower is not None:
            lo = torch.maximum(lo, torch.as_tensor(constraint.lower, dtype=torch.float32).expand(shape))
        if constraint.upper is not None:
            hi = torch.minimum(hi, torch.as_tensor(constraint.upper, dtype=torch.float32).expand(shape))
    if (lo > hi).any():
        raise ValueError("the constraint's bounds do not intersect the rule's bounds")
    return lo, hi


def project(w: torch.Tensor, constraint: WeightConstraint, w_min: float, w_max: float) -> torch.Tensor:
    """``w`` clipped into the effective bounds (frozen synapses are left untouched)."""
    lo, hi = effective_bounds(tuple(w.shape), w_min, w_max, constraint)
    out = torch.minimum(torch.maximum(w, lo.to(w.dtype)), hi.to(w.dtype))
    if constraint.plastic is not None:
        out = torch.where(torch.as_tensor(constraint.plastic) != 0, out, w)
    return out


def constrained_update(
    w: torch.Tensor,
    delta: torch.Tensor,
    constraint: WeightConstraint | None,
    *,
    w_min: float,
    w_max: float,
) -> torch.Tensor:
    """Reference semantics: apply one increment ``delta`` of a rule under ``constraint``.

    Parameters
    ----------
    w, delta : Tensor of the same shape
    constraint : WeightConstraint or None
    w_min, w_max : float
        The rule's own bounds.

    Returns
    -------
    Tensor: the new weights (``w`` is not modified). Synapses with ``plastic == 0`` are
    returned bit-identical.
    """
    lo, hi = effective_bounds(tuple(w.shape), w_min, w_max, constraint)
    lo, hi = lo.to(w.dtype), hi.to(w.dtype)
    m = torch.ones_like(w) if constraint is None or constraint.plastic is None else torch.as_tensor(
        constraint.plastic, dtype=w.dtype
    )
    new = torch.minimum(torch.maximum(w + m * delta, lo), hi)
    if constraint is not None and constraint.noise_std > 0:
        xi = torch.from_numpy(constraint.generator.standard_normal(tuple(w.shape))).to(w.dtype)
        new = torch.minimum(torch.maximum(new + m * constraint.noise_std * xi, lo), hi)
    frozen = m == 0
    return torch.where(frozen, w, new)
