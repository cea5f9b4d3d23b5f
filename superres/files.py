"""Files superres writes: every write goes to a temporary file first, then is renamed into place."""
import errno
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ['cache_dir', 'output_folder', 'atomic_path', 'atomic_write_text', 'PARTIAL', 'partial_files',
           'image_extensions', 'natural_key', 'list_images', 'printable']

def cache_dir():
    "Where superres keeps extracted data and caches: `SUPERRES_CACHE`, else `~/.cache/superres`."
    return Path(os.environ.get('SUPERRES_CACHE', Path.home()/'.cache'/'superres'))

image_extensions = {'.jpg', '.jpeg', '.png', '.bmp', '.gif', '.tif', '.tiff', '.webp'}

PARTIAL = '.partial-'  # in the name of a file being written: `.{final name}.partial-{random}{suffix}`

def _file_in_the_way(folder):
    "The file that keeps `folder` from being made a folder (itself or the nearest parent that exists), else None."
    there = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    return None if there.is_dir() else there

def output_folder(folder, inputs=()):
    "The output folder of every command that writes files, refused in one line where it cannot be one or is an input."
    from .errors import UsageError
    folder = Path(folder)
    there = _file_in_the_way(folder)
    if there is not None:
        where = 'is a file' if there == folder else f'is below the file {there}'
        raise UsageError(f'the output folder {folder} {where}: pass another `output`')
    out = folder.resolve()
    for p in map(Path, inputs):
        if p.is_dir() and (p.resolve() == out or out in p.resolve().parents):
            what = 'is' if p.resolve() == out else 'holds'
            raise UsageError(f'the output folder {folder} {what} the input folder {p}: pass another `output`, outside '
                             'it (inputs are never overwritten)')
    return folder

def _no_clobber(tmp, path):
    "Rename `tmp` to `path` unless a file is there by now (FileExistsError): linked, so the check is the rename itself."
    try: os.link(tmp, path)
    except FileExistsError: raise
    except OSError:  # a file system without hard links: checked just before instead
        if os.path.lexists(path): raise FileExistsError(errno.EEXIST, 'File exists', str(path)) from None
        os.replace(tmp, path)

@contextmanager
def atomic_path(path,  # the file to write
                suffix=None,  # the temporary file's suffix, which writers may read the format from (None: `path`'s)
                replace=True):  # overwrite a file at `path` (off: keep one that appeared meanwhile, FileExistsError)
    """A temporary path beside `path`, renamed onto it only if the block succeeds: a crash never leaves a truncated
    file; with `replace` off, a file that appeared at `path` meanwhile is kept (FileExistsError)."""
    from .errors import UsageError
    path = Path(path)
    there = _file_in_the_way(path.parent)
    if there is not None or path.is_dir():  # every file written meets the output folders' rule
        raise UsageError(f'cannot write {path}: {there or path} is a {"folder" if there is None else "file"}; '
                         'pass another path')
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}{PARTIAL}', suffix=suffix or path.suffix or '.tmp', dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0); os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; give them the permissions a plain write would
        if replace: os.replace(tmp, path)
        else: _no_clobber(tmp, path)
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

def printable(text):
    "`text` with control characters (newlines, escape bytes, undecodable bytes) escaped: a report line stays one line."
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
