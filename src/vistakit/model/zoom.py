"""Zoom tokens: a close-up of the region the instruction names, finer than the tower's patch grid.

The relevance map's box (the where tokens' box, :class:`.grounding.SoftBox`) is grown by a margin on every side,
the image's pixels inside it are resampled to ``4g × 4g`` (bilinear, ``F.grid_sample``) and two stride-2
convolutions turn them into ``g × g`` cells, each projected to one LM token plus a learned embedding of its cell.
With the box in the where tokens, cell (i, j) covers a known part of the canvas, so an outline can be read off the
close-up at about a quarter of a patch per cell for a box of one patch. The box is detached: the grounding loss,
not the answers, decides where to look.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MIN_SIZE = 1 / 16  # the smallest zoomed region, as a fraction of the canvas side


def zoom_boxes(box: torch.Tensor, margin: float) -> torch.Tensor:
    """Boxes ``[N, 4]`` (x1, y1, x2, y2 in [0, 1]) grown by ``margin`` × their size on every side, at least
    ``MIN_SIZE`` wide and high, same centre (they may reach past the canvas: outside is padding)."""
    b = box.float()
    centre = (b[:, :2] + b[:, 2:]) / 2
    size = ((b[:, 2:] - b[:, :2]).clamp(min=0) * (1 + 2 * margin)).clamp(min=MIN_SIZE)
    return torch.cat([centre - size / 2, centre + size / 2], 1)


def zoom_crops(pixels: torch.Tensor, box: torch.Tensor, size: int) -> torch.Tensor:
    """The part ``box`` ``[N, 4]`` (in [0, 1] of the canvas) of ``pixels`` ``[N, C, S, S]`` resampled to
    ``[N, C, size, size]``: sample (i, j) is the bilinear value at the centre of cell (i, j) of a size × size grid
    over the box; zero (the normalised mean colour) outside the canvas."""
    n = len(box)
    t = (torch.arange(size, device=box.device, dtype=torch.float32) + 0.5) / size  # cell centres in [0, 1] of the box
    b = box.float()
    xs = b[:, 0:1] + t * (b[:, 2:3] - b[:, 0:1])  # [N, size] canvas coordinates in [0, 1]
    ys = b[:, 1:2] + t * (b[:, 3:4] - b[:, 1:2])
    grid = torch.stack([xs[:, None, :].expand(n, size, size), ys[:, :, None].expand(n, size, size)], -1)
    return F.grid_sample(pixels.float(), grid * 2 - 1, mode="bilinear", padding_mode="zeros", align_corners=False)


class RegionZoom(nn.Module):
    """Pixels ``[N, 3, S, S]`` + box ``[N, 4]`` → ``grid²`` tokens ``[N, grid², hidden]`` (see the module doc)."""

    def __init__(self, grid: int, hidden: int, margin: float = 0.25, width: int = 64) -> None:
        super().__init__()
        self.grid, self.margin = grid, margin
        self.net = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1), nn.GELU(),
        )  # fmt: skip
        self.proj = nn.Linear(width, hidden)
        self.cells = nn.Parameter(torch.randn(grid * grid, hidden) * 0.02)

    def forward(self, pixels: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        crops = zoom_crops(pixels, zoom_boxes(box.detach(), self.margin), 4 * self.grid)
        cells = self.net(crops.to(self.proj.weight.dtype)).flatten(2).transpose(1, 2)  # [N, g², width]
        return self.proj(cells) + self.cells
