"""Bad inputs never crash a run, user errors are one line, and model files never run hidden code."""
import io, pickle, subprocess, sys

import numpy as np
import pytest
import torch
from PIL import Image

from superres.inference import load_any, load_classifier, load_restorer
from superres.learner import save_model
from superres.models import classifier, restorer

def run(*args): return subprocess.run([sys.executable, '-m', 'superres', *map(str, args)], capture_output=True, text=True)

def noise(w, h, seed=0): return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

@pytest.fixture(scope='module')
def sr_model(tmp_path_factory):
    f = tmp_path_factory.mktemp('model')/'model.pth'
    save_model(restorer().eval(), f)
    return f

def jpeg_bytes(img):
    buf = io.BytesIO(); img.save(buf, 'JPEG', quality=90)
    return buf.getvalue()

def test_folder_run_reports_each_bad_file_and_writes_the_good_ones(sr_model, tmp_path):
    src = tmp_path/'in'; src.mkdir()
    noise(20, 12).save(src/'good.png')
    noise(9, 7).save(src/'unicode café 画像 with spaces.jpg')
    noise(1, 1).save(src/'one.png')
    noise(3, 2).save(src/'three_by_two.png')
    frames = [Image.new('RGB', (8, 6), c) for c in ('red', 'green', 'blue')]
    frames[0].save(src/'anim.gif', save_all=True, append_images=frames[1:])
    (src/'zero.jpg').write_bytes(b'')
    (src/'text.jpg').write_text('this is not an image\n')
    full = jpeg_bytes(noise(40, 30))
    (src/'truncated.jpg').write_bytes(full[:len(full) // 2])
    buf = io.BytesIO(); noise(40, 30).save(buf, 'PNG')
    (src/'truncated.png').write_bytes(buf.getvalue()[:200])
    r = run('upscale', src, '-o', tmp_path/'out', '--model', sr_model)
    assert r.returncode == 1, r.stderr
    assert 'Traceback' not in r.stderr
    for bad, why in (('zero.jpg', 'not an image'), ('text.jpg', 'not an image'), ('truncated.jpg', 'truncated'),
                     ('truncated.png', 'unreadable')):
        line = next(l for l in r.stderr.splitlines() if bad in l)
        assert 'FAILED' in line and why in line, line
    assert '4 of 9 images failed' in r.stderr
    sizes = {'good.png': (40, 24), 'unicode café 画像 with spaces.jpg': (18, 14), 'one.png': (2, 2),
             'three_by_two.png': (6, 4), 'anim.gif': (16, 12)}
    for name, size in sizes.items():
        with Image.open(tmp_path/'out'/name) as im: assert im.size == size, name
    assert 'first frame only' in next(l for l in r.stdout.splitlines() if 'anim.gif' in l)
    assert not (tmp_path/'out'/'zero.jpg').exists()

def test_missing_input_is_reported_not_raised(sr_model, tmp_path):
    noise(8, 8).save(tmp_path/'a.png')
    r = run('upscale', tmp_path/'a.png', tmp_path/'nope.png', '-o', tmp_path/'out', '--model', sr_model)
    assert r.returncode == 1 and 'nope.png: FAILED: no such file' in r.stderr and (tmp_path/'out'/'a.png').exists()

@pytest.mark.parametrize('args,message', [
    (['upscale', 'x.png', '--scale', '0'], 'must be positive'),
    (['upscale', 'x.png', '--tile', '32', '--overlap', '32'], 'must be larger than twice the overlap'),
    (['upscale', 'x.png', '--model', 'no/such/run'], 'does not exist'),
    (['upscale', 'x.png', '--model', 'CLASSIFIER'], 'is a classifier, not a restoration model'),
    (['classify', 'predict', 'x.png', '--model', 'SR'], 'is a restoration model, not a classifier'),
    (['train', '--scale', '5', '--out', 'o'], 'invalid choice'),
    (['upscale', 'x.png', '--model', 'JPEG'], 'trained for the jpeg task, not superres'),
    (['data', 'check', '--data', 'PARTIAL_ZIP'], 'only part of one (an interrupted download?)'),
])
def test_invalid_options_give_one_clear_line(sr_model, tiny_zip, tmp_path, args, message):
    clf = tmp_path/'clf.pth'
    save_model(classifier('cpu_small', n_out=3, vocab=['a', 'b', 'c'], names=['a', 'b', 'c']), clf)
    jpeg = restorer(task='jpeg:quality=10..50', scale=1)
    save_model(jpeg, tmp_path/'jpeg.pth')
    (tmp_path/'partial.zip').write_bytes(tiny_zip.read_bytes()[:tiny_zip.stat().st_size // 2])
    noise(40, 40).save(tmp_path/'x.png')
    subst = {'x.png': tmp_path/'x.png', 'CLASSIFIER': clf, 'SR': sr_model, 'o': tmp_path/'o', 'JPEG': tmp_path/'jpeg.pth',
             'PARTIAL_ZIP': tmp_path/'partial.zip'}
    args = [str(subst.get(a, a)) for a in args]
    if args[0] == 'upscale' and '--model' not in args: args += ['--model', str(sr_model)]
    r = run(*args, *(['-o', tmp_path/'out'] if args[0] == 'upscale' else []))
    assert r.returncode == 2 and 'Traceback' not in r.stderr and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith('superres')

class Payload:
    "Unpickling this runs a command: what an untrusted model file can do."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (eval, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('pwned')",))

@pytest.mark.parametrize('name', ['export.pkl', 'model.pth'])
def test_malicious_model_file_is_refused_and_never_runs(tmp_path, name):
    marker = tmp_path/'marker'
    f = tmp_path/name
    if name.endswith('.pkl'): f.write_bytes(pickle.dumps(Payload(marker)))
    else: torch.save({'config': Payload(marker), 'state_dict': {}}, f)
    with pytest.raises(ValueError, match='--trust-pickle' if name.endswith('.pkl') else 'not a superres model file'):
        load_restorer(f)
    with pytest.raises(ValueError): load_classifier(tmp_path)  # a run folder resolves to the same file
    assert not marker.exists()
    r = run('upscale', tmp_path/'missing.png', '-o', tmp_path/'out', '--model', f)
    assert r.returncode == 2 and not marker.exists()

def test_trusted_pickle_loads_only_when_asked(tiny_root, tmp_path):
    from superres.learner import train_classifier
    learn = train_classifier(tmp_path/'run', data=tiny_root, preset='cpu_small', classes=3, epochs=1, bs=8, precision='fp32')
    (tmp_path/'run'/'model.pth').unlink()  # only the pickled export is left
    with pytest.raises(ValueError, match='pickled learner'): load_any(tmp_path/'run')
    model = load_any(tmp_path/'run', trust_pickle=True)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(model(x), learn.model.eval()(x), atol=1e-5)

def _train_cmd(data, out, *extra):
    return [sys.executable, '-m', 'superres', 'classify', 'train', '--data', str(data), '--preset', 'cpu_small',
            '--classes', '40', '--epochs', '4', '--bs', '8', '--precision', 'fp32', '--seed', '0', '--out', str(out), *extra]

def test_training_killed_mid_epoch_resumes_to_the_same_total_steps(tiny_root, tmp_path):
    import json, os, signal, time
    out = tmp_path/'run'
    proc = subprocess.Popen(_train_cmd(tiny_root, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = out/'checkpoint.pth', time.time() + 600
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
    time.sleep(0.2)  # into the second epoch
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = torch.load(ckpt, weights_only=True)
    assert 1 <= done['epoch'] < 4, 'the run must be killed mid-way for this test to mean anything'
    first_rows = (out/'history.csv').read_text().splitlines()[:1 + done['epoch']]
    load_classifier(out)  # the weights on disk are whole despite the kill
    r = subprocess.run(_train_cmd(tiny_root, out, '--resume'), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = (out/'history.csv').read_text().splitlines()
    assert len(rows) == 5 and rows[:1 + done['epoch']] == first_rows
    fresh = tmp_path/'fresh'
    assert subprocess.run(_train_cmd(tiny_root, fresh), capture_output=True).returncode == 0
    steps = lambda d: json.loads((d/'metrics.json').read_text())['steps']
    assert steps(out) == steps(fresh) > 0
    resumed, again = load_classifier(out).state_dict(), load_classifier(fresh).state_dict()
    assert any(not torch.equal(resumed[k], again[k]) for k in resumed)  # it continued from the checkpoint, not from scratch
    r = subprocess.run(_train_cmd(tiny_root, tmp_path/'none', '--resume'), capture_output=True, text=True)
    assert r.returncode == 2 and 'nothing to resume' in r.stderr

@pytest.mark.parametrize('pipeline,split', [('datablock', 'train'), ('decoded', 'train'), ('datablock', 'val')])
def test_corrupt_image_in_the_data_is_named_or_skipped(fresh_tiny, tmp_path, pipeline, split):
    from superres.data import TinyImageNet
    tin = TinyImageNet(fresh_tiny, classes=3)
    bad = (tin.train_files() if split == 'train' else tin.val_files())[1]
    bad.write_bytes(bad.read_bytes()[:40])  # a truncated JPEG; a val image is first read in a DataLoader worker
    args = ['classify', 'train', '--data', fresh_tiny, '--classes', '3', '--epochs', '1', '--bs', '2', '--pipeline', pipeline,
            '--precision', 'fp32']
    r = run(*args, '--out', tmp_path/'a')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and bad.name in r.stderr, r.stderr
    assert '--skip-bad-images' in r.stderr
    r = run(*args, '--out', tmp_path/'b', '--skip-bad-images')
    assert r.returncode == 0, r.stderr
    assert 'skipping 1 unreadable image' in r.stderr and bad.name in r.stderr
    kept = TinyImageNet(fresh_tiny, classes=3, skip_bad=True)
    assert len(kept.train_files()) + len(kept.val_files()) == len(tin.items()) - 1 and bad not in kept.items()

def test_atomic_writes_get_normal_permissions(tmp_path):
    import os
    from superres.files import atomic_write_text
    umask = os.umask(0o022)
    try: f = atomic_write_text(tmp_path/'a.txt', 'x')
    finally: os.umask(umask)
    assert (f.stat().st_mode & 0o777) == 0o644 and not list(tmp_path.glob('.a.txt.*'))

def without_root_privileges():
    "A command prefix under which file permissions apply even to root (tests here run as root, whom chmod does not stop)."
    import os, shutil
    if os.geteuid() != 0: return []
    if not shutil.which('setpriv'): pytest.skip('running as root without setpriv (util-linux): cannot make a file unreadable')
    return ['setpriv', '--bounding-set', '-dac_override,-dac_read_search']

def test_unreadable_file_is_reported_and_the_rest_written(sr_model, tmp_path):
    src = tmp_path/'in'; src.mkdir()
    noise(20, 12).save(src/'good.png')
    noise(20, 12).save(src/'locked.png')
    (src/'locked.png').chmod(0)
    cmd = [*without_root_privileges(), sys.executable, '-m', 'superres', 'upscale', str(src), '-o', str(tmp_path/'out'), '--model', str(sr_model)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    line = next(l for l in r.stderr.splitlines() if 'locked.png' in l)
    assert 'FAILED' in line and 'permission denied' in line, line
    assert '1 of 2 images failed' in r.stderr
    assert Image.open(tmp_path/'out'/'good.png').size == (40, 24)

PEAK_SCRIPT = '''
import sys, numpy as np, torch
from PIL import Image
from superres.inference import upscale_image, refine, _from_tensor
from superres.models import restorer
torch.manual_seed(0)
model = restorer('sr_resnet', nf=8, n_blocks=1).eval()
img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8))
upscale_image(model, img.crop((0, 0, 600, 600)))  # warm up the allocator and kernels
def peak_kib():  # this process's own high-water mark (ru_maxrss would include the parent's, inherited at fork)
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
before = peak_kib()
out = upscale_image(model, img)[0] if sys.argv[1] == 'strips' else _from_tensor(refine(model, torch.from_numpy(np.asarray(img)).permute(2, 0, 1).float() / 255), 'RGB', 255)
assert out.size == (8000, 6000)
print((peak_kib() - before) * 1024 / (8000 * 6000 * 3))
'''

def test_huge_image_memory_is_bounded_by_the_output():
    "A 4000x3000 photo upscaled x2 adds under 4x the output's bytes to the peak (measured 3.3x); whole-image floats add 7.2x."
    def peak(path): return float(subprocess.run([sys.executable, '-c', PEAK_SCRIPT, path], capture_output=True, text=True, check=True).stdout)
    strips, whole = peak('strips'), peak('whole')
    # strips: the output PIL image (4 bytes a pixel in Pillow) plus a few strips; whole: floats of the whole output
    assert strips < 4 and whole > 1.8 * strips, (strips, whole)
