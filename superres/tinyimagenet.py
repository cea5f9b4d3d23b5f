"""Tiny ImageNet: finding it (or downloading it), validating its layout, and listing its items and labels."""
import hashlib
import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

from fastcore.basics import store_attr

from .errors import DataError
from .files import cache_dir, natural_key
from .images import load_rgb

__all__ = ['TINY_IMAGENET_URL', 'find_tiny_imagenet', 'validate_tiny_imagenet', 'TinyImageNet', 'is_val',
           'is_tiny_imagenet', 'find_bad_images']

TINY_IMAGENET_URL = 'http://cs231n.stanford.edu/tiny-imagenet-200.zip'
DIR_NAME = 'tiny-imagenet-200'

def _zip_key(zip_path):
    "Identify a zip by name, size and mtime so an edited or replaced zip is extracted afresh."
    st = zip_path.stat()
    return hashlib.sha1(f'{zip_path.resolve()}|{st.st_size}|{st.st_mtime_ns}'.encode()).hexdigest()[:12]

def _extract_zip(zip_path):
    """Extract `zip_path` once into the cache; an interrupted extraction is never mistaken for a finished one, and
    processes started together on a fresh cache (notebooks, distributed ranks) each end up with the one copy."""
    dest = cache_dir()/f'{zip_path.stem}-{_zip_key(zip_path)}'
    if dest.is_dir(): return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{dest.name}.', dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(zip_path) as z: z.extractall(tmp)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise DataError(f'{zip_path} is not a complete zip file ({e}). Download it again.') from e
        try: os.replace(tmp, dest)
        except OSError:  # another process extracted the same zip meanwhile and renamed first: its copy is used
            if not dest.is_dir(): raise
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
                        f'`data` (the zip or its extracted folder), or set SUPERRES_DATA.') from e
    os.replace(tmp, dest)
    return dest

def _resolve(path):
    "A folder or zip given by the user, as a validated root folder."
    path = Path(path).expanduser()
    if not path.exists(): raise DataError(f'{path} does not exist. Pass the Tiny ImageNet zip or its extracted folder.')
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DataError(f'{path} is not a zip file, or only part of one (an interrupted download?). '
                            'Download it again, or pass the extracted folder.')
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
    if not download: raise DataError('Tiny ImageNet not found: pass `data` (the zip or its folder) '
                                     'or set SUPERRES_DATA.')
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
    no_train = [w for w in wnids
                if not (root/'train'/w/'images').is_dir() or not any((root/'train'/w/'images').iterdir())]
    if no_train: problems.append(f'no training images for {len(no_train)} classes (train/<wnid>/images): '
                                 f'{_some(no_train)}')
    if words_file.is_file() and wnids:
        known = {l.split('\t', 1)[0] for l in _read_lines(words_file)}
        unnamed = [w for w in wnids if w not in known]
        if unnamed: problems.append(f'words.txt has no name for {len(unnamed)} classes: {_some(unnamed)}')
    if ann_file.is_file() and wnids:
        rows = [l.split('\t') for l in _read_lines(ann_file)]
        bad = [r[0] for r in rows if len(r) < 2]
        if bad: problems.append(f'val_annotations.txt has {len(bad)} malformed lines '
                                f'(expected "file<TAB>wnid..."): {_some(bad)}')
        unknown = sorted({r[1] for r in rows if len(r) >= 2 and r[1] not in set(wnids)})
        if unknown: problems.append(f'val_annotations.txt labels {len(unknown)} wnids not in wnids.txt: '
                                    f'{_some(unknown)}')
        missing = [r[0] for r in rows if len(r) >= 2 and not (root/'val'/'images'/r[0]).is_file()]
        if missing: problems.append(f'{len(missing)} val images listed in val_annotations.txt are missing: '
                                    f'{_some(missing)}')
    if problems:
        raise DataError(f'{root} is not a valid Tiny ImageNet folder:\n' + '\n'.join(f'  - {p}' for p in problems))
    return root

class TinyImageNet:
    "Items, labels, boxes and class names of a Tiny ImageNet folder, restricted to a subset for quick runs."
    def __init__(self, root, classes=None, per_class=None, val_per_class=None, skip_bad=False):
        self.root, self.exclude = Path(root), set()
        all_wnids = _read_lines(self.root/'wnids.txt')
        self.wnids = all_wnids[:classes] if classes else all_wnids
        words = dict(l.split('\t', 1) for l in _read_lines(self.root/'words.txt'))
        self.names = {w: words[w].split(',')[0].strip() for w in self.wnids}
        keep = set(self.wnids)
        self.val_labels, self._boxes = {}, {}  # file name -> its box as listed
        counts = dict.fromkeys(self.wnids, 0)
        for fname, wnid, *box in (l.split('\t') for l in _read_lines(self.root/'val'/'val_annotations.txt')):
            if wnid in keep and (val_per_class is None or counts[wnid] < val_per_class):
                self.val_labels[fname] = wnid
                counts[wnid] += 1
                if len(box) == 4: self._boxes[fname] = box
        store_attr('per_class,val_per_class')
        self._boxes_read = set()  # classes whose train/<wnid>/<wnid>_boxes.txt is read into `_boxes`
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

    def box(self, path):
        "The box of the main object in an image of either split, (x0, y0, x1, y1) with both ends included."
        name = os.path.basename(path)  # unique over both splits; paths would cost more than the look-up
        if name not in self._boxes and not is_val(path): self._read_boxes(self.label(path))
        if name not in self._boxes:
            wnid = None if is_val(path) else self.label(path)
            where = 'val/val_annotations.txt' if wnid is None else f'train/{wnid}/{wnid}_boxes.txt'
            raise DataError(f'{path}: no box for it in {where}; segmentation needs Tiny ImageNet\'s boxes')
        try: return tuple(int(v) for v in self._boxes[name])
        except ValueError: raise DataError(f'{path}: its box {self._boxes[name]} is not four whole numbers') from None

    def _read_boxes(self, wnid):
        "The boxes of a class's training images (train/<wnid>/<wnid>_boxes.txt), read once."
        if wnid in self._boxes_read: return
        self._boxes_read.add(wnid)
        listed = self.root/'train'/wnid/f'{wnid}_boxes.txt'
        for fname, *box in (l.split('\t') for l in (_read_lines(listed) if listed.is_file() else [])):
            if len(box) == 4: self._boxes[fname] = box

def is_val(path):
    "Whether an item comes from the `val/` split (train files live in `train/<wnid>/images`)."
    return Path(path).parent.parent.name == 'val'

def find_bad_images(files):
    "The files that cannot be decoded, found by decoding each one (with a progress bar: this reads everything)."
    from fastprogress.fastprogress import progress_bar
    bad = []
    for f in progress_bar(list(files), leave=False):
        try: load_rgb(f)
        except DataError: bad.append(Path(f))
    if bad:
        warnings.warn(f'skipping {len(bad)} unreadable image(s): '
                      f'{", ".join(map(str, bad[:5]))}{" ..." if len(bad) > 5 else ""}')
    return set(bad)

def is_tiny_imagenet(path):
    "Whether `path` is a Tiny ImageNet zip or folder rather than a plain folder of images."
    path = Path(path)
    return path.is_file() or (_root_in(path)/'wnids.txt').exists()

