"""Tiny ImageNet: finding it, validating it, and turning it into fastai DataLoaders."""
import hashlib, os, random, shutil, tempfile, warnings, zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from fastcore.basics import store_attr
from fastai.data.block import CategoryBlock, DataBlock
from fastai.data.core import DataLoaders, TfmdDL
from fastai.data.transforms import FuncSplitter, IntToFloatTensor
from fasttransform import Transform
from fastai.vision.augment import CropPad, FlipItem, RandomCrop, RandTransform, Resize
from fastai.torch_core import TensorCategory, default_device
from fastai.vision.core import PILImage, TensorImage
from fastai.vision.data import ImageBlock
from PIL import Image
from torchvision.transforms import TrivialAugmentWide

from .augment import BatchPadCropFlip, BatchTrivialAugment, RandomErase
from .cache import decode_into, decoded_cache
from .degradations import BATCH_FILTERS, Downscale, parse_degradation
from .files import natural_key

__all__ = ['TINY_IMAGENET_URL', 'DataError', 'cache_dir', 'find_tiny_imagenet', 'validate_tiny_imagenet',
           'TinyImageNet', 'load_rgb', 'find_bad_images', 'PILImageRGB', 'image_peak', 'image_to_tensor', 'image_stats', 'TrivialAugment', 'classification_dblock',
           'classification_dls', 'ImageArrays', 'background', 'ArrayDL', 'DecodedDataLoaders', 'decoded_images', 'decoded_dls', 'show_batch_png',
           'PILImageLR', 'TensorImageLR', 'Degrade', 'BatchDegrade', 'PairedArrays', 'is_tiny_imagenet', 'paired_dls',
           'decoded_pairs_unsupported', 'decoded_paired_dls', 'sr_dls']

TINY_IMAGENET_URL = 'http://cs231n.stanford.edu/tiny-imagenet-200.zip'
DIR_NAME = 'tiny-imagenet-200'

class DataError(Exception):
    "A data set that is missing or malformed; the message says what and how to fix it."

def cache_dir():
    "Where superres keeps extracted data and caches: `SUPERRES_CACHE`, else `~/.cache/superres`."
    return Path(os.environ.get('SUPERRES_CACHE', Path.home()/'.cache'/'superres'))

def _zip_key(zip_path):
    "Identify a zip by name, size and mtime so an edited or replaced zip is extracted afresh."
    st = zip_path.stat()
    return hashlib.sha1(f'{zip_path.resolve()}|{st.st_size}|{st.st_mtime_ns}'.encode()).hexdigest()[:12]

def _extract_zip(zip_path):
    "Extract `zip_path` once into the cache; an interrupted extraction is never mistaken for a finished one."
    dest = cache_dir()/f'{zip_path.stem}-{_zip_key(zip_path)}'
    if dest.is_dir(): return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{dest.name}.', dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(zip_path) as z: z.extractall(tmp)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise DataError(f'{zip_path} is not a complete zip file ({e}). Download it again.') from e
        os.replace(tmp, dest)
    finally:
        if tmp.exists(): shutil.rmtree(tmp, ignore_errors=True)
    return dest

def _root_in(folder):
    "The `tiny-imagenet-200` folder at or directly inside `folder`."
    folder = Path(folder)
    if (folder/'wnids.txt').exists(): return folder
    if (folder/DIR_NAME).is_dir(): return folder/DIR_NAME
    return folder

def _download(url, dest):
    "Download `url` to `dest` with a progress bar, atomically."
    from fastdownload import download_url
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f'.{dest.name}.part')
    try: download_url(url, tmp, show_progress=True)
    except Exception as e:
        raise DataError(f'Could not download Tiny ImageNet from {url} ({e}). Download it yourself and pass '
                        f'--data PATH (the zip or its extracted folder), or set SUPERRES_DATA.') from e
    os.replace(tmp, dest)
    return dest

def _resolve(path):
    "A folder or zip given by the user, as a validated root folder."
    path = Path(path).expanduser()
    if not path.exists(): raise DataError(f'{path} does not exist. Pass the Tiny ImageNet zip or its extracted folder.')
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DataError(f'{path} is not a zip file, or only part of one (an interrupted download?). Download it again, '
                            'or pass the extracted folder.')
        path = _extract_zip(path)
    return validate_tiny_imagenet(_root_in(path))

def find_tiny_imagenet(path=None, download=True):
    "Tiny ImageNet's root folder: `path`, else `$SUPERRES_DATA`, else fastai's data folder, else downloaded."
    if path is not None: return _resolve(path)
    if os.environ.get('SUPERRES_DATA'): return _resolve(os.environ['SUPERRES_DATA'])
    from fastai.data.external import fastai_path
    data = fastai_path('data')
    for cand in (data/DIR_NAME, data/f'{DIR_NAME}.zip'):
        if cand.exists(): return _resolve(cand)
    if not download: raise DataError('Tiny ImageNet not found: pass --data PATH or set SUPERRES_DATA.')
    return _resolve(_download(TINY_IMAGENET_URL, data/f'{DIR_NAME}.zip'))

def _read_lines(path): return [l for l in Path(path).read_text().splitlines() if l.strip()]

def _some(names, n=5): return ', '.join(list(names)[:n]) + (f' and {len(names)-n} more' if len(names) > n else '')

def validate_tiny_imagenet(root, n_classes=200):
    "Check `root` has the official layout, raising a `DataError` that lists everything missing."
    root = Path(root)
    problems = []
    wnids_file, words_file, ann_file = root/'wnids.txt', root/'words.txt', root/'val'/'val_annotations.txt'
    for f in (wnids_file, words_file, ann_file):
        if not f.is_file(): problems.append(f'missing {f.relative_to(root)}')
    wnids = _read_lines(wnids_file) if wnids_file.is_file() else []
    if wnids_file.is_file() and len(wnids) != n_classes:
        problems.append(f'wnids.txt lists {len(wnids)} classes, expected {n_classes}')
    no_train = [w for w in wnids if not (root/'train'/w/'images').is_dir() or not any((root/'train'/w/'images').iterdir())]
    if no_train: problems.append(f'no training images for {len(no_train)} classes (train/<wnid>/images): {_some(no_train)}')
    if words_file.is_file() and wnids:
        known = {l.split('\t', 1)[0] for l in _read_lines(words_file)}
        unnamed = [w for w in wnids if w not in known]
        if unnamed: problems.append(f'words.txt has no name for {len(unnamed)} classes: {_some(unnamed)}')
    if ann_file.is_file() and wnids:
        rows = [l.split('\t') for l in _read_lines(ann_file)]
        bad = [r[0] for r in rows if len(r) < 2]
        if bad: problems.append(f'val_annotations.txt has {len(bad)} malformed lines (expected "file<TAB>wnid..."): {_some(bad)}')
        unknown = sorted({r[1] for r in rows if len(r) >= 2 and r[1] not in set(wnids)})
        if unknown: problems.append(f'val_annotations.txt labels {len(unknown)} wnids not in wnids.txt: {_some(unknown)}')
        missing = [r[0] for r in rows if len(r) >= 2 and not (root/'val'/'images'/r[0]).is_file()]
        if missing: problems.append(f'{len(missing)} val images listed in val_annotations.txt are missing: {_some(missing)}')
    if problems:
        raise DataError(f'{root} is not a valid Tiny ImageNet folder:\n' + '\n'.join(f'  - {p}' for p in problems))
    return root

class TinyImageNet:
    "Items, labels and class names of a Tiny ImageNet folder, restricted to a subset for quick runs."
    def __init__(self, root, classes=None, per_class=None, val_per_class=None, skip_bad=False):
        self.root, self.exclude = Path(root), set()
        all_wnids = _read_lines(self.root/'wnids.txt')
        self.wnids = all_wnids[:classes] if classes else all_wnids
        words = dict(l.split('\t', 1) for l in _read_lines(self.root/'words.txt'))
        self.names = {w: words[w].split(',')[0].strip() for w in self.wnids}
        keep = set(self.wnids)
        self.val_labels = {}
        counts = dict.fromkeys(self.wnids, 0)
        for fname, wnid, *_ in (l.split('\t') for l in _read_lines(self.root/'val'/'val_annotations.txt')):
            if wnid in keep and (val_per_class is None or counts[wnid] < val_per_class):
                self.val_labels[fname] = wnid
                counts[wnid] += 1
        store_attr('per_class,val_per_class')
        if skip_bad: self.exclude = find_bad_images(self.items())

    def train_files(self):
        "The first `per_class` training images of each class, in natural order."
        files = []
        for w in self.wnids:
            names = sorted(os.listdir(self.root/'train'/w/'images'), key=natural_key)
            files += [self.root/'train'/w/'images'/n for n in names[:self.per_class]]
        return [f for f in files if f not in self.exclude]

    def val_files(self):
        files = [self.root/'val'/'images'/f for f in sorted(self.val_labels, key=natural_key)]
        return [f for f in files if f not in self.exclude]

    def items(self): return self.train_files() + self.val_files()

    def label(self, path):
        "The wnid of an image path from either split."
        path = Path(path)
        return self.val_labels[path.name] if is_val(path) else path.parent.parent.name

    def __call__(self, path): return self.label(path)

def is_val(path):
    "Whether an item comes from the `val/` split (train files live in `train/<wnid>/images`)."
    return Path(path).parent.parent.name == 'val'

def load_rgb(path):
    "Open an image as RGB (2% of Tiny ImageNet is grayscale); a file that cannot be decoded is named in the error."
    try:
        with Image.open(path) as im: return im.convert('RGB')
    except (OSError, Image.DecompressionBombError) as e:
        raise DataError(f'{path}: unreadable image ({e}); replace or delete it, or pass --skip-bad-images to leave '
                        'unreadable files out') from e

def find_bad_images(files):
    "The files that cannot be decoded, found by decoding each one (with a progress bar: this reads everything)."
    from fastprogress.fastprogress import progress_bar
    bad = []
    for f in progress_bar(list(files), leave=False):
        try: load_rgb(f)
        except DataError: bad.append(Path(f))
    if bad:
        warnings.warn(f'skipping {len(bad)} unreadable image(s): {", ".join(map(str, bad[:5]))}{" ..." if len(bad) > 5 else ""}')
    return set(bad)

class PILImageRGB(PILImage):
    "An image item opened with `load_rgb`, so a corrupt file is named in the error instead of failing deep in PIL."
    @classmethod
    def create(cls, fn:Path|str|torch.Tensor|np.ndarray|bytes|Image.Image, **kwargs):
        return cls(load_rgb(fn)) if isinstance(fn, (str, Path)) else super().create(fn, **kwargs)

def image_peak(img):
    "The maximum pixel value of a PIL image's mode: 65535 for 16-bit ones, else 255."
    return 65535. if img.mode.startswith('I') else 255.

def image_to_tensor(img):
    "A PIL image (RGB, L or 16-bit) as a float CHW tensor in [0,1] and the maximum value of its mode."
    a = np.asarray(img)
    peak = 65535. if a.dtype == np.uint16 else image_peak(img)
    t = torch.from_numpy(a.astype(np.float32)).div_(peak)  # in place: one float copy of a large image, not two
    return (t.permute(2, 0, 1) if t.ndim == 3 else t[None].expand(3, -1, -1)), peak

def image_stats(files, n=2000, seed=0):
    "Per-channel mean and std of a sample of `files` in [0,1], so normalisation comes from the data itself."
    files = list(files)
    sample = random.Random(seed).sample(files, min(n, len(files)))
    s, s2, count = np.zeros(3), np.zeros(3), 0
    for f in sample:
        a = np.asarray(load_rgb(f), dtype=np.float64).reshape(-1, 3) / 255.
        s += a.sum(0); s2 += (a**2).sum(0); count += len(a)
    mean = s / count
    return mean.tolist(), np.sqrt(s2/count - mean**2).tolist()

class TrivialAugment(RandTransform):
    "torchvision's TrivialAugmentWide, one random op per image, on the training set's PIL images only."
    order, split_idx = 3, 0
    def __init__(self, p=1., **kwargs):
        super().__init__(p=p)
        self.tfm = TrivialAugmentWide(**kwargs)
    def encodes(self, x: PILImage): return type(x)(self.tfm(x))

def classification_tfms(size=64, augment=True, trivial_augment=True):
    "Item transforms: pad + random crop and flip, then TrivialAugment; the validation set only gets resized."
    tfms = [] if size == 64 else [Resize(size)]
    if augment: tfms += [CropPad(size + 2*max(1, size//16)), RandomCrop(size), FlipItem(0.5)] + ([TrivialAugment()] if trivial_augment else [])
    return tfms

def classification_dblock(tin, size=64, augment=True, stats=None, trivial_augment=True, erase=0.25):
    "A DataBlock of (image, wnid) over a `TinyImageNet` subset; erasing uses the data's own `stats`."
    erase = [RandomErase(erase, mean=stats[0], std=stats[1])] if augment and stats and erase else []
    return DataBlock(blocks=(ImageBlock(PILImageRGB), CategoryBlock(vocab=tin.wnids)), get_items=lambda _: tin.items(),
                     get_y=tin, splitter=FuncSplitter(is_val), item_tfms=classification_tfms(size, augment, trivial_augment),
                     batch_tfms=erase)

def classification_dls(data=None, classes=None, per_class=None, size=64, bs=128, augment=True, trivial_augment=True,
                       erase=0.25, num_workers=None, skip_bad=False, **kwargs):
    "DataLoaders for Tiny ImageNet classification and the data's normalisation stats."
    tin = TinyImageNet(find_tiny_imagenet(data), classes=classes, per_class=per_class, skip_bad=skip_bad)
    stats = image_stats(tin.train_files())
    dblock = classification_dblock(tin, size=size, augment=augment, stats=stats, trivial_augment=trivial_augment, erase=erase)
    if num_workers is None: num_workers = min(2, os.cpu_count() or 1)
    dls = dblock.dataloaders(tin.root, bs=bs, num_workers=num_workers, **kwargs)
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
        "Act as another split for a while: how fastai's `Learner.tta` draws training augmentations on the validation set."
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
    "`it` run in a thread `depth` items ahead: a GPU batch's Python work overlaps the last step (torch ops release the GIL)."
    it, end, pool = iter(it), object(), ThreadPoolExecutor(1)
    try:
        ahead = deque(pool.submit(next, it, end) for _ in range(depth))
        while (o := ahead.popleft().result()) is not end:
            ahead.append(pool.submit(next, it, end))
            yield o
    finally: pool.shutdown(cancel_futures=True)

class ArrayDL(TfmdDL):
    "A fastai loader over `ImageArrays` that reads each batch with one indexed read instead of item by item."
    prefetch = None  # batches made in a background thread, ahead of the step; None: on a GPU (bench/gpu_throughput.py --data)
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
    "DataLoaders over decoded arrays whose `test_dl` decodes new images the same way, so an exported learner still predicts on files."
    def test_dl(self, test_items, rm_type_tfms=None, with_labels=False, **kwargs):
        size = self.valid.dataset.x.shape[-1]
        x = decode_into(np.empty((len(test_items), 3, size, size), np.uint8), test_items, _load_any, size, progress=False)
        return self.valid.new(type(self.valid.dataset)(x, np.zeros(len(x), np.int64), 1), **kwargs)

def decoded_images(files, size=64, cache=True, progress=True):
    "`files` decoded to (n, 3, size, size) uint8: memory-mapped from the on-disk cache (built once), or in memory."
    if not cache: return decode_into(np.empty((len(files), 3, size, size), np.uint8), files, load_rgb, size, progress)
    return decoded_cache(files, load_rgb, cache_dir()/'decoded', size=size, progress=progress)

def _decoded_dls(tin, stats, dataset, tfms, size, bs, device, cache, progress):
    "DataLoaders over the decoded images of `tin`; batches reach `device` (default: the GPU if any) before `tfms`, so those run there."
    device = device or default_device()
    vocab = {w: i for i, w in enumerate(tin.wnids)}
    def loader(files, split_idx, **kwargs):
        ds = dataset(decoded_images(files, size, cache, progress), [vocab[tin.label(f)] for f in files], split_idx)
        # batches are slices of one array: worker processes would only add cost
        return ArrayDL(ds, bs=bs, after_batch=tfms, device=device, num_workers=0, **kwargs)
    dls = DecodedDataLoaders(loader(tin.train_files(), 0, shuffle=True, drop_last=True), loader(tin.val_files(), 1), device=device)
    dls.tin, dls.stats = tin, stats
    return dls

def decoded_dls(data=None, classes=None, per_class=None, size=64, bs=128, augment=True, trivial_augment=True, erase=0.25,
                device=None, skip_bad=False, cache=True, progress=True):
    "Classification DataLoaders over pre-decoded uint8 images: crop/flip, TrivialAugment and erasing per image on whole batches."
    tin = TinyImageNet(find_tiny_imagenet(data), classes=classes, per_class=per_class, skip_bad=skip_bad)
    stats = image_stats(tin.train_files())
    aug = ([BatchPadCropFlip(max(1, size//16))] + ([BatchTrivialAugment()] if trivial_augment else [])) if augment else []
    erasing = [RandomErase(erase, mean=stats[0], std=stats[1])] if augment and erase else []
    tfms = aug + [IntToFloatTensor()] + erasing  # the random ones only fire on split 0, as in a fastai DataBlock
    dls = _decoded_dls(tin, stats, ImageArrays, tfms, size, bs, device, cache, progress)
    dls.vocab = tin.wnids
    return dls

def show_batch_png(data, fname, classes=None, per_class=None, n=16):
    "Save a training batch, augmentations included, titled with class names rather than wnids."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from .files import save_figure
    dls = classification_dls(data, classes=classes, per_class=per_class, bs=n, num_workers=0)
    dls.show_batch(max_n=n, show=False)
    fig = plt.gcf()
    for ax in fig.axes: ax.set_title(dls.tin.names.get(ax.get_title(), ax.get_title()), fontsize=8)
    return save_figure(fig, fname, dpi=80, bbox_inches='tight')

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

class PairedArrays(ImageArrays):
    "Decoded images as restoration pairs: each image is the target and, once degraded, the input."
    def batch(self, idxs):
        x, _ = self.read(idxs)
        return TensorImageLR(x), TensorImage(x)

def is_tiny_imagenet(path):
    "Whether `path` is a Tiny ImageNet zip or folder rather than a plain folder of images."
    if path is None: return True
    path = Path(path)
    return path.is_file() or (_root_in(path)/'wnids.txt').exists()

def paired_dls(data=None, degradation='superres', size=64, classes=None, per_class=None, val_per_class=None, bs=64,
               erase=True, augment=True, valid_pct=0.1, num_workers=None, seed=42, skip_bad=False, **kwargs):
    "Paired DataLoaders (input degraded by `degradation`, None for none; clean target) from Tiny ImageNet or any image folder."
    from fastcore.basics import noop
    from fastai.data.transforms import RandomSplitter
    from .files import list_images
    if is_tiny_imagenet(data):
        tin = TinyImageNet(find_tiny_imagenet(data), classes=classes, per_class=per_class, val_per_class=val_per_class,
                           skip_bad=skip_bad)
        files, splitter, pad = tin.items(), FuncSplitter(is_val), size // 8 if size >= 64 else 0
    else:
        files = list_images(data)
        if skip_bad:
            bad = find_bad_images(files)
            files = [f for f in files if f not in bad]
        if len(files) < 2: raise DataError(f'{data} holds {len(files)} images; a training folder needs at least 2.')
        splitter, pad = RandomSplitter(valid_pct, seed=seed), 0
    stats = image_stats([files[i] for i in splitter(files)[0]])
    tfms = ([CropPad(size + 2*pad)] if pad else []) + [RandomCrop(size)] + ([FlipItem(0.5)] if augment else [])
    degradation = None if degradation is None else parse_degradation(degradation)
    if degradation is not None: tfms.append(Degrade(degradation))
    batch = [RandomErase(mean=stats[0], std=stats[1], types=TensorImageLR)] if erase else []
    dblock = DataBlock(blocks=(ImageBlock(PILImageLR), ImageBlock), get_items=lambda _: files, get_x=noop, get_y=noop,
                       splitter=splitter, item_tfms=tfms, batch_tfms=batch)
    if num_workers is None: num_workers = min(2, os.cpu_count() or 1)
    dls = dblock.dataloaders(data, bs=bs, num_workers=num_workers, **kwargs)
    dls.stats, dls.degradation, dls.scale = stats, degradation, 1 if degradation is None else degradation.scale
    return dls

def decoded_pairs_unsupported(data, degradation, size=64):
    "Why `decoded_paired_dls` cannot serve this data and task (None when it can)."
    if not is_tiny_imagenet(data): return f'{data} is a folder of images, and the decoded path reads Tiny ImageNet only'
    if size != 64: return f'it trains on the images at their own 64 pixels, not crops of {size}'
    if degradation is None or not parse_degradation(degradation).batchable:
        return (f'task {getattr(degradation, "spec", degradation)} has no batched form '
                f'(superres with {", ".join(BATCH_FILTERS)} filters has)')

def decoded_paired_dls(data=None, degradation='superres', size=64, classes=None, per_class=None, val_per_class=None, bs=64,
                       erase=True, augment=True, device=None, skip_bad=False, cache=True, progress=True):
    "`paired_dls` over pre-decoded Tiny ImageNet: crop/flip, degradation and erasing per image on whole batches (on the GPU there)."
    if why := decoded_pairs_unsupported(data, degradation, size):
        raise ValueError(f'no decoded paired data: {why}; use paired_dls (--pipeline datablock)')
    degradation = parse_degradation(degradation)
    tin = TinyImageNet(find_tiny_imagenet(data), classes=classes, per_class=per_class, val_per_class=val_per_class,
                       skip_bad=skip_bad)
    stats = image_stats(tin.train_files())
    crop_flip = [BatchPadCropFlip(size // 8)] if augment else []
    erasing = [RandomErase(mean=stats[0], std=stats[1], types=TensorImageLR)] if erase else []
    tfms = crop_flip + [BatchDegrade(degradation), IntToFloatTensor()] + erasing
    dls = _decoded_dls(tin, stats, PairedArrays, tfms, size, bs, device, cache, progress)
    dls.degradation, dls.scale = degradation, degradation.scale
    return dls

def sr_dls(data=None, scale=2, down='bicubic', up='bicubic', **kwargs):
    "Paired DataLoaders for super-resolution by `scale` (1: input = target, for checks)."
    return paired_dls(data, Downscale(scale, down, up) if scale > 1 else None, **kwargs)

