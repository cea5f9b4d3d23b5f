"""Evaluation: one loop scores a model and the classic baselines on clean images, by the SR protocol or a task's own;
a segmenter's masks and boxes against Tiny ImageNet's boxes and the best constant box."""
import random

import numpy as np
import torch
from fastprogress.fastprogress import progress_bar
from PIL import Image

from .boxes import best_constant_box, box_iou, box_masks, mask_boxes, pixel_iou
from .cache import decoded_images
from .degradations import FILTERS, parse_degradation, task_degradation
from .errors import DataError, UsageError
from .files import list_images
from .images import image_to_tensor, open_image
from .inference import check_scale, upscale_image
from .metrics import colorfulness, psnr, psnr_y, ssim, ssim_y
from .precision import inference_precision
from .tiling import model_device, refine
from .tinyimagenet import TinyImageNet, find_tiny_imagenet

__all__ = ['evaluate', 'evaluate_sr', 'evaluate_task', 'evaluate_segmenter']

def _as8bit(t):
    "A [0,1] tensor as an 8-bit file would hold it: the standard protocol scores saved outputs."
    return t.clamp(0, 1).mul(255).round().div(255)

class _SRProtocol:
    "Standard SR protocol: HR cropped to a multiple of `scale`, PIL bicubic LR, Y-channel PSNR/SSIM, `scale` shaved."
    def __init__(self, scale, baselines, deg=None, seed=0):
        "`deg`: a chain such as `real+superres` makes image i's LR instead of plain bicubic, with `seed + i`."
        self.scale, self.baselines, self.notes, self.seed = check_scale(scale), list(baselines), set(), seed
        self.deg = None if deg is None else task_degradation(deg, scale, lr_input=True)
        self.min_side = -(-(SSIM_WINDOW + 2 * scale) // scale) * scale  # cropped to a multiple of scale, then shaved
    def lr(self, hr, i):
        if self.deg is None: return hr.resize((hr.width // self.scale, hr.height // self.scale), Image.BICUBIC)
        return self.deg(hr, random.Random(self.seed + i))
    def case(self, target, i, model, tile):
        "(target, {method: output}) for one clean image."
        s = self.scale
        hr = target.crop((0, 0, target.width - target.width % s, target.height - target.height % s))
        lr = self.lr(hr, i)
        outs = {b: lr.resize(hr.size, FILTERS[b]) for b in self.baselines}
        if model is not None:
            outs['model'], notes = upscale_image(model, lr, s, tile=tile)
            self.notes.update(notes)
        return image_to_tensor(hr)[0], {n: image_to_tensor(o)[0] for n, o in outs.items()}
    def score(self, out, targ):
        return dict(psnr=psnr_y(out[None], targ[None], shave=self.scale),
                    ssim=ssim_y(out[None], targ[None], shave=self.scale))
    def report(self):
        return dict(scale=self.scale, notes=sorted(self.notes),
                    **(dict(task=self.deg.spec, seed=self.seed) if self.deg is not None else {}))

class _TaskProtocol:
    "A restoration task: image i degraded with `seed + i`, RGB PSNR/SSIM (and colourfulness for colorize)."
    def __init__(self, deg, seed):
        if deg.scale > 1: raise UsageError(f'{deg.spec} upscales: evaluate it by the SR protocol (the superres task)')
        self.deg, self.seed, self.classic = deg, seed, deg.baselines()
        self.baselines = ['input'] + list(self.classic)
        self.min_side = SSIM_WINDOW
    def case(self, target, i, model, tile):
        degraded, mask = self.deg.degrade(target, random.Random(self.seed + i))
        outs = {'input': degraded, **{n: b(degraded, mask) for n, b in self.classic.items()}}
        outs = {n: image_to_tensor(o)[0] for n, o in outs.items()}
        if model is not None: outs['model'] = _as8bit(refine(model, outs['input'], tile))
        return image_to_tensor(target)[0], outs
    def score(self, out, targ):
        row = dict(psnr=float(psnr(out[None], targ[None])), ssim=float(ssim(out[None], targ[None])))
        if self.deg.name == 'colorize': row['colorfulness'] = float(colorfulness(out[None])[0])
        return row
    def report(self): return dict(task=self.deg.spec, seed=self.seed)

SSIM_WINDOW = 11  # SSIM's window: the smallest side a scored image keeps

def _target(f, min_side):
    "The clean image in `f` as RGB, guarded as every command reads images; one too small to score is a DataError."
    img = open_image(f).convert('RGB')
    if min(img.size) < min_side:
        raise DataError(f'{f}: {img.width}x{img.height} pixels, too small to score (at least {min_side} a side)')
    return img

def evaluate(images,  # a folder of clean images (all below it)
             task='superres',  # a task spec or Degradation; a scaled one is scored by the SR protocol
             model=None,  # a restoration model to score (None: the baselines only)
             scale=2,  # the SR protocol's factor (same-size tasks: unused)
             limit=None,  # score the first n images only (None: all)
             seed=0,  # image i's degradation draws from `random.Random(seed + i)`
             baselines=('bicubic',),  # the SR protocol's PIL filters upsampling the input (tasks: their own)
             classifier=None,  # a superres classifier: FID/KID of each method against the targets (None: none)
             tile=None,  # the side in pixels of the tiles the model reads (None: `default_tile`)
             precision='fp32',  # the model's: `fp32`, `bf16`, `fp16` or `auto` (`resolve_precision`)
             progress=True):  # show a progress bar over the images
    "Score `model` (None: the baselines only) and the baselines on clean `images`: per image, means, FID/KID if asked."
    deg = parse_degradation(task)
    chain = deg if deg.name != 'superres' else None  # degraded beyond the downscale, e.g. real+superres
    protocol = _SRProtocol(scale, baselines, chain, seed) if deg.scale > 1 else _TaskProtocol(deg, seed)
    files = list_images(images)[:limit]
    if not files: raise UsageError(f'no images in {images}')
    names = protocol.baselines + (['model'] if model is not None else [])
    rows, kept, skipped = [], {n: [] for n in ['target'] + names}, {}
    device = model_device(model) if model is not None else None  # an OpenVINO model's precision is the CPU's
    for i, f in enumerate(progress_bar(files, leave=False) if progress and len(files) > 1 else files):
        try: target = _target(f, protocol.min_side)
        except DataError as e:  # one bad file never stops a run: it is left out, and the report says why
            skipped[str(f)] = str(e).removeprefix(f'{f}: ')
            continue
        with inference_precision(precision, device): targ, outs = protocol.case(target, i, model, tile)
        row = dict(image=f.name)
        for name, out in outs.items(): row.update({f'{name}_{k}': v for k, v in protocol.score(out, targ).items()})
        if deg.name == 'colorize': row['target_colorfulness'] = float(colorfulness(targ[None])[0])
        rows.append(row)
        if classifier is not None:  # kept as 8-bit, exactly what a saved output file would hold
            for name, t in dict(outs, target=targ).items(): kept[name].append((t.clamp(0, 1) * 255).round().byte())
    if not rows: raise DataError('no image in {} could be scored ({}: {})'.format(images, *next(iter(skipped.items()))))
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != 'image'}
    report = dict(protocol.report(), images_dir=str(images), methods=names, mean=mean, images=rows, skipped=skipped)
    if classifier is not None: report['distances'] = _set_distances(classifier, kept, names)
    return report

def evaluate_sr(hr_dir,  # a folder of clean high-resolution images
                scale=2,  # the factor: HR shrunk by it (bicubic), `scale` border pixels shaved
                model=None,  # a superres model to score (None: the baselines only)
                **kwargs):  # `evaluate`'s
    "The standard SR protocol (bicubic LR, Y-channel PSNR/SSIM, `scale` pixels shaved); FID/KID with a `classifier`."
    return evaluate(hr_dir, 'superres', model, scale, **kwargs)

def evaluate_task(images,  # a folder of clean images
                  task,  # a task spec or Degradation (a scaled one: the SR protocol)
                  model=None,  # a restoration model to score (None: the baselines only)
                  **kwargs):  # `evaluate`'s
    "Degrade each image repeatably (image i with `seed + i`), restore it by the model and the classic baselines."
    return evaluate(images, task, model, **kwargs)

def _set_distances(classifier, kept, names):
    "FID/KID of each method's outputs against the targets, on 64x64 patches at native resolution."
    from .fid import ClassifierFeatures, distances
    feats = ClassifierFeatures(classifier, patches=True)
    targ = feats(kept['target'])
    return {name: distances(feats(kept[name]), targ) for name in names}

def _mean(t): return round(float(t.float().mean()), 4)

def evaluate_segmenter(model,  # a segmentation model (`load_segmenter`)
                       data=None,  # Tiny ImageNet's zip or folder (None: `$SUPERRES_DATA`, fastai's data, or download)
                       classes=None,  # the first n classes of wnids.txt (None: all 200)
                       val_per_class=None,  # validation images per class (None: all 50)
                       bs=256,  # images per forward pass
                       precision='auto',  # `auto`, `fp32`, `bf16` or `fp16`, as `resolve_precision` reads it
                       progress=True):  # show progress bars
    """Mean pixel IoU of `model`'s masks and box IoU of the boxes around them on Tiny ImageNet's val images (default:
    all 10,000), beside the best constant box of the training boxes, the score of a segmenter that never looks."""
    tin = TinyImageNet(find_tiny_imagenet(data), classes=classes, val_per_class=val_per_class)
    files = tin.val_files()
    truth = torch.tensor([tin.box(f) for f in files])
    constant, train_iou = best_constant_box([tin.box(f) for f in tin.train_files()])
    images, masks, device = decoded_images(files, progress=progress), [], model_device(model)
    with torch.inference_mode(), inference_precision(precision, device):
        starts = range(0, len(files), bs)
        for i in progress_bar(starts, leave=False) if progress else starts:
            x = torch.from_numpy(np.array(images[i:i+bs])).to(device).float().div(255)  # a copy: the cache is read-only
            masks.append(model(x).float().argmax(1).cpu() == 1)
    masks = torch.cat(masks)
    return dict(images=len(files), pixel_iou=_mean(pixel_iou(masks, box_masks(truth, *masks.shape[-2:]))),
                box_iou=_mean(box_iou(mask_boxes(masks), truth)), constant_box=list(constant),
                constant_box_iou=_mean(box_iou(torch.tensor(constant), truth)),
                constant_box_train_iou=round(train_iou, 4), empty_masks=int((~masks.flatten(1).any(1)).sum()))
