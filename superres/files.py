"""Files superres writes: every write goes to a temporary file first, then is renamed into place."""
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ['cache_dir', 'atomic_path', 'atomic_write_text', 'PARTIAL', 'partial_files', 'image_extensions',
           'natural_key', 'list_images']

def cache_dir():
    "Where superres keeps extracted data and caches: `SUPERRES_CACHE`, else `~/.cache/superres`."
    return Path(os.environ.get('SUPERRES_CACHE', Path.home()/'.cache'/'superres'))

image_extensions = {'.jpg', '.jpeg', '.png', '.bmp', '.gif', '.tif', '.tiff', '.webp'}

PARTIAL = '.partial-'  # in the name of a file being written: `.{final name}.partial-{random}{suffix}`

@contextmanager
def atomic_path(path, suffix=None):
    "A temporary path beside `path`, renamed onto it only if the block succeeds: a crash never leaves a truncated file."
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}{PARTIAL}', suffix=suffix or path.suffix or '.tmp', dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0); os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; give them the permissions a plain write would
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp): os.unlink(tmp)

def atomic_write_text(path, text):
    "Write `text` to `path` atomically."
    with atomic_path(path) as tmp: Path(tmp).write_text(text)
    return Path(path)

def partial_files(folder):
    "Final name -> the partial files a killed write left for it in `folder` (`atomic_path` cleans up unless killed)."
    found = {}
    with os.scandir(folder) as entries:
        for e in entries:
            if e.name.startswith('.') and PARTIAL in e.name and e.is_file():
                found.setdefault(e.name[1:].rpartition(PARTIAL)[0], []).append(Path(e.path))
    return found

def natural_key(name):
    "Sort `img_10` after `img_9`, as a person numbering files expects."
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', name)]

def list_images(folder, recurse=True):
    "Image files under `folder` in natural order."
    folder = Path(folder)
    found = folder.rglob('*') if recurse else folder.iterdir()
    return sorted((p for p in found if p.suffix.lower() in image_extensions and p.is_file()),
                  key=lambda p: natural_key(str(p.relative_to(folder))))
