"""Random bad inputs, property-based (hypothesis), through every command that reads images or model files.

Image files of every PIL mode and many formats, sizes down to one pixel and out to extreme aspect ratios, EXIF
orientations, odd extensions and file names, then mutated (truncated, bits flipped, replaced by random bytes, or given
an absurd declared size: decompression bombs), go through `upscale` (the CLI in-process and `upscale_image`; with
`--app`, also a running `superres app`'s endpoint), `restore`, `degrade`, `evaluate`, `fid` and `classify predict`.
Model files, weights-only `.pth` and ONNX, generated and mutated (absurd or NaN config values, NaN or misshapen
weights, checksums kept or dropped, hostile ONNX graphs, garbled bytes), go through `upscale --model` and `export`.
Each case: a correct output (checked: its size, readable) or one clear line and a non-zero exit, never a traceback, a
hang or a partial output. `tests/test_fuzz.py` runs a fixed number of cases and stops at the first broken promise;
`bench/fuzz.py` runs this module's `run` for longer, keeping going, and prints the counts per command.
"""
import contextlib
import io
import json
import random
import re
import shutil
import signal
import struct
import tempfile
import traceback
import zlib
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

MODES = ['1', 'L', 'P', 'RGB', 'RGBA', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'I', 'I;16', 'I;16B', 'F', 'LA', 'PA',
         'RGBX']  # every mode a file can hold (La, RGBa: in memory only)
FORMATS = ['PNG', 'JPEG', 'TIFF', 'WEBP', 'GIF', 'BMP', 'ICO', 'PPM', 'TGA']
EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.webp', '.gif', '.bmp', '.PNG', '.JPG', '', '.txt', '.png.exe', '.ico']
BOMBS = [(100_000, 100_000), (20_000, 10_000), (10_000, 10_000), (65_535, 1), (1, 65_535), (0, 5)]
TIME_LIMIT = 30  # CPU seconds per case: more is a hang (CPU time, so a busy machine does not fake one)
WALL_LIMIT = 600  # seconds of wall-clock time per case: a case blocked without using CPU

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
def time_limit(seconds=TIME_LIMIT, wall=WALL_LIMIT):
    "Raise Hang in the block past `seconds` of this process's CPU time or `wall` seconds of waiting."
    def alarm(signum, _): raise Hang(f'no answer in {seconds} CPU s' if signum == signal.SIGPROF else
                                     f'no answer in {wall} s')
    old = {sig: signal.signal(sig, alarm) for sig in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, wall)
    try: yield
    finally:
        for timer in (signal.ITIMER_PROF, signal.ITIMER_REAL): signal.setitimer(timer, 0)
        for sig, handler in old.items(): signal.signal(sig, handler)

def _is_hang(e):
    "Whether `e` is a Hang or was raised because of one (torch's exporter wraps what interrupts it)."
    for _ in range(100):  # a chain, bounded: chains can loop
        if e is None or isinstance(e, Hang): return e is not None
        e = e.__cause__ or e.__context__
    return False

def _upright_size(path):
    with Image.open(path) as im: return ImageOps.exif_transpose(im).size

IMAGE_COMMANDS = ('upscale', 'restore', 'degrade', 'evaluate', 'fid', 'classify predict')
MODEL_COMMANDS = ('model: upscale', 'model: export')
COMMANDS = IMAGE_COMMANDS + MODEL_COMMANDS

class Models(NamedTuple):
    "What every case shares: small untrained models, their files, and the bytes that model files are mutated from."
    model: object  # an x2 restorer, and its weights file
    model_file: Path
    task_file: Path  # a restorer trained (so it says) for jpeg, at scale 1: `restore`
    clf_file: Path  # a classifier with its own input contract: `fid`
    saved: dict  # a small sr_resnet as `save_model` stores it: what `.pth` files are mutated from
    onnx: bytes | None  # its ONNX export, where onnx is installed
    good: Path  # a folder of two good images: `fid`'s other set, and the input of model-file cases

def fuzz_models(folder):
    "Small untrained models and their files: the fuzz is about files, not about what a model learned."
    import torch

    from superres.card import update_config
    from superres.degradations import parse_degradation
    from superres.hub import save_model
    from superres.models import classifier, restorer
    folder = Path(folder)
    torch.manual_seed(0)
    model = restorer().eval()
    task = update_config(restorer().eval(), task=parse_degradation('jpeg').spec, scale=1)
    small = restorer('sr_resnet', nf=8, n_blocks=1).eval()
    save_model(small, folder/'small.pth')
    saved = torch.load(folder/'small.pth', weights_only=True)
    try:
        from superres.export import export_onnx
        onnx = export_onnx(small, folder/'small.onnx').read_bytes()
    except ImportError: onnx = None
    good = folder/'good'
    good.mkdir()
    for k in range(2):
        rng = np.random.default_rng(k)
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(good/f'good_{k}.png')
    return Models(model, save_model(model, folder/'model.pth'), save_model(task, folder/'task.pth'),
                  save_model(classifier('cpu_small', n_out=5).eval(), folder/'clf.pth'), saved, onnx, good)

def _cli(*args):
    "`superres ARGS` in this process within the time limit: exit status, stdout, stderr's lines but notes."
    from superres.cli import main
    stdout, stderr = io.StringIO(), io.StringIO()
    with time_limit(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code  # the parser's refusals
    err = [line for line in stderr.getvalue().strip().splitlines() if not line.startswith('superres: note:')]
    return rc, stdout.getvalue(), err

def _refused(rc, err, *nothing_in):
    "A refusal keeps the promise: one line, no traceback, a non-zero exit, and nothing (partial) written."
    assert rc in (1, 2) and len(err) == 1 and 'Traceback' not in err[0], (rc, err)
    for folder in nothing_in:
        written = sorted(p.name for p in Path(folder).rglob('*')) if Path(folder).exists() else []
        assert written == [], written
    return 'refused'

def _written_image(path, size):
    with Image.open(path) as im:
        im.load()
        assert im.size == size, (im.size, size)
    return 'written'

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

def _upscale(m, src, out, counts, app=None):
    "`upscale` (the CLI, the library, the app): a x2 output or one line."
    from superres.errors import SuperresError
    from superres.inference import upscale_image
    rc, _, err = _cli('upscale', src, '-o', out, '--model', m.model_file, '--precision', 'fp32')
    if rc == 0:
        assert not err and [p.name for p in out.iterdir()] == [src.name], err
        w, h = _upright_size(src)
        outcome = _written_image(out/src.name, (2 * w, 2 * h))
    else:
        outcome = _refused(rc, err, out)
        counts[f'refused: {err[0].split("FAILED: ")[-1].split(":")[0].split("(")[0].strip()[:50]}'] += 1
    if app is not None: _check_app(app, src, rc == 0, counts)
    try:  # the library function, on whatever PIL can open
        with time_limit(), Image.open(src) as im:
            im.load()
            img = im.copy()
    except (OSError, Image.DecompressionBombError, ValueError, SyntaxError, Hang): return outcome
    if img.width * img.height > 4_000_000: return outcome  # a bomb the CLI refused; the library takes what it is handed
    with time_limit():
        try:
            up, _ = upscale_image(m.model, img)
            assert up.size == (2 * ImageOps.exif_transpose(img).size[0], 2 * ImageOps.exif_transpose(img).size[1])
            counts['library: upscaled'] += 1
        except (SuperresError, OSError) as e:
            assert str(e).strip() and '\n' not in str(e).strip(), repr(e)
            counts['library: refused'] += 1
    return outcome

def _same_size(command, args):
    "A command writing one output of its input's size into `out` (restore by a jpeg model, degrade by jpeg)."
    def check(m, src, out, counts, app=None):
        rc, _, err = _cli(command, src, '-o', out, *args(m))
        if rc != 0: return _refused(rc, err, out)
        return _written_image(out/src.name, _upright_size(src))
    return check

def _nan(text):
    "Whether a report prints a NaN (as a word: a banana is a class name)."
    return re.search(r'\bnan\b', text.lower()) is not None

def _evaluate(m, src, out, counts, app=None):
    "This image beside a good one scored (a table without nan), or left out in one line while the good one is scored."
    from superres.files import list_images
    shutil.copy(m.good/'good_0.png', src.parent/'zz_good.png')
    rc, stdout, err = _cli('evaluate', '--hr-dir', src.parent, '--model', 'none', '--json', out.with_suffix('.json'))
    report = json.loads(out.with_suffix('.json').read_text())
    assert not _nan(stdout), stdout
    if rc == 0:
        assert not err and len(report['images']) == len(list_images(src.parent)), (err, report['images'])
        return 'written'
    assert 'SKIPPED' in err[0] and len(report['images']) == 1, (err, report['images'])  # the good one still scored
    return _refused(rc, err)

def _fid(m, src, out, counts, app=None):
    "Two good images against this one and a good one: finite distances, or one line."
    b = src.parent
    shutil.copy(m.good/'good_0.png', b/'zz_good.png')
    rc, stdout, err = _cli('fid', m.good, b, '--classifier', m.clf_file)
    if rc != 0: return _refused(rc, err)
    assert not err and stdout.startswith('FID') and not _nan(stdout), (err, stdout)
    return 'written'

def _classify(m, src, out, counts, app=None):
    "The shipped classifier's top 5 of this image, or one line."
    rc, stdout, err = _cli('classify', 'predict', src)
    if rc != 0: return _refused(rc, err)
    assert not err and len(stdout.strip().splitlines()) == 6 and not _nan(stdout), (err, stdout)
    return 'written'

HOSTILE_VALUES = [10**9, -1, 0, float('nan'), float('inf'), 'x', '64', None, [], {}, [1] * 100, 2.5, True, 1e308,
                  'sr_resnet', 'classifier', 'jpeg', 4, 3]

def _torch_bytes(obj):
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()

def _hostile_graph(kind, config):
    "ONNX graphs that lie: an identity claiming x2, a fixed reshape no input fits, one output channel."
    from onnx import TensorProto, helper
    inits, nodes = [], {
        'identity': [helper.make_node('Identity', ['image'], ['output'])],
        'reshape': [helper.make_node('Reshape', ['image', 'shape'], ['output'])],
        'one channel': [helper.make_node('Slice', ['image', 'starts', 'ends', 'axes'], ['output'])],
    }[kind]
    if kind == 'reshape': inits = [helper.make_tensor('shape', TensorProto.INT64, [4], [1, 3, 1000, 1000])]
    if kind == 'one channel':
        inits = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (('starts', 0), ('ends', 1),
                                                                                ('axes', 1))]
    graph = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('image', TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info('output', TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    helper.set_model_props(proto, {'superres_config': json.dumps(config)})
    return proto.SerializeToString()

def _mutate_bytes(draw, data, rng):
    how = draw(st.sampled_from(['truncate', 'flip', 'empty', 'garbage']))
    if how == 'truncate': return data[:draw(st.integers(0, max(0, len(data) - 1)))], how
    if how == 'flip':
        b = bytearray(data)
        for _ in range(draw(st.integers(1, 16))): b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b), how
    return (b'' if how == 'empty' else rng.randbytes(draw(st.integers(1, 2000)))), how

@st.composite
def model_files(draw, saved, onnx):
    "(file name, bytes, mutation): a small model as `.pth` or ONNX, perhaps with a hostile config, weights or bytes."
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    fmt = draw(st.sampled_from(['pth', 'pth', 'onnx'] if onnx is not None else ['pth']))
    mutation = draw(st.sampled_from(['none', 'config', 'config', 'weights', 'bytes'] + (['graph'] if fmt == 'onnx'
                                                                                         else [])))
    config = dict(saved['config'])
    if mutation == 'config':
        for _ in range(draw(st.integers(1, 3))):
            config[draw(st.sampled_from(sorted(config) + ['nfs', 'kind', 'extra']))] = draw(
                st.sampled_from(HOSTILE_VALUES))
    if fmt == 'pth':
        import torch
        state = dict(saved['state_dict'])
        if mutation == 'weights':
            key = draw(st.sampled_from(sorted(state)))
            how = draw(st.sampled_from(['nan', 'inf', 'shape', 'drop', 'extra', 'huge']))
            if how in ('nan', 'inf'): state[key] = torch.full_like(state[key], float(how))
            elif how == 'shape': state[key] = torch.zeros(draw(st.integers(0, 5)))
            elif how == 'drop': del state[key]
            elif how == 'extra': state['extra.weight'] = torch.zeros(3)
            else: state[key] = state[key] * 1e30
        obj = {'config': config, 'state_dict': state}
        if draw(st.booleans()):  # the checksum is optional: kept where it still matches, or stale
            from superres.hub import weights_digest
            obj['sha256'] = weights_digest(state) if draw(st.booleans()) else saved['sha256']
        data = _torch_bytes(obj)
    elif mutation == 'graph':
        data = _hostile_graph(draw(st.sampled_from(['identity', 'reshape', 'one channel'])), config)
    else:
        import onnx as onnx_lib
        proto = onnx_lib.load_from_string(onnx)
        if mutation == 'config':
            props = {p.key: p.value for p in proto.metadata_props}
            props['superres_config'] = json.dumps(config)
            if draw(st.booleans()): props.pop('superres_sha256')
            del proto.metadata_props[:]
            onnx_lib.helper.set_model_props(proto, props)
        data = proto.SerializeToString()
    if mutation == 'bytes': data, how = _mutate_bytes(draw, data, rng)
    return f'model.{fmt}', data, f'{fmt} {mutation}'

def _model_upscale(m, src, out, counts, app=None):
    "Upscale a good image by this model file: an output of a whole-number scale of it, or one line."
    img = m.good/'good_0.png'
    rc, _, err = _cli('upscale', img, '-o', out, '--model', src, '--precision', 'fp32', '--backend', 'torch')
    if rc != 0: return _refused(rc, err, out)
    assert not err, err
    (w, h), (ow, oh) = _upright_size(img), _upright_size(out/img.name)
    assert ow % w == 0 and ow // w == oh // h and oh % h == 0, ((w, h), (ow, oh))
    return 'written'

def _model_export(m, src, out, counts, app=None):
    "Export this model file to ONNX: a file ONNX Runtime loads, or one line and no file."
    from superres.export import load_onnx
    dest = out/'exported.onnx'
    rc, _, err = _cli('export', src, '--onnx', dest)
    if rc != 0: return _refused(rc, err, out)
    load_onnx(dest)
    return 'written'

CHECKS = {'upscale': _upscale, 'restore': _same_size('restore', lambda m: ['--model', m.task_file, '--backend', 'torch',
                                                                          '--precision', 'fp32']),
          'degrade': _same_size('degrade', lambda m: ['--task', 'jpeg']), 'evaluate': _evaluate, 'fid': _fid,
          'classify predict': _classify, 'model: upscale': _model_upscale, 'model: export': _model_export}

def check_case(command, m, name, data, folder, counts, app=None, keep_going=False):
    """One file through `command` in a fresh folder: count its outcome; a broken promise raises, or with `keep_going`
    is counted as a crash (a hang: past the time limit) and the run goes on."""
    case = Path(tempfile.mkdtemp(dir=folder))
    src, out = case/'in'/name, case/'out'
    src.parent.mkdir()
    src.write_bytes(data)
    try:
        outcome = CHECKS[command](m, src, out, counts, app if command == 'upscale' else None)
        counts[outcome] += 1
        counts[f'{command}: {outcome}'] += 1
    except Exception as e:
        if not keep_going: raise
        kind = 'hang' if _is_hang(e) else 'crash'
        counts[f'{kind}es' if kind == 'crash' else 'hangs'] += 1
        counts[f'{command}: {kind}'] += 1
        if counts[f'{command}: {kind}'] <= 3:  # the first few, to reproduce
            print(f'{command}: {kind} on {name!r}: {"".join(traceback.format_exception_only(e)).strip()[:300]}')
    finally: shutil.rmtree(case)

def run(examples, seed=0, app=False, commands=('upscale',), keep_going=False):
    """The property over `examples` cases, each through one of `commands` (with `app`, upscale also through a served
    app): counts of what happened; a broken promise raises (shrunk by hypothesis) unless `keep_going`."""
    counts, folder = Counter(), tempfile.mkdtemp(prefix='superres-fuzz-')
    m = fuzz_models(folder)
    files = {c: model_files(m.saved, m.onnx) if c in MODEL_COMMANDS else image_files() for c in commands}
    cases = st.sampled_from(list(commands)).flatmap(lambda c: st.tuples(st.just(c), files[c]))  # commands alike
    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck))
    @given(cases)
    def prop(case):
        command, (name, data, mutation) = case
        counts['cases'] += 1
        counts[f'mutation: {mutation}'] += 1
        check_case(command, m, name, data, folder, counts, client, keep_going)
    np.seterr(all='ignore')
    with contextlib.ExitStack() as stack:
        client = None
        if app:
            from app_driving import serve
            from gradio_client import Client
            url, *_ = stack.enter_context(serve(Path(folder)/'app.log', max_pixels=4_000_000, model=m.model_file))
            client = Client(url, verbose=False, download_files=tempfile.mkdtemp(dir=folder), analytics_enabled=False)
        prop()
    shutil.rmtree(folder, ignore_errors=True)
    return counts

def per_command(counts):
    "written / refused (one line) / crashes / hangs for each command that ran."
    return {c: {k: counts[f'{c}: {k}'] for k in ('written', 'refused', 'crash', 'hang')}
            for c in COMMANDS if any(counts[f'{c}: {k}'] for k in ('written', 'refused', 'crash', 'hang'))}
