"""Draws docs/images/style_swirls.png, the style picture of the style-transfer pages: brush strokes that follow a few
vortices in a night-sky palette, made here so that its licence is ours to give (CC0)."""
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

PALETTE = [(16, 36, 92), (30, 64, 140), (62, 104, 180), (120, 160, 210), (232, 204, 84), (244, 232, 150)]

def flow(x, y, vortices):
    "The stroke direction at (x, y): the sum of the vortices' swirls, each fading with distance."
    dx = dy = 0.
    for cx, cy, r, spin in vortices:
        vx, vy = x - cx, y - cy
        d = math.hypot(vx, vy) + 1e-6
        k = spin * math.exp(-d / r)
        dx, dy = dx - k * vy / d, dy + k * vx / d
    return dx + 0.35, dy + 0.05  # a slow drift to the right between the vortices

def style_swirls(side=256, strokes=2600, seed=0):
    "The picture: `strokes` curved strokes, yellow near the vortices' centres, blue elsewhere."
    rng = random.Random(seed)
    vortices = [(side * 0.3, side * 0.35, side * 0.16, 1.), (side * 0.72, side * 0.6, side * 0.2, -1.),
                (side * 0.5, side * 0.12, side * 0.1, 1.)]
    img = Image.new('RGB', (side, side), PALETTE[0])
    draw = ImageDraw.Draw(img)
    for _ in range(strokes):
        x, y = rng.uniform(0, side), rng.uniform(0, side)
        near = min(math.hypot(x - cx, y - cy) / r for cx, cy, r, _ in vortices)
        colour = PALETTE[rng.choice([4, 5]) if near < 0.6 and rng.random() < 0.8 else rng.randrange(0, 4)]
        points = [(x, y)]
        for _ in range(rng.randint(6, 14)):
            dx, dy = flow(x, y, vortices)
            n = math.hypot(dx, dy) + 1e-6
            x, y = x + 3 * dx / n, y + 3 * dy / n
            points.append((x, y))
        draw.line(points, fill=colour, width=rng.randint(2, 5))
    return img.filter(ImageFilter.SMOOTH)

if __name__ == '__main__':
    out = Path(__file__).parent/'images'/'style_swirls.png'
    style_swirls().save(out, optimize=True)
    print(out, out.stat().st_size, 'bytes')
