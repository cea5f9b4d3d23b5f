"""Filling holes and extending canvases: the image operations inpainting and outpainting start from."""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import UsageError

__all__ = ['GRAY', 'FILLS', 'smooth_fill', 'fill_holes', 'diffusion_fill', 'inpaint_baselines', 'SIDES', 'check_amount',
           'side_pixels', 'edge_box', 'side_box', 'extend_canvas']

GRAY = (127, 127, 127)  # a hole's colour with fill=gray (the model learns to recognise it)

FILLS = ('smooth', 'gray')

def _pixels(img, mask):
    "An RGB image as a float 1x3xHxW tensor on the 0-255 scale, and its mask (white = missing) as 1x1xHxW booleans."
    return (torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1)[None],
            torch.from_numpy(np.asarray(mask) > 127)[None, None])

def _image(x): return Image.fromarray(x[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy())

def smooth_fill(img, mask):
    "Fill masked pixels from a pyramid of masked averages (push-pull): smooth, milliseconds, any hole size."
    x, missing = _pixels(img, mask)
    w = (~missing).float()
    if w.all(): return img
    levels = [(x, w)]
    while min(x.shape[-2:]) > 1 and not (w > 0).all():
        ws = F.avg_pool2d(w, 2, ceil_mode=True)
        x, w = F.avg_pool2d(x * levels[-1][1], 2, ceil_mode=True) / ws.clamp(min=1e-8), (ws > 0).float()
        levels.append((x, w))
    filled = torch.where(w > 0, x, torch.full_like(x, GRAY[0]))  # an all-masked image stays gray
    for x, w in reversed(levels[:-1]):
        filled = w * x + (1 - w) * F.interpolate(filled, size=x.shape[-2:], mode='bilinear', align_corners=False)
    return _image(filled)

def fill_holes(img,  # an RGB PIL image
               mask,  # an L mask of its size, white = missing
               how='smooth'):  # `smooth` (push-pull from around the holes) or `gray` (`GRAY`)
    "Masked pixels (white) filled `smooth` (push-pull from around them) or `gray`, as the model's input shows holes."
    if how == 'smooth': return smooth_fill(img, mask)
    out = img.copy()
    out.paste(GRAY, mask=mask)
    return out

def diffusion_fill(img,  # an RGB PIL image
                   mask,  # an L mask of its size, white = missing
                   iters=400):  # neighbour-averaging passes (more: the edges' colours reach further into large holes)
    "Fill masked pixels by repeated averaging of their neighbours: the classic inpainting baseline without OpenCV."
    x, m = _pixels(img, mask)
    if not m.any(): return img
    known = (~m).float()
    x = torch.where(m, (x * known).sum((2, 3), keepdim=True) / known.sum().clamp(min=1), x)  # start at the mean colour
    k = torch.tensor([[0., 1, 0], [1, 0, 1], [0, 1, 0]]).div(4).expand(3, 1, 3, 3)
    for _ in range(iters): x = torch.where(m, F.conv2d(F.pad(x, (1, 1, 1, 1), mode='replicate'), k, groups=3), x)
    return _image(x)

def inpaint_baselines():
    "Telea's method where OpenCV is installed, else diffusion."
    try:
        import cv2
    except ImportError: return {'diffusion': diffusion_fill}
    return {'telea': lambda im, m: Image.fromarray(cv2.inpaint(np.asarray(im), (np.asarray(m) > 127).astype(np.uint8),
                                                              3, cv2.INPAINT_TELEA))}

SIDES = ['left', 'right', 'top', 'bottom']

def check_amount(amount):
    "An outpainting `amount` itself, refused in one line unless a fraction of the size in (0, 1]."
    if not 0 < amount <= 1: raise UsageError(f'`amount` must be a fraction of the size, above 0 and at most 1 '
                                             f'(e.g. 0.25), not {amount:g}')
    return amount

def side_pixels(size,  # the image's (width, height)
                side,  # left, right, top or bottom
                amount):  # a fraction of the width (left, right) or height (top, bottom)
    "The columns (left, right) or rows (top, bottom) that `amount` of an image of `size` makes on `side`: at least one."
    return max(1, round(amount * size[0 if side in ('left', 'right') else 1]))

def edge_box(size,  # the image's (width, height)
             side,  # left, right, top or bottom
             pixels):  # how many columns (left, right) or rows (top, bottom)
    "The box of the `pixels` columns or rows at `side` of an image of `size`."
    w, h = size
    return {'left': (0, 0, pixels, h), 'right': (w - pixels, 0, w, h), 'top': (0, 0, w, pixels),
            'bottom': (0, h - pixels, w, h)}[side]

def side_box(size,  # the image's (width, height)
             side,  # left, right, top or bottom
             amount):  # a fraction of the width (left, right) or height (top, bottom)
    return edge_box(size, side, side_pixels(size, side, amount))

def extend_canvas(img,  # a PIL image
                  side='right',  # left, right, top or bottom
                  amount=0.25,  # the strip added, a fraction of the width or height in (0, 1] (at least 1 pixel)
                  colour=GRAY):  # the strip's fill, in `img`'s mode
    "`img` on a canvas larger by `amount` of its size on `side`, and the mask of the added strip."
    if side not in SIDES: raise UsageError(f'side {side!r}: choose from {", ".join(SIDES)}')
    check_amount(amount)
    w, h = img.size
    n = side_pixels(img.size, side, amount)
    ox, oy = n if side == 'left' else 0, n if side == 'top' else 0
    big = Image.new(img.mode, (w + n, h) if side in ('left', 'right') else (w, h + n), colour)
    big.paste(img, (ox, oy))
    mask = Image.new('L', big.size, 255)
    mask.paste(0, (ox, oy, ox + w, oy + h))
    return big, mask
