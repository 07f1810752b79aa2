"""Articulated stick figures: named keypoints from a few joint angles, and the exact mask they paint.

A figure faces the viewer, so its *left* side is on the image's right (as in COCO person keypoints). All
coordinates are continuous pixels of the image (x right, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "head", "neck", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_hand", "right_hand",
    "hip", "left_knee", "right_knee", "left_foot", "right_foot",
)  # fmt: skip
# Limbs drawn as thick lines between keypoints (indices into KEYPOINT_NAMES); the head is a disc.
SKELETON: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 3), (2, 4), (4, 6), (3, 5), (5, 7), (1, 8), (8, 9), (9, 11), (8, 10), (10, 12),
)  # fmt: skip
_SHIFT = 4  # cv2 sub-pixel bits


@dataclass(frozen=True)
class Pose:
    """Joint angles in radians, measured from straight down (positive = towards the figure's left, image +x).

    ``arms``/``forearms``/``thighs``/``shins`` are (left, right) pairs; a forearm or shin angle is absolute, not
    relative to its parent limb.
    """

    arms: tuple[float, float]
    forearms: tuple[float, float]
    thighs: tuple[float, float]
    shins: tuple[float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Pose":
        """A plausible random pose: arms anywhere from down to raised, legs from together to a wide stance."""
        arm = rng.uniform(0.2, 2.6, 2)
        fore = arm + rng.uniform(-0.8, 0.8, 2)
        thigh = rng.uniform(0.05, 0.6, 2)
        shin = thigh + rng.uniform(-0.3, 0.3, 2)
        return cls(
            (float(arm[0]), float(-arm[1])),
            (float(fore[0]), float(-fore[1])),
            (float(thigh[0]), float(-thigh[1])),
            (float(shin[0]), float(-shin[1])),
        )

    def to_json(self) -> dict[str, list[float]]:
        return {k: [round(v, 6) for v in getattr(self, k)] for k in ("arms", "forearms", "thighs", "shins")}

    @classmethod
    def from_json(cls, obj: dict) -> "Pose":
        try:
            return cls(*(tuple(float(v) for v in obj[k]) for k in ("arms", "forearms", "thighs", "shins")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"a figure pose needs arms, forearms, thighs, shins as [left, right] radians: {exc}"
            ) from None


def _limb(start: np.ndarray, angle: float, length: float) -> np.ndarray:
    return start + length * np.array([np.sin(angle), np.cos(angle)])


def figure_keypoints(center: tuple[float, float], height: float, pose: Pose) -> np.ndarray:
    """13×2 (x, y) keypoints in :data:`KEYPOINT_NAMES` order; ``center`` is the mid-torso point, ``height`` the
    head-to-feet size in pixels."""
    c = np.asarray(center, np.float64)
    h = float(height)
    neck = c + [0, -0.22 * h]
    head = neck + [0, -0.13 * h]
    hip = c + [0, 0.08 * h]
    shoulder = [neck + [0.11 * h, 0.02 * h], neck + [-0.11 * h, 0.02 * h]]
    elbow = [_limb(shoulder[i], pose.arms[i], 0.17 * h) for i in (0, 1)]
    hand = [_limb(elbow[i], pose.forearms[i], 0.15 * h) for i in (0, 1)]
    knee = [_limb(hip + [(0.05 if i == 0 else -0.05) * h, 0], pose.thighs[i], 0.2 * h) for i in (0, 1)]
    foot = [_limb(knee[i], pose.shins[i], 0.2 * h) for i in (0, 1)]
    return np.stack(
        [
            head,
            neck,
            shoulder[0],
            shoulder[1],
            elbow[0],
            elbow[1],
            hand[0],
            hand[1],
            hip,
            knee[0],
            knee[1],
            foot[0],
            foot[1],
        ]
    )


def figure_mask(keypoints: np.ndarray, height: float, size: tuple[int, int]) -> np.ndarray:
    """H×W boolean mask (``size`` = (width, height)) of the pixels a figure with these keypoints paints."""
    w, h = size
    canvas = np.zeros((h, w), np.uint8)
    thickness = max(1, int(round(0.06 * height)))
    pts = np.round((np.asarray(keypoints) - 0.5) * (1 << _SHIFT)).astype(np.int64)
    for a, b in SKELETON:
        cv2.line(canvas, tuple(map(int, pts[a])), tuple(map(int, pts[b])), 1, thickness, cv2.LINE_8, _SHIFT)
    head_r = int(round(0.09 * height * (1 << _SHIFT)))
    cv2.circle(canvas, tuple(map(int, pts[0])), max(head_r, 1 << _SHIFT), 1, -1, cv2.LINE_8, _SHIFT)
    return canvas.astype(bool)


def keypoint_pixels(keypoints: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) integer pixel of each keypoint, clipped to the image (for visibility look-ups)."""
    w, h = size
    xy = np.floor(np.asarray(keypoints)).astype(np.int64)
    return xy[:, 1].clip(0, h - 1), xy[:, 0].clip(0, w - 1)
