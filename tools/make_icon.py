"""Draws pos_offline_sync/static/description/icon.png (the Apps tile): the offline icon of the
navbar (Wi-Fi arcs crossed out) over a sync badge, on Odoo's POS purple.

    python tools/make_icon.py        # needs Pillow (Odoo's own environment has it)

Drawn 4x larger and scaled down, for smooth edges without any font or asset.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pos_offline_sync" / "static" / "description" / "icon.png"
SIZE = 128
SCALE = 4
PURPLE = (113, 75, 103, 255)  # #714b67, the POS colour
RED = (217, 52, 43, 255)  # the offline icon's red
WHITE = (255, 255, 255, 255)


def arc(draw, centre, radius, width, start, end, fill):
    x, y = centre
    box = [x - radius, y - radius, x + radius, y + radius]
    draw.arc(box, start, end, fill=fill, width=width)


def main() -> int:
    s = SIZE * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle([0, 0, s - 1, s - 1], radius=s // 6, fill=PURPLE)

    # Wi-Fi arcs and dot, a little left and up, crossed out.
    centre = (int(s * 0.44), int(s * 0.66))
    width = int(s * 0.06)
    for radius in (0.42, 0.29, 0.16):
        arc(draw, centre, int(s * radius), width, 225, 315, WHITE)
    dot = int(s * 0.045)
    draw.ellipse([centre[0] - dot, centre[1] - dot, centre[0] + dot, centre[1] + dot], fill=WHITE)
    draw.line(
        [(int(s * 0.14), int(s * 0.16)), (int(s * 0.74), int(s * 0.76))],
        fill=PURPLE,
        width=int(s * 0.12),
    )
    draw.line(
        [(int(s * 0.14), int(s * 0.16)), (int(s * 0.74), int(s * 0.76))],
        fill=WHITE,
        width=width,
    )

    # The sync badge: a red disc with two white arrows going round.
    bx, by, br = int(s * 0.75), int(s * 0.75), int(s * 0.2)
    draw.ellipse([bx - br - 8, by - br - 8, bx + br + 8, by + br + 8], fill=PURPLE)
    draw.ellipse([bx - br, by - br, bx + br, by + br], fill=RED)
    inner = int(br * 0.58)
    aw = int(s * 0.035)
    arc(draw, (bx, by), inner, aw, 200, 340, WHITE)
    arc(draw, (bx, by), inner, aw, 20, 160, WHITE)
    head = int(br * 0.32)
    # arrow heads at the ends of the two arcs (340 deg: right, 160 deg: left)
    draw.polygon(
        [(bx + inner - head, by - head // 2), (bx + inner + head, by - head // 2),
         (bx + inner, by + head)],
        fill=WHITE,
    )  # fmt: skip
    draw.polygon(
        [(bx - inner - head, by + head // 2), (bx - inner + head, by + head // 2),
         (bx - inner, by - head)],
        fill=WHITE,
    )  # fmt: skip

    OUT.parent.mkdir(parents=True, exist_ok=True)
    img.resize((SIZE, SIZE), Image.LANCZOS).save(OUT, optimize=True)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
