"""
What the simulated Reachy's eyes see: a small numpy scene encoded as JPEG.

The scene shows the commands landing: the horizon rises and tilts with the neck disks'
goals, and the two antennas (seen at the top of the view) swing with theirs. The left and
right eyes see it from slightly apart. Rendering is a pure function of the size, the eye
and the goals rounded to whole degrees, so equal inputs give equal JPEG bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import math

import numpy as np
import simplejpeg

JPEG_QUALITY = 80
EYE_SIZE = (320, 240)
SKY = np.array([120, 170, 230], np.uint8)
GROUND = np.array([90, 140, 70], np.uint8)
ANTENNA = np.array([250, 250, 250], np.uint8)
MARK = {'left': np.array([230, 60, 60], np.uint8), 'right': np.array([60, 60, 230], np.uint8)}


@dataclass(frozen=True, slots=True)
class SceneState:
    """The goals the scene depends on, in whole motor-frame degrees."""

    left_antenna: int = 0
    right_antenna: int = 0
    disks: tuple[int, int, int] = (-60, -60, -60)


@functools.lru_cache(maxsize=4)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = np.mgrid[0:height, 0:width]
    return rows.astype(np.float32), columns.astype(np.float32)


def render(eye: str, state: SceneState, size: tuple[int, int] = EYE_SIZE) -> np.ndarray:
    """Return the ``eye`` ('left' or 'right') view as an HxWx3 uint8 RGB array."""
    width, height = size
    rows, columns = _grid(width, height)
    # Neck: the disks' mean raises the horizon, their spread tilts it.
    bottom, middle, top = state.disks
    lift = ((bottom + middle + top) / 3.0 + 60.0) / 180.0
    tilt = math.radians((top - bottom) / 4.0)
    shift = width * (0.03 if eye == 'left' else -0.03)  # the eyes stand apart
    horizon = (height * (0.55 + 0.35 * lift) +
               (columns - width / 2 + shift) * math.tan(tilt))
    image = np.where((rows < horizon)[..., None], SKY, GROUND).astype(np.uint8)
    # Antennas hang into the top of the view and swing with their goals.
    for angle, base_x in ((state.left_antenna, 0.3), (state.right_antenna, 0.7)):
        _draw_bar(image, rows, columns, (width * base_x + shift, -height * 0.05),
                  math.radians(angle), height * 0.45, max(2.0, width / 80), ANTENNA)
    # A corner mark tells the eyes apart.
    mark = max(2, height // 24)
    corner = slice(mark, 2 * mark)
    image[corner, corner if eye == 'left' else slice(width - 2 * mark, width - mark)] = MARK[eye]
    return image


def _draw_bar(image: np.ndarray, rows: np.ndarray, columns: np.ndarray,
              base: tuple[float, float], angle: float, length: float, half_width: float,
              color: np.ndarray) -> None:
    dx, dy = math.sin(angle), math.cos(angle)  # 0 rad hangs straight down
    x, y = columns - base[0], rows - base[1]
    along = x * dx + y * dy
    across = np.abs(x * dy - y * dx)
    image[(along >= 0) & (along <= length) & (across <= half_width)] = color


def render_jpeg(eye: str, state: SceneState, size: tuple[int, int] = EYE_SIZE) -> bytes:
    """Return the ``eye`` view as JPEG bytes."""
    return simplejpeg.encode_jpeg(render(eye, state, size), quality=JPEG_QUALITY,
                                  colorspace='RGB')
