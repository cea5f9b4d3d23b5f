"""Running a restoration model over an image of any size: overlapping tiles blended with feathered edges, in strips."""
import torch
from PIL import Image

from .errors import ModelError, UsageError, broken_outputs
from .images import image_to_tensor, pil_bicubic, tensor_to_array

__all__ = ['TILE', 'GPU_TILE', 'OVERLAP', 'STRIP_PIXELS', 'model_device', 'default_tile', 'check_tiling', 'refine',
           'restore', 'image_rows', 'restore_in_strips']

# pixels of the image the model reads (the LR one for LR-space models); overlap beyond their reach
TILE, OVERLAP = 512, 32
GPU_TILE = 2048  # a GPU needs bigger tiles to be busy (BENCHMARKS.md, "On a GPU")

def model_device(model):
    "The device a model runs on (ONNX Runtime models: the CPU)."
    p = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    return torch.device('cpu') if p is None else p.device

def default_tile(model):
    "Tile size for `model` where the user gives none: larger on a GPU, whose memory holds it and whose speed needs it."
    return GPU_TILE if model_device(model).type == 'cuda' else TILE

def _feather(n, overlap, start, end):
    "1D weights of a tile: over each overlap shared with a neighbour, zero for the outer quarter, then a linear ramp."
    w = torch.ones(n)
    if overlap:
        m = overlap // 4
        ramp = ((torch.arange(overlap) - m + 0.5) / max(overlap - 2*m, 1)).clamp(0, 1)
        if not start: w[:overlap] = ramp
        if not end: w[-overlap:] = ramp.flip(0)
    return w

def _starts(length, tile, step):
    if length <= tile: return [0]
    s = list(range(0, length - tile, step))
    return s + [length - tile]

def check_tiling(model,  # the model to run (its device picks the default tile)
                 tile,  # the side in pixels of the tiles the model reads (None: `default_tile`)
                 overlap):  # pixels the tiles share: `tile` must exceed twice it
    "The tile size to use (`default_tile` where none was given), refused when the overlaps would leave nothing."
    tile = tile or default_tile(model)
    if tile <= 2 * overlap: raise UsageError(f'`tile` ({tile}) must be larger than twice the `overlap` ({overlap})')
    return tile

def _forward(model, x, tile, scale=1):
    """The model's output in fp32, checked, not assumed: the size its card promises (x`scale`) and finite values,
    else a one-line ModelError for this image (non-finite bf16/fp16 values are retried in fp32 first: CPU bf16 convs
    gave NaN at random on 1-pixel-wide inputs, 1 run in 10); a GPU running out of memory becomes advice instead."""
    try: y = model(x).float()
    except torch.cuda.OutOfMemoryError:
        raise UsageError(f'the GPU ran out of memory on tiles of {tile} pixels: pass a smaller `tile`, '
                         f'e.g. {max(64, tile // 2)}') from None
    n, c, h, w = x.shape
    if tuple(y.shape) != (n, c, h * scale, w * scale):
        raise ModelError(f'the model gave a {"x".join(map(str, y.shape))} output for a {n}x{c}x{h}x{w} input, not the '
                         f'x{scale} its config promises: it is not the model its file says; export or train it again')
    if not torch.isfinite(y).all() and torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False): y = model(x.float()).float()  # a reduced-precision glitch?
    if not torch.isfinite(y).all():  # in fp32 too: the weights
        raise broken_outputs('model')
    return y

@torch.inference_mode()
def refine(model,  # a restoration model (its card gives its `net_scale`)
           img,  # the [0,1] CHW float tensor the model reads
           tile=None,  # the side in pixels of the tiles of `img` (None: `default_tile`)
           overlap=OVERLAP,  # pixels of `img` the tiles share, feather-blended
           progress=None):  # `progress(done, total)` after each batch of tiles (None: none)
    "Restore [0,1] CHW `img` in overlapping feather-blended input tiles on the model's device; `progress(done, total)`."
    c, h, w = img.shape
    s = model.card.net_scale
    tile, dev = check_tiling(model, tile, overlap), model_device(model)
    if h <= tile and w <= tile: return _forward(model, img[None].to(dev), tile, s)[0].cpu()
    out, weight = torch.zeros(c, h*s, w*s, device=dev), torch.zeros(1, h*s, w*s, device=dev)
    boxes = [(y, x) for y in _starts(h, tile, tile - overlap) for x in _starts(w, tile, tile - overlap)]
    th, tw = min(tile, h), min(tile, w)
    bs = max(1, 4 * TILE**2 // (th * tw))  # tiles per forward pass: up to four of the CPU's size
    for i in range(0, len(boxes), bs):
        group = boxes[i:i+bs]
        pred = _forward(model, torch.stack([img[:, y:y+th, x:x+tw] for y, x in group]).to(dev), tile, s)
        for p, (y, x) in zip(pred, group):
            wy = _feather(th*s, min(overlap, th // 2)*s, y == 0, y + th >= h)
            wx = _feather(tw*s, min(overlap, tw // 2)*s, x == 0, x + tw >= w)
            wt = (wy[:, None] * wx[None, :]).to(dev)
            out[:, y*s:(y+th)*s, x*s:(x+tw)*s] += p * wt
            weight[:, y*s:(y+th)*s, x*s:(x+tw)*s] += wt
        if progress is not None: progress(i + len(group), len(boxes))
    return out.div_(weight).cpu()

def restore(model,  # a restoration model (LR-space ones read `lr` itself)
            lr,  # the [0,1] CHW input tensor
            size,  # the output's (w, h): `lr` is upsampled to it, bicubic, first (LR-space models: unused)
            tile=None,  # the side in pixels of the tiles the model reads (None: `default_tile`)
            overlap=OVERLAP,  # pixels the tiles share, blended
            progress=None):  # `progress(done, total)` after each batch of tiles (None: none)
    "Upscale a [0,1] CHW tensor to `size` (w, h) with one model pass: on the LR image, or on its bicubic upsample."
    if model.card.takes_lr: return refine(model, lr, tile, overlap, progress=progress)
    return refine(model, pil_bicubic(lr, size).clamp(0, 1), tile, overlap, progress=progress)

# input pixels per strip: more costs memory, fewer costs context rows (BENCHMARKS.md, "A huge photo")
STRIP_PIXELS = 2**20

def image_rows(img):
    "Rows [a, b) of a PIL image as a [0,1] float CHW tensor, converted only when asked for."
    return lambda a, b: image_to_tensor(img.crop((0, a, img.width, b)))[0]

def _strip_rows(w, sm, tile, overlap):
    "Input rows per strip: within the pixel budget; with context rows, whole rows of tiles read at `sm`x input size."
    budget, step = max(STRIP_PIXELS, tile * tile) // w, tile - overlap
    n = (sm * (budget + 2 * overlap) - overlap) // step
    return max(4 * overlap, int((n * step + overlap) / sm) - 2 * overlap if n else budget)

def restore_in_strips(model,  # a restoration model (`load_restorer`) or a backend running one
                      rows,  # `rows(a, b)`: the input's rows [a, b) as a [0,1] CHW tensor (`image_rows`)
                      in_size,  # the input's (width, height)
                      out_size,  # the output's (width, height)
                      mode,  # the output's PIL mode: RGB, else gray (`tensor_to_array`)
                      tile=None,  # the side in pixels of the tiles the model reads (None: `default_tile`)
                      overlap=OVERLAP,  # pixels the tiles share, blended
                      progress=None,  # `progress(done, total)` over every strip's tiles (None: none)
                      peak=255.):  # gray only: the source's maximum (`image_peak`); above 255 gives 16-bit pixels
    "One model pass over `rows(a, b)` in strips into the output image: memory grows with its bytes, not float copies."
    (w, h), (ow, oh) = in_size, out_size
    tile = check_tiling(model, tile, overlap)
    s = oh / h
    strip = _strip_rows(w, 1 if model.card.takes_lr else s, tile, overlap)
    out, starts = None, list(range(0, h, strip))
    for k, a in enumerate(starts):
        b = min(h, a + strip)
        # context rows as wide as the tiles' overlap, cut off after the pass
        a0, b0 = max(0, a - overlap), min(h, b + overlap)
        step = None if progress is None else (lambda i, n, k=k: progress(k * n + i, len(starts) * n))
        y = restore(model, rows(a0, b0), (ow, round((b0 - a0) * s)), tile, overlap, step)
        part = Image.fromarray(tensor_to_array(y[:, round((a - a0) * s):round((b - a0) * s)], mode, peak))
        if out is None: out = Image.new(part.mode, (ow, oh))
        out.paste(part, (0, round(a * s)))
    return out

