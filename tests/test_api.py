"""The face of the package: `superres.upscale` in one call (the CLI's pixels, the shipped models by name) and
`from superres.all import *`; `import superres` itself stays light."""
import json
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_cli
from conftest import smooth_photo as photo
from PIL import Image

import superres
from superres.errors import DataError, ModelError, SuperresError, UsageError


def arr(img): return np.asarray(img).astype(np.float64)

def test_import_superres_loads_nothing_heavy():
    code = ('import json, sys, superres\n'
            'print(json.dumps(sorted(m for m in ("torch", "PIL", "fastai") if m in sys.modules)))')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)  # a fresh interpreter
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []

@pytest.mark.parametrize('scale,model', [(2, None), (4, 'default'), (4, 'real'), (3, 'real')])
def test_upscale_returns_a_pil_image_of_the_scale(scale, model):
    out = superres.upscale(photo(24, 20), scale, model, backend='torch')
    assert isinstance(out, Image.Image) and out.size == (24 * scale, 20 * scale) and out.mode == 'RGB'

def test_default_scale_is_the_models_own():
    assert superres.upscale(photo(24, 20), backend='torch').size == (48, 40)  # the shipped default: x2, as the CLI
    assert superres.upscale(photo(24, 20), model='real', backend='torch').size == (96, 80)

@pytest.mark.slow  # the CLI in a fresh process
@pytest.mark.parametrize('args', [[], ['--model', 'real', '--strength', '0.5']], ids=['x2', 'real'])
def test_a_path_gives_the_pixels_of_the_cli(tmp_path, args):
    src = tmp_path/'photo.png'
    photo(40, 32).save(src)
    r = run_cli('upscale', src, '-o', tmp_path/'out', *args)
    assert r.returncode == 0, r.stderr
    cli = Image.open(tmp_path/'out'/'photo.png')
    kw = dict(zip(('model', 'strength'), args[1::2]))
    for given in (src, str(src)):
        out = superres.upscale(given, **{k: float(v) if k == 'strength' else v for k, v in kw.items()})
        assert out.size == cli.size and np.abs(arr(out) - arr(cli)).max() <= 1

def test_an_image_and_its_file_give_the_same_pixels(tmp_path):
    img = photo(30, 22).convert('RGBA')
    img.save(tmp_path/'a.png')
    a, b = superres.upscale(img, backend='torch'), superres.upscale(tmp_path/'a.png', backend='torch')
    assert a.mode == 'RGBA' and np.array_equal(arr(a), arr(b))

def test_a_run_folder_as_model(tmp_path):
    from superres.hub import save_model
    from superres.models import restorer
    save_model(restorer(scale=2).eval(), tmp_path/'model.pth')
    assert superres.upscale(photo(16, 12), model=tmp_path, backend='torch').size == (32, 24)

@pytest.mark.parametrize('kw,error,words', [
    (dict(model='nonesuch'), ModelError, 'does not exist'),
    (dict(model='real', strength=2), UsageError, 'between 0 and 1'),
    (dict(strength=0.5), UsageError, '`strength`'),
    (dict(backend='cuda'), UsageError, 'backend must be one of'),
])
def test_user_errors_are_one_clear_line(kw, error, words):
    with pytest.raises(error) as e: superres.upscale(photo(16, 12), **kw)
    assert words in str(e.value) and '\n' not in str(e.value)

def test_a_task_model_is_refused_and_bad_inputs_are_named(tmp_path):
    from conftest import untrained_task_model

    from superres.hub import save_model
    save_model(untrained_task_model('jpeg'), tmp_path/'model.pth')
    with pytest.raises(UsageError, match='trained for the jpeg task'): superres.upscale(photo(16, 12), model=tmp_path)
    (tmp_path/'bad.png').write_bytes(b'not an image')
    for bad in (tmp_path/'bad.png', tmp_path/'missing.png'):
        with pytest.raises(DataError, match=bad.name): superres.upscale(bad)
    with pytest.raises(SuperresError, match='a PIL image, not ndarray'): superres.upscale(np.zeros((4, 4, 3)))

def test_the_cli_says_the_same_in_its_own_words(tmp_path):
    photo(16, 12).save(tmp_path/'p.png')
    r = run_cli('upscale', tmp_path/'p.png', '--model', 'nonesuch', '-o', tmp_path/'out')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'nonesuch does not exist' in r.stderr

def test_all_exports_every_modules_public_names():
    import superres.all as everything
    modules = {m.name for m in pkgutil.walk_packages(superres.__path__, 'superres.') if '.' not in m.name[9:]}
    assert {m.__name__ for m in everything.MODULES} == modules - {'superres.__main__', 'superres.all', 'superres.cli'}
    namespace = {}
    exec('from superres.all import *', namespace)
    for name in ('upscale', 'load_restorer', 'upscale_image', 'restore_image', 'train_restorer', 'train_classifier',
                 'classifier_learner', 'decoded_dls', 'SuperresError', 'evaluate_sr', 'RestorerData', 'ScheduleConfig'):
        assert name in namespace, name
    assert namespace['upscale'] is superres.upscale
