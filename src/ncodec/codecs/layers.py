"""Building blocks shared by every medium's networks."""

from __future__ import annotations

import torch
from torch import nn


class GainUnits(nn.Module):
    """Per-quality, per-channel gains ``g_q`` (before quantization) and inverse gains (after).

    One network serves a whole quality ladder this way ("gain units", Cui et al. 2021).  ``gain(q)``
    accepts an integer quality or a float in ``[0, Q-1]``: fractional qualities interpolate the
    log-gains, giving a continuous rate control between trained points.  The result broadcasts against
    ``(B, C, *spatial)`` latents with ``spatial_dims`` trailing axes (2 for images, 1 for audio, 3 for
    video).
    """

    def __init__(
        self,
        qualities: int,
        channels: int,
        init_log_gain: torch.Tensor | None = None,
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        if init_log_gain is None:
            init_log_gain = torch.zeros(qualities)
        lg = init_log_gain.reshape(qualities, 1).expand(qualities, channels).clone()
        self.log_gain = nn.Parameter(lg)
        self.log_inv_gain = nn.Parameter(-lg.clone())
        self._tail = (1,) * int(spatial_dims)

    @property
    def qualities(self) -> int:
        return self.log_gain.shape[0]

    def _interp(self, table: torch.Tensor, q: float | int | torch.Tensor) -> torch.Tensor:
        if isinstance(q, torch.Tensor) and q.dim() == 1:  # one quality per batch item (integers)
            g = table[q.long()].exp()
            return g.reshape(*g.shape, *self._tail)
        q = float(q)
        if not 0 <= q <= self.qualities - 1:
            raise ValueError(f"quality {q} outside [0, {self.qualities - 1}]")
        lo = int(q)
        hi = min(lo + 1, self.qualities - 1)
        t = q - lo
        g = ((1 - t) * table[lo] + t * table[hi]).exp()
        return g.reshape(1, -1, *self._tail)

    def gain(self, q: float | int | torch.Tensor) -> torch.Tensor:
        return self._interp(self.log_gain, q)

    def inv_gain(self, q: float | int | torch.Tensor) -> torch.Tensor:
        return self._interp(self.log_inv_gain, q)
