"""Random bad inputs, property-based (hypothesis): image files of every PIL mode and many formats, sizes down to one
pixel and out to extreme aspect ratios, EXIF orientations, odd extensions and file names, then mutated (truncated, bits
flipped, replaced by random bytes, or given an absurd declared size: decompression bombs). Each goes through the CLI
(`superres upscale`, in-process) and `upscale_image`: a correct x2 output or one clear line, never a traceback, a hang
or a partial output; with `--app`, also through a running `superres app`'s endpoint (gradio_client): what the CLI
upscales, the app upscales to the same size, and what it refuses, it refuses with one clear line. `tests/test_fuzz.py`
runs a fixed number of cases; this prints the counts of a longer run.

    python bench/fuzz.py --examples 3000 [--app]
"""
import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import struct
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

MODES = ['1', 'L', 'P', 'RGB', 'RGBA', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'I', 'I;16', 'I;16B', 'F', 'LA', 'PA',
         'RGBX']  # every mode a file can hold (La, RGBa: in memory only)
FORMATS = ['PNG', 'JPEG', 'TIFF', 'WEBP', 'GIF', 'BMP', 'ICO', 'PPM', 'TGA']
EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.webp', '.gif', '.bmp', '.PNG', '.JPG', '', '.txt', '.png.exe', '.ico']
BOMBS = [(100_000, 100_000), (20_000, 10_000), (10_000, 10_000), (65_535, 1), (1, 65_535), (0, 5)]
TIME_LIMIT = 30  # seconds per case: slower is a hang

def _encode(img, fmt):
    "`img` in `fmt`, or as TIFF (which takes nearly every mode) when `fmt` cannot store its mode."
    for f in (fmt, 'TIFF', 'PNG'):
        buf = io.BytesIO()
        try:
            img.save(buf, f)
            return buf.getvalue()
        except (OSError, ValueError, KeyError, TypeError): continue
    buf = io.BytesIO(); img.convert('RGB').save(buf, 'PNG')
    return buf.getvalue()

def _declare_size(data, w, h):
    "PNG, GIF or BMP bytes whose header claims `w`x`h` pixels (checksums fixed up, so only the size is absurd)."
    if data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR':
        ihdr = b'IHDR' + struct.pack('>II', w, h) + data[24:29]
        return data[:12] + ihdr + struct.pack('>I', zlib.crc32(ihdr)) + data[33:]
    if data[:3] == b'GIF': return data[:6] + struct.pack('<HH', min(w, 65535), min(h, 65535)) + data[10:]
    if data[:2] == b'BM': return data[:18] + struct.pack('<ii', min(w, 2**31 - 1), min(h, 2**31 - 1)) + data[26:]
    return data

@st.composite
def image_files(draw):
    "(file name, bytes): an image of a random mode, size and format, perhaps with EXIF, perhaps mutated."
    mode = draw(st.sampled_from(MODES))
    w, h = draw(st.one_of(st.tuples(st.integers(1, 40), st.integers(1, 40)),
                          st.tuples(st.just(1), st.integers(100, 700)), st.tuples(st.integers(100, 700), st.just(1))))
    need = len(Image.new(mode, (1, 1)).tobytes()) * w * h if mode not in ('1',) else ((w + 7) // 8) * h
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    img = Image.frombytes(mode, (w, h), rng.randbytes(need))
    fmt = draw(st.sampled_from(FORMATS))
    if draw(st.booleans()) and fmt in ('JPEG', 'PNG', 'TIFF', 'WEBP'):
        exif = Image.Exif(); exif[0x0112] = draw(st.integers(0, 9))  # orientation, valid or not
        buf = io.BytesIO()
        try:
            img.save(buf, fmt, exif=exif.tobytes())
            data = buf.getvalue()
        except (OSError, ValueError, KeyError, TypeError): data = _encode(img, fmt)
    else: data = _encode(img, fmt)
    mutation = draw(st.sampled_from(['none', 'none', 'truncate', 'flip', 'garbage', 'bomb']))
    if mutation == 'truncate': data = data[:draw(st.integers(0, max(0, len(data) - 1)))]
    elif mutation == 'flip':
        b = bytearray(data)
        for _ in range(draw(st.integers(1, 8))): b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        data = bytes(b)
    elif mutation == 'garbage': data = rng.randbytes(draw(st.integers(0, 600)))
    elif mutation == 'bomb': data = _declare_size(data, *draw(st.sampled_from(BOMBS)))
    name = draw(st.text(st.characters(blacklist_categories=('Cs', 'Cc'), blacklist_characters='/\\'),
                        min_size=1, max_size=30).filter(lambda s: s.strip('.') and not s.startswith('-')))
    return name + draw(st.sampled_from(EXTENSIONS)), data, mutation

class Hang(Exception): pass

@contextlib.contextmanager
def time_limit(seconds=TIME_LIMIT):
    def alarm(*_): raise Hang(f'no answer in {seconds} s')
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try: yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

def _upright_size(path):
    with Image.open(path) as im: return ImageOps.exif_transpose(im).size

def check_case(model, model_file, name, data, folder, counts, app=None):
    "Run one file through the CLI, `upscale_image` (and `app`) in a fresh folder; assert the promise; count outcomes."
    case = Path(tempfile.mkdtemp(dir=folder))
    try: _check(model, model_file, name, data, case, counts, app)
    finally: shutil.rmtree(case)

def _check_app(client, src, cli_wrote, counts):
    "The file through the running app's endpoint: what the CLI upscaled, at the same size; else a result or one line."
    from gradio_client import handle_file
    try:
        with time_limit():
            _, result, status = client.predict(handle_file(str(src)), 'superres', 2, 'right', 0.25,
                                               api_name='/restore')
    except Hang: raise
    except Exception as e:  # gradio_client's AppError carries the app's message; a bug arrives without one
        message = str(e).strip()
        assert message and '\n' not in message and 'verbose error reporting' not in message, repr(e)
        assert not cli_wrote, f'the CLI upscaled it; the app said {message}'
        counts['app: refused'] += 1
        return
    w, h = _upright_size(src)
    with Image.open(result) as im: assert im.size == (2 * w, 2 * h), (im.size, w, h, status)
    counts['app: upscaled'] += 1

def _check(model, model_file, name, data, folder, counts, app=None):
    from superres.cli import main
    from superres.errors import SuperresError
    from superres.inference import upscale_image
    src, out = Path(folder)/'in'/name, Path(folder)/'out'
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    stdout, stderr = io.StringIO(), io.StringIO()
    with time_limit(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(['upscale', str(src), '-o', str(out), '--model', str(model_file), '--precision', 'fp32'])
    err = stderr.getvalue().strip().splitlines()
    written = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if rc == 0:
        assert written == [name] and not err, (written, err)
        w, h = _upright_size(src)
        with Image.open(out/name) as im:
            im.load()
            assert im.size == (2 * w, 2 * h), (im.size, w, h)
        counts['written'] += 1
    else:
        assert rc in (1, 2) and len(err) == 1 and 'Traceback' not in err[0], (rc, err)
        assert written == [], written  # nothing partial, nothing half-written
        counts['refused'] += 1
        counts[f'refused: {err[0].split("FAILED: ")[-1].split(":")[0].split("(")[0].strip()[:50]}'] += 1
    if app is not None: _check_app(app, src, rc == 0, counts)
    # the library function, on whatever PIL can open
    try:
        with time_limit(), Image.open(src) as im:
            im.load()
            img = im.copy()
    except (OSError, Image.DecompressionBombError, ValueError, SyntaxError, Hang): return
    if img.width * img.height > 4_000_000: return  # a bomb the CLI refused; the library upscales what it is handed
    with time_limit():
        try:
            up, _ = upscale_image(model, img)
            assert up.size == (2 * ImageOps.exif_transpose(img).size[0], 2 * ImageOps.exif_transpose(img).size[1])
            counts['library: upscaled'] += 1
        except (SuperresError, OSError) as e:
            assert str(e).strip() and '\n' not in str(e).strip(), repr(e)
            counts['library: refused'] += 1

def fuzz_model(folder):
    "A small untrained x2 restorer and its weights file: the fuzz is about files, not about what the model learned."
    import torch

    from superres.hub import save_model
    from superres.models import restorer
    torch.manual_seed(0)
    model = restorer().eval()
    return model, save_model(model, Path(folder)/'model.pth')

def run(examples, seed=0, app=False):
    "The property over `examples` cases (with `app`, also through a served app): counts of what happened."
    # a broken promise raises, shrunk by hypothesis
    counts, folder = Counter(), tempfile.mkdtemp(prefix='superres-fuzz-')
    model, model_file = fuzz_model(folder)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck))
    @given(image_files())
    def prop(case):
        name, data, mutation = case
        counts['cases'] += 1
        counts[f'mutation: {mutation}'] += 1
        check_case(model, model_file, name, data, folder, counts, client)
    np.seterr(all='ignore')
    with contextlib.ExitStack() as stack:
        client = None
        if app:
            from app_load import serve
            from gradio_client import Client
            url, *_ = stack.enter_context(serve(Path(folder)/'app.log', max_pixels=4_000_000, model=model_file))
            client = Client(url, verbose=False, download_files=tempfile.mkdtemp(dir=folder), analytics_enabled=False)
        prop()
    return counts

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--examples', type=int, default=3000)
    p.add_argument('--app', action='store_true', help="also through a served app's endpoint")
    a = p.parse_args()
    os.environ.setdefault('SUPERRES_CACHE', tempfile.mkdtemp())
    counts = run(a.examples, app=a.app)
    print(json.dumps(dict(sorted(counts.items()), crashes=0), indent=1))

if __name__ == '__main__': main()
