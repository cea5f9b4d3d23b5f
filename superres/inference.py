"""Running trained models on users' own images: top-k classes, upscaling, restoring by a model's task, segmenting."""
import itertools

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageOps

from .boxes import NO_BOX, mask_boxes
from .card import attach_card
from .errors import ModelError, UsageError, broken_outputs
from .images import (
    image_peak,
    image_to_tensor,
    open_image,
    output_mode,
    pil_bicubic,
    split_alpha,
    tensor_to_image,
    with_alpha,
)
from .panorama import paint_panorama, panorama_layout
from .tiling import OVERLAP, image_rows, model_device, restore, restore_in_strips

__all__ = ['MAX_SCALE', 'check_scale', 'SelfEnsemble', 'prepare_image', 'predict_topk', 'upscale_image',
           'check_task_inputs', 'outpaint_image', 'restore_image', 'segment_image', 'mask_overlay']

class SelfEnsemble(torch.nn.Module):
    "A restoration model run on the eight flips and rotations of its input, outputs turned back and averaged (8x cost)."
    def __init__(self, model):
        super().__init__()
        self.inner = model  # a plain attribute when it is no Module (ONNX Runtime)
        attach_card(self, model.card)
    def forward(self, x):
        out = 0
        for k in range(4):
            for flip in (False, True):
                y = torch.rot90(x.flip(-1) if flip else x, k, (-2, -1)).contiguous()
                y = torch.rot90(self.inner(y).float(), -k, (-2, -1))
                out = out + (y.flip(-1) if flip else y)
        return out / 8

def prepare_image(img, size=64):
    """An image file (guarded: a bad one is a one-line DataError) or PIL image as a [0,1] tensor the classifier expects:
    upright, RGB, short side `size`, centre crop."""
    img = (img if isinstance(img, Image.Image) else open_image(img)).convert('RGB')
    img = ImageOps.fit(img, (size, size), Image.BICUBIC) if img.size != (size, size) else img
    return (torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3)
            .permute(2, 0, 1).float() / 255)

@torch.inference_mode()
def predict_topk(model,  # a classifier whose card names its classes (`load_classifier`)
                 images,  # image files, PIL images or `prepare_image` tensors
                 k=5,  # classes per image (at most as many as the model has)
                 size=64,  # the side images are prepared at: short side, then centre crop (tensors: as given)
                 bs=64):  # images per forward pass
    "The `k` most likely classes of each image (a file, PIL image or `prepare_image` tensor) as (name, wnid, p) rows."
    vocab, names = model.card.vocab, model.card.names
    if not vocab: raise ModelError('this classifier names no classes: pass one trained by `superres classify train`')
    results = []
    for i in range(0, len(images), bs):
        x = torch.stack([im if isinstance(im, torch.Tensor) else prepare_image(im, size) for im in images[i:i+bs]])
        logits = model(x).float()
        if not torch.isfinite(logits).all(): raise broken_outputs('classifier')  # not nan% rows, exit 0
        probs, idxs = logits.softmax(1).topk(min(k, len(vocab)), dim=1)
        results += [[(names[j], vocab[j], float(p)) for p, j in zip(ps, js)]
                    for ps, js in zip(probs.tolist(), idxs.tolist())]
    return results

MAX_SCALE = 16  # x16 is two passes of x4; beyond, or below 1/16, an output no one asks for

def check_scale(scale):
    "`scale` itself, refused in one line unless a finite factor between 1/MAX_SCALE and MAX_SCALE: an output that fits."
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE:  # False for nan too
        raise UsageError(f'`scale` must be between 1/{MAX_SCALE} and {MAX_SCALE} (e.g. 2 or 0.5), not {scale:g}')
    return scale

def _passes(mscale, scale):
    "How many passes of an x`mscale` model reach x`scale`, and whether a resize must finish the job."
    passes = 1
    while mscale ** passes < scale - 1e-9: passes += 1
    return passes, abs(mscale ** passes - scale) > 1e-9

def upscale_image(model,  # a superres model (`load_restorer`) or a backend running one
                  img,  # a PIL image of any size and mode
                  scale=None,  # the factor (None: the model's; others run the model and resize its output)
                  tile=None,  # the side of the tiles a large image is run in (None: chosen by its size)
                  overlap=OVERLAP,  # pixels the tiles share, blended, so no seam shows
                  progress=None):  # a callback of the tiles done
    "Upscale a PIL image of any size and mode; alpha is upscaled separately; returns the image and notes for the user."
    img, alpha = split_alpha(ImageOps.exif_transpose(img))
    mscale = model.card.scale
    scale = check_scale(scale or mscale)
    notes, peak, mode = [], image_peak(img), output_mode(img)
    target = (round(img.width * scale), round(img.height * scale))
    if min(target) < 1:
        raise UsageError(f'{img.width}x{img.height} pixels at x{scale:g} leave {target[0]}x{target[1]}: nothing to '
                         'write; pass a larger `scale` for an image this small')
    passes, resized = _passes(mscale, scale)
    if passes > 1 or resized:
        notes.append(f'model is x{mscale}: ran {passes} pass(es)' + (f' then resized to x{scale:g}' if resized else ''))
    if passes == 1 and (img.width * mscale, img.height * mscale) == target:  # the common case, in bounded memory
        out = restore_in_strips(model, image_rows(img), img.size, target, mode, tile, overlap, progress, peak=peak)
    else:
        x = image_to_tensor(img)[0]
        for _ in range(passes): x = restore(model, x, (x.shape[-1] * mscale, x.shape[-2] * mscale),
                                            tile, overlap, progress)
        out = tensor_to_image(pil_bicubic(x, target) if tuple(x.shape[-2:][::-1]) != target else x, mode, peak)
    if alpha is not None: alpha = alpha.resize(target, Image.BICUBIC)
    return with_alpha(out, alpha), notes

def check_task_inputs(model, scale=None, **inputs):
    "Refuse, before any image is read, what the model's task does not take (`passes`: outpainting models only)."
    if model.card.upscales:
        if inputs: raise UsageError(f'{", ".join(f"`{k}`" for k in inputs)}: not used by a superres model')
        return
    deg = model.card.task
    if scale not in (None, 1):
        raise UsageError(f'this model restores {deg.name} at the same size: `scale` is for superres models')
    if 'passes' in inputs and deg.name != 'outpaint':
        raise UsageError(f'`passes` repeats outpainting: pass a `model` trained with `task` outpaint (this one was '
                         f'trained for {deg.spec})')

def outpaint_image(model,  # an outpainting model (`load_restorer`)
                   img,  # an RGB PIL image
                   side='right',  # left, right, top, bottom or `both` (left and right, each pass)
                   amount=0.25,  # each strip, a fraction of the photo's width (left, right) or height (top, bottom)
                   passes=1,  # strips per side, 1 to `MAX_PASSES`, each painted from the one before
                   tile=None,  # the side in pixels of the tiles the model reads (None: `default_tile`)
                   overlap=OVERLAP,  # pixels the tiles share, blended
                   progress=None):  # `progress(done, total)` over every pass's tiles (None: none)
    """An RGB image outpainted by `model` `passes` times on `side` (`both`: left and right), each pass from the
    model's previous strip, as it was trained: a panorama; the photo's own pixels are kept exactly."""
    deg, count = model.card.task, itertools.count()
    steps = len(panorama_layout(img.size, side, amount, passes).seams)
    def paint(window, s):
        k = next(count)
        step = None if progress is None else (lambda done, total: progress(k * total + done, steps * total))
        prepared = deg.prepare(window, side=s, amount=amount)
        return restore_in_strips(model, image_rows(prepared), prepared.size, prepared.size, 'RGB', tile, overlap, step)
    return paint_panorama(img, paint, side, amount, passes)

def restore_image(model,  # a restoration model of any task (`load_restorer`)
                  img,  # a PIL image of any size and mode
                  scale=None,  # superres models: the factor, as `upscale_image`
                  tile=None,  # the side of the tiles a large image is run in (None: chosen by its size)
                  overlap=OVERLAP,  # pixels the tiles share, blended
                  progress=None,  # a callback of the tiles done
                  **inputs):  # the task's own: `mask` (inpaint), `side`, `amount`, `passes` (outpaint)
    """Restore a PIL image by the model's task: upscale, outpaint (`side`, `amount`, `passes`), or make it that
    task's input (`mask`) and run."""
    check_task_inputs(model, scale, **inputs)
    if model.card.upscales: return upscale_image(model, img, scale, tile, overlap, progress)
    deg = model.card.task
    img, alpha = split_alpha(ImageOps.exif_transpose(img))
    mode = 'RGB' if deg.name == 'colorize' else output_mode(img)
    peak = image_peak(img)
    rgb = img.convert('RGB') if peak == 255 else tensor_to_image(image_to_tensor(img)[0], 'RGB', peak)
    canvas = {k: v for k, v in inputs.items() if k in ('side', 'amount', 'passes')}  # an outpainted one's layout
    if deg.name == 'outpaint':
        out = outpaint_image(model, rgb, tile=tile, overlap=overlap, progress=progress, **canvas)
        if mode != 'RGB': out = tensor_to_image(image_to_tensor(out)[0], mode, peak)
    else:
        prepared = deg.prepare(rgb, **inputs)
        out = restore_in_strips(model, image_rows(prepared), prepared.size, prepared.size, mode, tile, overlap,
                                progress, peak=peak)
    if alpha is not None and out.size != img.size:  # outpainted: the new strips are opaque
        layout = panorama_layout(img.size, **canvas)
        opaque = Image.new('L', layout.size, 255)
        opaque.paste(alpha, layout.origin)
        alpha = opaque
    notes = [] if mode != 'I;16' else ['16-bit input restored at 8-bit precision']
    return with_alpha(out, alpha), notes

def _rgb8(img):
    "An upright 8-bit RGB copy of a PIL image of any mode without its alpha (16-bit: scaled, not clipped)."
    img = split_alpha(ImageOps.exif_transpose(img))[0]
    return img.convert('RGB') if image_peak(img) == 255 else tensor_to_image(image_to_tensor(img)[0], 'RGB')

@torch.inference_mode()
def segment_image(model,  # a segmentation model (`load_segmenter`)
                  img,  # a PIL image of any size and mode
                  max_side=None):  # the longest side in pixels the model is shown (None: 4x the side it works at)
    """The object mask of a PIL image at its own size (mode L, 255 = object) and the box around it (None: no object);
    the model sees the image shrunk to `max_side` (default 4x the side it works at): what it resizes to anyway."""
    small = _rgb8(img)
    width, height = small.size
    max_side = max_side or 4 * model.card.size
    small.thumbnail((max_side, max_side), Image.BOX)  # a huge photo is not held as floats at full size
    logits = model(image_to_tensor(small)[0][None].to(model_device(model))).float()
    if not torch.isfinite(logits).all(): raise broken_outputs('segmentation model')
    probs = F.interpolate(logits.softmax(1)[:, 1:], (height, width), mode='bilinear', align_corners=False)
    mask = (probs[0, 0] > 0.5).cpu()
    box = tuple(mask_boxes(mask).tolist())
    return Image.fromarray(mask.numpy().astype(np.uint8) * 255, 'L'), None if box == NO_BOX else box

def mask_overlay(img,  # a PIL image of any mode (shown as 8-bit RGB)
                 mask,  # an L mask of its size, 255 = object (tinted)
                 box=None,  # (x0, y0, x1, y1), both ends included, to outline (None: no box)
                 colour=(255, 40, 40)):  # the RGB of the tint and the box's outline
    "The image with the mask tinted over it and the box outlined: a segmentation to judge by eye."
    rgb = _rgb8(img)
    out = Image.composite(Image.blend(rgb, Image.new('RGB', rgb.size, colour), 0.45), rgb, mask)
    if box is not None: ImageDraw.Draw(out).rectangle(box, outline=colour, width=max(1, min(rgb.size) // 64))
    return out
