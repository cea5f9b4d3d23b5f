"""Panoramas by repeated outpainting (the fast.ai lesson's "keep running it"): each pass paints a strip beside the
canvas from its edge, which the pass before painted, so a photo grows into a strip; whatever paints, model or fill."""
from typing import NamedTuple

from PIL import Image

from .errors import UsageError
from .fills import SIDES, check_amount, edge_box, side_pixels

__all__ = ['PANORAMA_SIDES', 'MAX_PASSES', 'check_passes', 'Layout', 'panorama_layout', 'paint_panorama']

PANORAMA_SIDES = [*SIDES, 'both']  # both: left and right, each pass
MAX_PASSES = 100  # a strip 100 photos long is no panorama anyone asks for, and memory grows with it

def check_passes(passes):
    "`passes` itself, refused in one line unless a whole number from 1 to MAX_PASSES: an output that fits."
    if not (float(passes).is_integer() and 1 <= passes <= MAX_PASSES):  # nan and inf too
        raise UsageError(f'`passes` must be a whole number from 1 to {MAX_PASSES} (e.g. 4), not {passes:g}')
    return int(passes)

def _sides(side):
    if side not in PANORAMA_SIDES: raise UsageError(f'side {side!r}: choose from {", ".join(PANORAMA_SIDES)}')
    return ['right', 'left'] if side == 'both' else [side]

class Layout(NamedTuple):
    "Where a panorama's parts land: its size, the photo's top-left corner in it, and each strip's seam."
    size: tuple  # (w, h)
    origin: tuple  # (x, y) of the photo
    seams: list  # (side, position) in painting order: the column (left, right) or row before which a strip meets
    #              what was there; (right, 64): columns 63 and 64 sit either side of it

def panorama_layout(size,  # the photo's (width, height)
                    side='right',  # a name of `PANORAMA_SIDES` (`both`: left and right, each pass)
                    amount=0.25,  # each strip, a fraction of the photo's width (left, right) or height (top, bottom)
                    passes=1):  # strips per side, 1 to `MAX_PASSES`
    "The layout of `passes` strips of `amount` of `size` on `side` (`both`: left and right): checked, before any work."
    sides, passes = _sides(side), check_passes(passes)
    n, (w, h) = side_pixels(size, sides[0], check_amount(amount)), size
    grow = {s: passes * n if s in sides else 0 for s in SIDES}
    left, top = grow['left'], grow['top']
    edge = {'right': lambda k: left + w + k * n, 'left': lambda k: left - k * n,
            'bottom': lambda k: top + h + k * n, 'top': lambda k: top - k * n}
    return Layout((w + left + grow['right'], h + top + grow['bottom']), (left, top),
                  [(s, edge[s](k)) for k in range(passes) for s in sides])

def paint_panorama(img,  # the photo, a PIL image
                   paint,  # `paint(window, side)` -> the window extended by `amount` on `side` and painted
                   side='right',  # a name of `PANORAMA_SIDES` (`both`: left and right, each pass)
                   amount=0.25,  # each strip, a fraction of the photo's width (left, right) or height (top, bottom)
                   passes=1):  # strips per side, 1 to `MAX_PASSES`
    """`img` grown by `passes` strips of `amount` of its size on `side`, each strip what `paint(window, side)` puts
    beside the canvas edge the size of `img` (the window extended by `amount`, as outpainting does); the photo and
    every strip painted are kept as they are, pixel for pixel."""
    layout = panorama_layout(img.size, side, amount, passes)
    canvas = img
    for s, _ in layout.seams:
        across = s in ('left', 'right')
        window = canvas.crop(edge_box(canvas.size, s, img.width if across else img.height))
        n = side_pixels(img.size, s, amount)
        painted = paint(window, s)
        strip = painted.crop(edge_box(painted.size, s, n))
        grown = Image.new(canvas.mode, (canvas.width + n * across, canvas.height + n * (not across)))
        grown.paste(canvas, (n * (s == 'left'), n * (s == 'top')))
        grown.paste(strip, edge_box(grown.size, s, n)[:2])
        canvas = grown
    return canvas
