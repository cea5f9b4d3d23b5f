"""fastai DataLoaders: classification, restoration pairs and segmentation masks, per-item DataBlocks or batches from
the decoded cache."""
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from fastai.data.block import CategoryBlock, DataBlock
from fastai.data.core import DataLoaders, TfmdDL
from fastai.data.transforms import FuncSplitter, IntToFloatTensor, RandomSplitter
from fastai.torch_core import TensorCategory, default_device
from fastai.vision.augment import CropPad, FlipItem, RandomCrop, Resize
from fastai.vision.core import PILImage, TensorImage
from fastai.vision.data import ImageBlock, MaskBlock
from fastcore.basics import noop
from fastprogress.fastprogress import progress_bar
from fasttransform import Transform
from PIL import Image

from .augment import BatchPadCropFlip, BatchTrivialAugment, RandomErase, TrivialAugment
from .boxes import box_masks
from .cache import decode_into, decoded_images
from .degradations import BATCH_FILTERS, Downscale, parse_degradation
from .errors import DataError, UsageError
from .files import list_images
from .images import image_size, image_stats, load_rgb
from .models import SEGMENTATION_CODES
from .tinyimagenet import TinyImageNet, find_bad_images, find_tiny_imagenet, is_tiny_imagenet, is_val

__all__ = ['PIPELINES', 'PILImageRGB', 'classification_dblock', 'classification_dls', 'ImageArrays', 'background',
           'ArrayDL', 'DecodedDataLoaders', 'decoded_dls', 'PILImageLR', 'TensorImageLR', 'Degrade', 'BatchDegrade',
           'PairedArrays', 'paired_dls', 'PatchArrays', 'decoded_pairs_unsupported', 'decoded_paired_dls', 'sr_dls',
           'BoxMask', 'segmentation_tfms', 'segmentation_dblock', 'segmentation_dls']

PIPELINES = ('decoded', 'datablock')  # batches from the decoded cache, or fastai's per-item DataBlock

class PILImageRGB(PILImage):
    "An image item opened with `load_rgb`, so a corrupt file is named in the error instead of failing deep in PIL."
    @classmethod
    def create(cls, fn:Path|str|torch.Tensor|np.ndarray|bytes|Image.Image, **kwargs):
        return cls(load_rgb(fn)) if isinstance(fn, (str, Path)) else super().create(fn, **kwargs)

def _workers(n): return min(2, os.cpu_count() or 1) if n is None else n

def _subset(data, skip_bad=False, **subset):
    "The Tiny ImageNet subset a loader reads and its training images' stats: where every loader starts."
    tin = TinyImageNet(find_tiny_imagenet(data), skip_bad=skip_bad, **subset)
    return tin, image_stats(tin.train_files())

def _erasing(p, stats, types=TensorImage):
    "Random erasing of `types` with probability `p` per image (0 or None: none), filled in the data's own `stats`."
    return [RandomErase(p, mean=stats[0], std=stats[1], types=types)] if p else []

def classification_tfms(size=64, augment=True, trivial_augment=True):
    "Item transforms: pad + random crop and flip, then TrivialAugment; the validation set only gets resized."
    tfms = [] if size == 64 else [Resize(size)]
    if augment:
        tfms += [CropPad(size + 2*max(1, size//16)), RandomCrop(size), FlipItem(0.5)]
        if trivial_augment: tfms.append(TrivialAugment())
    return tfms

def classification_dblock(tin,  # a `TinyImageNet` subset: its items, labels, classes and val split
                          size=64,  # the side in pixels the images are trained at (not 64: resized first)
                          augment=True,  # pad + random crop and flip, TrivialAugment, erasing (training set only)
                          stats=None,  # the data's (mean, std), the erasing fill's (None: no erasing)
                          trivial_augment=True,  # one TrivialAugmentWide op per training image (with `augment`)
                          erase=0.25):  # probability of erasing a random rectangle of each training image (0: none)
    "A DataBlock of (image, wnid) over a `TinyImageNet` subset; erasing uses the data's own `stats`."
    return DataBlock(blocks=(ImageBlock(PILImageRGB), CategoryBlock(vocab=tin.wnids)), get_items=lambda _: tin.items(),
                     get_y=tin, splitter=FuncSplitter(is_val),
                     item_tfms=classification_tfms(size, augment, trivial_augment),
                     batch_tfms=_erasing(erase, stats) if augment and stats else [])

def classification_dls(data=None,  # Tiny ImageNet's zip or folder (None: `$SUPERRES_DATA`, fastai's data, or download)
                       classes=None,  # the first n classes of wnids.txt (None: all 200)
                       per_class=None,  # training images per class, the first in natural order (None: all 500)
                       val_per_class=None,  # validation images per class (None: all 50)
                       size=64,  # the side in pixels the images are trained at (not 64: resized first)
                       bs=128,  # batch size
                       augment=True,  # pad + random crop and flip, TrivialAugment, erasing (training set only)
                       trivial_augment=True,  # one TrivialAugmentWide op per training image (with `augment`)
                       erase=0.25,  # probability of erasing a random rectangle of each training image (0: none)
                       num_workers=None,  # loader worker processes (None: one per CPU, at most 2)
                       skip_bad=False,  # decode every image first and leave out those that fail
                       **kwargs):
    "DataLoaders for Tiny ImageNet classification, per-item PIL transforms in worker processes."
    tin, stats = _subset(data, skip_bad, classes=classes, per_class=per_class, val_per_class=val_per_class)
    dblock = classification_dblock(tin, size, augment, stats, trivial_augment, erase)
    dls = dblock.dataloaders(tin.root, bs=bs, num_workers=_workers(num_workers), **kwargs)
    dls.tin, dls.stats = tin, stats
    return dls

class ImageArrays:
    "Images as one uint8 array (in memory or memory-mapped) plus labels; `split_idx` 0 marks the training set."
    def __init__(self, x, y, split_idx): self.x, self.y, self.split_idx = x, np.asarray(y), split_idx
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return self.batch([i])
    def new_empty(self): return type(self)(self.x[:0], self.y[:0], self.split_idx)
    @contextmanager
    def set_split_idx(self, i):
        "Act as another split for a while: how fastai's `Learner.tta` draws training augmentations on validation data."
        old, self.split_idx = self.split_idx, i
        try: yield self
        finally: self.split_idx = old
    def read(self, idxs):
        "One fancy-indexed read per batch, in file order (kind to a memory map); the loader already shuffled which."
        idxs = np.sort(np.asarray(idxs))
        return torch.from_numpy(np.ascontiguousarray(self.x[idxs])), torch.from_numpy(self.y[idxs])
    def batch(self, idxs):
        x, y = self.read(idxs)
        return TensorImage(x), TensorCategory(y)

def background(it, depth=2):
    "`it` run in a thread `depth` items ahead: a GPU batch's Python work overlaps the last step (torch frees the GIL)."
    it, end, pool = iter(it), object(), ThreadPoolExecutor(1)
    try:
        ahead = deque(pool.submit(next, it, end) for _ in range(depth))
        while (o := ahead.popleft().result()) is not end:
            ahead.append(pool.submit(next, it, end))
            yield o
    finally: pool.shutdown(cancel_futures=True)

class ArrayDL(TfmdDL):
    "A fastai loader over `ImageArrays` that reads each batch with one indexed read instead of item by item."
    prefetch = None  # batches made in a background thread ahead of the step; None: on a GPU only (BENCHMARKS.md)
    def __iter__(self):
        ahead = getattr(self.device, 'type', None) == 'cuda' if self.prefetch is None else self.prefetch
        return background(super().__iter__()) if ahead else super().__iter__()
    def create_item(self, i): return 0 if i is None else i  # fastai probes with None to learn the batch types
    def create_batch(self, idxs):
        b = self.dataset.batch(idxs)
        if getattr(self.device, 'type', None) != 'cuda': return b
        return tuple(t.pin_memory().to(self.device, non_blocking=True) for t in b)  # the copy overlaps the GPU's step

def _load_any(o): return o.convert('RGB') if isinstance(o, Image.Image) else load_rgb(o)

class DecodedDataLoaders(DataLoaders):
    "DataLoaders over decoded arrays whose `test_dl` decodes new images the same way: an export predicts on files."
    def test_dl(self, test_items, rm_type_tfms=None, with_labels=False, **kwargs):
        size = self.valid.dataset.x.shape[-1]
        x = decode_into(np.empty((len(test_items), 3, size, size), np.uint8), test_items, _load_any, size,
                        progress=False)
        return self.valid.new(type(self.valid.dataset)(x, np.zeros(len(x), np.int64), 1), **kwargs)

def _decoded_dls(tin, stats, dataset, tfms, size, bs, device, cache, progress):
    "DataLoaders over the decoded images of `tin`, reaching `device` (default: the GPU if any) before `tfms` run."
    device = device or default_device()
    vocab = {w: i for i, w in enumerate(tin.wnids)}
    def loader(files, split_idx, **kwargs):
        ds = dataset(decoded_images(files, size, cache, progress), [vocab[tin.label(f)] for f in files], split_idx)
        # batches are slices of one array: worker processes would only add cost
        return ArrayDL(ds, bs=bs, after_batch=tfms, device=device, num_workers=0, **kwargs)
    train, valid = loader(tin.train_files(), 0, shuffle=True, drop_last=True), loader(tin.val_files(), 1)
    dls = DecodedDataLoaders(train, valid, device=device)
    dls.tin, dls.stats = tin, stats
    return dls

def decoded_dls(data=None,  # Tiny ImageNet's zip or folder (None: `$SUPERRES_DATA`, fastai's data, or download)
                classes=None,  # the first n classes of wnids.txt (None: all 200)
                per_class=None,  # training images per class, the first in natural order (None: all 500)
                val_per_class=None,  # validation images per class (None: all 50)
                size=64,  # the side in pixels images are decoded at (not 64: resized when decoded)
                bs=128,  # batch size
                augment=True,  # pad + random crop and flip, TrivialAugment, erasing (training batches only)
                trivial_augment=True,  # one TrivialAugmentWide op per training image (with `augment`)
                erase=0.25,  # probability of erasing a random rectangle of each training image (0: none)
                device=None,  # where batches go and their transforms run (None: the GPU if any)
                skip_bad=False,  # decode every image first and leave out those that fail
                cache=True,  # memory-map the images from an on-disk cache, decoded once (off: decode into memory)
                progress=True):  # show a progress bar while decoding
    "Classification DataLoaders over pre-decoded uint8 images: crop/flip, TrivialAugment, erasing per image by batch."
    tin, stats = _subset(data, skip_bad, classes=classes, per_class=per_class, val_per_class=val_per_class)
    aug = [BatchPadCropFlip(max(1, size//16))] + ([BatchTrivialAugment()] if trivial_augment else [])
    tfms = (aug if augment else []) + [IntToFloatTensor()] + (_erasing(erase, stats) if augment else [])
    dls = _decoded_dls(tin, stats, ImageArrays, tfms, size, bs, device, cache, progress)  # random tfms: split 0 only
    dls.vocab = tin.wnids
    return dls

class PILImageLR(PILImageRGB):
    "The degraded input of a paired item: transforms typed on it leave the target alone."

class TensorImageLR(TensorImage):
    "A batch of degraded inputs."

PILImageLR._tensor_cls = TensorImageLR

class Degrade(Transform):
    "Degrade the input of a paired item (after crop and flip, so both stay aligned); the target is untouched."
    order = 4
    def __init__(self, degradation='superres'): self.degradation = parse_degradation(degradation)
    def encodes(self, x: PILImageLR): return PILImageLR(self.degradation(x))

class BatchDegrade(Transform):
    "`Degrade` for a uint8 batch: the degradation's tensor form, per image, on the batch's device (after crop/flip)."
    order = 4
    def __init__(self, degradation): self.degradation = degradation
    def encodes(self, x: TensorImageLR): return TensorImageLR(self.degradation.batch(x.as_subclass(torch.Tensor)))

def gaussian_blur(x, sigma, radius=None):
    "A separable gaussian blur of a float batch (n, c, h, w), edges replicated."
    radius = radius or int(3 * sigma + 0.5)
    k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype) / sigma) ** 2)
    k, c = (k / k.sum()).repeat(x.shape[1], 1, 1, 1), x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode='replicate'), k.view(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode='replicate'), k.view(c, 1, -1, 1), groups=c)

def unsharp_mask(x, weight=0.5, sigma=8., threshold=10 / 255):
    "Real-ESRGAN's sharpened target: edges (detail above `threshold`) boosted by `weight`, flat areas kept, in [0, 1]."
    residual = x - gaussian_blur(x, sigma)
    soft = gaussian_blur((residual.abs() > threshold).to(x.dtype), sigma)
    return soft * (x + weight * residual).clamp(0, 1) + (1 - soft) * x

class SharpenTarget(Transform):
    "Unsharp-mask the targets of a paired batch (the degraded inputs are left alone), as Real-ESRGAN trains."
    order = 20  # on floats, after IntToFloatTensor
    def __init__(self, weight=0.5): self.weight = weight
    def encodes(self, x: TensorImageLR): return x
    def encodes(self, x: TensorImage): return TensorImage(unsharp_mask(x.as_subclass(torch.Tensor), self.weight))  # noqa: F811

def _sharpening(weight): return [SharpenTarget(weight)] if weight else []

class PairedArrays(ImageArrays):
    "Decoded images as restoration pairs: each image is the target and, once degraded, the input."
    def batch(self, idxs):
        x, _ = self.read(idxs)
        return TensorImageLR(x), TensorImage(x)

def _is_tiny(src):
    "Whether a data source is Tiny ImageNet: a zip or folder of it, or None (the one `find_tiny_imagenet` finds)."
    return src is None or is_tiny_imagenet(src)

def _sources(data):
    "`data` as a list of sources: one Tiny ImageNet (zip or folder; None finds it) or image folder, or several."
    return list(data) if isinstance(data, (list, tuple)) else [data]

def _by_area(files, size):
    "Each photo listed once per `size`x`size` crop its area holds: an epoch samples photos by their pixels."
    items = []
    for f in files:
        w, h = image_size(f)
        items += [f] * max(1, (w * h) // (size * size))
    return items

def _folder_split(data, skip_bad, valid_pct, seed, size):
    "Train and validation photos of a plain folder (unreadable ones left out if `skip_bad`), split by photo."
    files = list_images(data)
    if skip_bad:
        bad = find_bad_images(files)
        files = [f for f in files if f not in bad]
    if len(files) < 2: raise DataError(f'{data} holds {len(files)} images; a training folder needs at least 2.')
    train, valid = RandomSplitter(valid_pct, seed=seed)(files)
    return _by_area([files[i] for i in train], size), [files[i] for i in valid]

def _paired_sources(data, size, skip_bad, valid_pct, seed, **subset):
    "(tiny, train files, validation files) of each source; photos are repeated by area (`_by_area`)."
    sources = []
    for src in _sources(data):
        if _is_tiny(src):
            tin = TinyImageNet(find_tiny_imagenet(src), skip_bad=skip_bad, **subset)
            sources.append((True, tin.train_files(), tin.val_files()))
        else: sources.append((False, *_folder_split(src, skip_bad, valid_pct, seed, size)))
    if any(tiny for tiny, *_ in sources):  # Tiny ImageNet validates on its val split; folders then train only
        sources = [(tiny, train, valid if tiny else []) for tiny, train, valid in sources]
    return sources

def _paired_items(*args, **kwargs):
    "Train and validation files of all sources, in one list each."
    sources = _paired_sources(*args, **kwargs)
    return [f for _, t, _ in sources for f in t], [f for _, _, v in sources for f in v]

def _with_task(dls, degradation):
    dls.degradation, dls.scale = degradation, 1 if degradation is None else degradation.scale
    return dls

def paired_dls(data=None,  # Tiny ImageNet (zip or folder; None finds it), a folder of photos, or a list of several
               degradation='superres',  # a task spec or Degradation making the input (None: input = target)
               size=64,  # the side in pixels of the random crops (one Tiny ImageNet at 64: padded first)
               classes=None,  # Tiny ImageNet's first n classes (None: all 200)
               per_class=None,  # Tiny ImageNet's training images per class (None: all 500)
               val_per_class=None,  # Tiny ImageNet's validation images per class (None: all 50)
               bs=64,  # batch size
               erase=0.25,  # probability of erasing a random rectangle of each training input (0: none)
               augment=True,  # flip training crops at random (off: crops only)
               valid_pct=0.1,  # the fraction of a photo folder held out (none beside a Tiny ImageNet)
               num_workers=None,  # loader worker processes (None: one per CPU, at most 2)
               seed=42,  # the random split of photo folders
               skip_bad=False,  # decode every image first and leave out those that fail
               sharpen_target=None,  # unsharp-mask weight of the targets, as Real-ESRGAN (None or 0: none)
               **kwargs):
    "Paired DataLoaders (input degraded by `degradation`, None for none; clean target) from one or several sources."
    degradation = None if degradation is None else parse_degradation(degradation)
    train, valid = _paired_items(data, size, skip_bad, valid_pct, seed, classes=classes, per_class=per_class,
                                 val_per_class=val_per_class)
    files, n = train + valid, len(train)
    pad = size // 8 if _whole_image(data, size) else 0  # crops of photos or of smaller sizes: no padding
    stats = image_stats(train)
    tfms = ([CropPad(size + 2*pad)] if pad else []) + [RandomCrop(size)] + ([FlipItem(0.5)] if augment else [])
    if degradation is not None: tfms.append(Degrade(degradation))
    dblock = DataBlock(blocks=(ImageBlock(PILImageLR), ImageBlock), get_items=lambda _: files, get_x=noop, get_y=noop,
                       splitter=lambda _: (list(range(n)), list(range(n, len(files)))), item_tfms=tfms,
                       batch_tfms=_erasing(erase, stats, TensorImageLR) + _sharpening(sharpen_target))
    dls = dblock.dataloaders(data, bs=bs, num_workers=_workers(num_workers), **kwargs)
    dls.stats = stats
    return _with_task(dls, degradation)

def decoded_pairs_unsupported(data,  # the sources, as `decoded_paired_dls` takes them
                              degradation,  # the task, a Degradation (None: none, which has no batched form)
                              size=64):  # the side in pixels of the crops
    "Why `decoded_paired_dls` cannot serve this data and task (None when it can)."
    if degradation is None or not degradation.batchable:
        return (f'task {getattr(degradation, "spec", degradation)} has no batched form '
                f'(superres with {", ".join(BATCH_FILTERS)} filters has)')
    if size > 64 and any(map(_is_tiny, _sources(data))):
        return f'Tiny ImageNet images are 64 pixels, smaller than crops of {size}'

def _whole_image(data, size):
    "Whether `data` is one Tiny ImageNet trained at its own size: then crops are padded, as for the classifier."
    return size == 64 and len(_sources(data)) == 1 and _is_tiny(_sources(data)[0])

class PatchArrays(ImageArrays):
    "Decoded images of any size as pairs: a random `size` crop, randomly transposed if `augment` (validation: centre)."
    def __init__(self, images, size, split_idx, augment=True):
        super().__init__(images, np.zeros(len(images), np.int64), split_idx)
        self.size, self.augment = size, augment
    def new_empty(self): return type(self)(self.x[:0], self.size, self.split_idx, self.augment)
    def _crop(self, im):
        (h, w), s = im.shape[-2:], self.size
        if self.split_idx != 0: return im[:, (h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2]
        top, left = np.random.randint(h - s + 1), np.random.randint(w - s + 1)
        crop = im[:, top:top + s, left:left + s]
        return crop.transpose(0, 2, 1) if self.augment and np.random.rand() < 0.5 else crop  # + flip: 8 symmetries
    def batch(self, idxs):
        x = TensorImageLR(torch.from_numpy(np.stack([self._crop(self.x[i]) for i in idxs])))
        return x, TensorImage(x)

def _decoded_photos(files, size, progress):
    "Each distinct photo decoded once into memory; those smaller than `size` are left out, with a warning."
    distinct = list(dict.fromkeys(files))
    arrays = {f: np.asarray(load_rgb(f)).transpose(2, 0, 1)
              for f in (progress_bar(distinct, leave=False) if progress else distinct)}
    small = {f for f, a in arrays.items() if min(a.shape[-2:]) < size}
    if small: warnings.warn(f'{len(small)} photos are smaller than {size} pixels and are left out, e.g. {min(small)}')
    return [arrays[f] for f in files if f not in small]

def _patch_dls(sources, degradation, size, bs, erase, augment, device, cache, progress, sharpen_target=None):
    "DataLoaders of random crops from every source, degraded by batch (Tiny ImageNet from its decoded cache)."
    def images(files, tiny):
        if not files: return []
        if tiny: return list(decoded_images(files, 64, cache, progress))
        return _decoded_photos(files, size, progress)
    train = [a for tiny, t, _ in sources for a in images(t, tiny)]
    valid = [a for tiny, _, v in sources for a in images(v, tiny)]
    if not train or not valid: raise DataError(f'no training or validation crops of {size} pixels in these sources')
    stats = image_stats([f for _, t, _ in sources for f in t])
    device = device or default_device()
    tfms = ([BatchPadCropFlip(0)] if augment else []) + [BatchDegrade(degradation), IntToFloatTensor()]
    tfms += _erasing(erase, stats, TensorImageLR) + _sharpening(sharpen_target)
    loader = lambda ims, split_idx, **kw: ArrayDL(PatchArrays(ims, size, split_idx, augment), bs=bs, after_batch=tfms,
                                                  device=device, num_workers=0, **kw)
    dls = DecodedDataLoaders(loader(train, 0, shuffle=True, drop_last=True), loader(valid, 1), device=device)
    dls.stats = stats
    return dls

def decoded_paired_dls(data=None,  # Tiny ImageNet (zip or folder; None finds it), a folder of photos, or a list
                       degradation='superres',  # a task spec or Degradation with a batched form
                       size=64,  # the side in pixels of the random crops (one Tiny ImageNet at 64: padded first)
                       classes=None,  # Tiny ImageNet's first n classes (None: all 200)
                       per_class=None,  # Tiny ImageNet's training images per class (None: all 500)
                       val_per_class=None,  # Tiny ImageNet's validation images per class (None: all 50)
                       bs=64,  # batch size
                       erase=0.25,  # probability of erasing a random rectangle of each training input (0: none)
                       augment=True,  # flip training crops, and pad + shift (one Tiny ImageNet at 64) or transpose them
                       device=None,  # where batches go and their transforms run (None: the GPU if any)
                       skip_bad=False,  # decode every image first and leave out those that fail
                       cache=True,  # Tiny ImageNet from its on-disk decoded cache (off: decoded into memory)
                       progress=True,  # show a progress bar while decoding
                       valid_pct=0.1,  # the fraction of a photo folder held out (none beside a Tiny ImageNet)
                       seed=42,  # the random split of photo folders
                       sharpen_target=None):  # unsharp-mask weight of the targets, as Real-ESRGAN (None or 0: none)
    "`paired_dls` on decoded images, crop/flip, degradation and erasing per image by batch (on the GPU if any)."
    degradation = parse_degradation(degradation)
    if why := decoded_pairs_unsupported(data, degradation, size):
        raise UsageError(f'no decoded paired data: {why}; use `pipeline` datablock (paired_dls)')
    subset = dict(classes=classes, per_class=per_class, val_per_class=val_per_class)
    if not _whole_image(data, size):
        sources = _paired_sources(data, size, skip_bad, valid_pct, seed, **subset)
        return _with_task(_patch_dls(sources, degradation, size, bs, erase, augment, device, cache, progress,
                                     sharpen_target), degradation)
    tin, stats = _subset(_sources(data)[0], skip_bad, **subset)
    crop_flip = [BatchPadCropFlip(size // 8)] if augment else []
    tfms = crop_flip + [BatchDegrade(degradation), IntToFloatTensor()] + _erasing(erase, stats, TensorImageLR)
    tfms += _sharpening(sharpen_target)
    return _with_task(_decoded_dls(tin, stats, PairedArrays, tfms, size, bs, device, cache, progress), degradation)

def sr_dls(data=None,  # the sources, as `paired_dls` takes them
           scale=2,  # the downscale factor (1: input = target, for checks)
           down='bicubic',  # the PIL filter shrinking the target (a name of `FILTERS`)
           up='bicubic',  # the PIL filter upsampling back to the target's size (None: the input stays small)
           **kwargs):
    "Paired DataLoaders for super-resolution by `scale` (1: input = target, for checks)."
    return paired_dls(data, Downscale(scale, down, up) if scale > 1 else None, **kwargs)

class BoxMask:
    "The mask of an image's box (0 background, 1 object) at the image's size: the target `MaskBlock` reads."
    def __init__(self, box_of): self.box_of = box_of
    def __call__(self, path):
        w, h = image_size(path)  # the header only
        return box_masks(self.box_of(path), h, w).numpy().astype(np.uint8)

def segmentation_tfms(size=64, augment=True):
    "Item transforms of an image and its mask alike (fastai draws them once per pair): pad + random crop, flip."
    return [CropPad(size + 2*max(1, size//16)), RandomCrop(size), FlipItem(0.5)] if augment else []

def segmentation_dblock(items,  # the image paths
                        box_of,  # path -> its object's box (x0, y0, x1, y1), both ends included (`TinyImageNet.box`)
                        is_valid,  # path -> whether it is a validation item
                        size=64,  # the side in pixels of the random crops (off `augment`: images keep their size)
                        augment=True,  # pad + random crop and flip, the same for image and mask, and erasing
                        stats=None,  # the data's (mean, std), the erasing fill's (None: no erasing)
                        erase=0.25):  # probability of erasing a random rectangle of each training image, not mask
    "A DataBlock of (image, mask of its box) over `items`; masks follow every crop and flip, erasing hits images only."
    return DataBlock(blocks=(ImageBlock(PILImageRGB), MaskBlock(list(SEGMENTATION_CODES))), get_items=lambda _: items,
                     get_y=BoxMask(box_of), splitter=FuncSplitter(is_valid), item_tfms=segmentation_tfms(size, augment),
                     batch_tfms=_erasing(erase, stats) if augment and stats else [])

def segmentation_dls(data=None,  # Tiny ImageNet's zip or folder (None: `$SUPERRES_DATA`, fastai's data, or download)
                     classes=None,  # the first n classes of wnids.txt (None: all 200)
                     per_class=None,  # training images per class, the first in natural order (None: all 500)
                     val_per_class=None,  # validation images per class (None: all 50)
                     bs=64,  # batch size
                     augment=True,  # pad + random crop and flip of image and mask alike, erasing (training set only)
                     erase=0.25,  # probability of erasing a random rectangle of each training image, not mask
                     num_workers=None,  # loader worker processes (None: one per CPU, at most 2)
                     skip_bad=False,  # decode every image first and leave out those that fail
                     **kwargs):
    "DataLoaders of Tiny ImageNet images and the masks of their boxes (the main object of each image), 64x64."
    tin, stats = _subset(data, skip_bad, classes=classes, per_class=per_class, val_per_class=val_per_class)
    dblock = segmentation_dblock(tin.items(), tin.box, is_val, augment=augment, stats=stats, erase=erase)
    dls = dblock.dataloaders(tin.root, bs=bs, num_workers=_workers(num_workers), **kwargs)
    dls.tin, dls.stats = tin, stats
    return dls
