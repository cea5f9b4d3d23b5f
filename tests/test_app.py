"""The web app's functions, called directly (the real app in a browser: test_e2e_app.py)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_photo
from PIL import Image

from superres.app import (
    LOCK,
    REAL_PHOTO,
    AppError,
    RequestLimits,
    TaskModels,
    build_app,
    load_models,
    make_room,
    open_upload,
    ram_folder,
    restore_upload,
)
from superres.models import restorer


def photo(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

def test_restore_upload_gives_slider_pair_file_and_status(tmp_path):
    photo(40, 30).save(tmp_path/'p.png')
    calls = []
    models = {'superres': TaskModels({2: restorer().eval()}, 'an untrained tiny_unet')}
    (before, after), saved, status = restore_upload(models, tmp_path/'p.png', 'superres', scale=2, tile=32, overlap=4,
                                                    progress=lambda done, total: calls.append((done, total)))
    assert before.size == after.size == (80, 60) and Image.open(saved).size == (80, 60)
    assert status.startswith('40x30 -> 80x60') and calls and calls[-1][0] == calls[-1][1] > 1

def test_app_refuses_clearly(tmp_path):
    (tmp_path/'notes.txt').write_text('not an image')
    photo(200, 100).save(tmp_path/'big.png')
    models = load_models()
    with pytest.raises(AppError, match='not an image superres can read'): open_upload(tmp_path/'notes.txt')
    with pytest.raises(AppError, match=r'200x100 \(0.0 MP\); this app takes up to 0.0 MP'):
        open_upload(tmp_path/'big.png', 10_000)
    with pytest.raises(AppError, match='upload or drop'): restore_upload(models, None, 'superres')
    with pytest.raises(AppError, match='no model for .jpeg.'): restore_upload(models, tmp_path/'big.png', 'jpeg')

def test_shipped_models_serve_each_scale_and_say_so(tmp_path):
    from superres.hub import shipped_scales
    models = load_models()
    assert sorted(models['superres'].by_scale) == shipped_scales() and 'x4' in models['superres'].source
    photo(30, 20).save(tmp_path/'p.png')
    for scale in (2, 3, 4):
        (_, after), _, status = restore_upload(models, tmp_path/'p.png', 'superres', scale=scale)
        assert after.size == (30 * scale, 20 * scale)
        assert ('resized to x3' in status) if scale == 3 else 'pass' not in status  # x3: the x4 model, resized
    assert models['superres'].pick(1.5).card.scale == 2 and models['superres'].pick(8).card.scale == 4
    assert list(models) == ['superres', REAL_PHOTO] and 'real-photo' in models[REAL_PHOTO].source
    (_, after), _, status = restore_upload(models, tmp_path/'p.png', REAL_PHOTO, scale=2)
    assert after.size == (60, 40) and 'model is x4' in status  # the real-photo model is x4: resized down, said

def test_app_shows_the_controls_of_the_chosen_task():
    pytest.importorskip('gradio')
    from conftest import untrained_task_model
    models = {'superres': TaskModels({2: restorer().eval()}, 'x2 run'),
              'outpaint': TaskModels({1: untrained_task_model('outpaint')}, 'outpaint run')}
    demo = build_app(models)
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, 'elem_id', None)}
    assert by_id['scale'].visible and not by_id['side'].visible and not by_id['amount'].visible
    change = next(d for d in demo.fns.values() if d.name == 'show_controls')
    scale, side, amount = change.fn('outpaint')
    assert scale['visible'] is False and side['visible'] is True and amount['visible'] is True
    assert change.fn('superres')[0]['visible'] is True
    assert 'superres: x2 run; outpaint: outpaint run' in by_id['models'].value

def test_models_run_by_the_backend_asked_for():
    from superres.backends import OpenVinoModel, openvino_installed
    if not openvino_installed(): pytest.skip('needs the superres[openvino] extra')
    for backend in ('openvino', 'torch'):
        models = load_models(backend=backend)
        run = [m for task in models.values() for m in task.by_scale.values()]
        assert len(run) == 3 and all(isinstance(m, OpenVinoModel) == (backend == 'openvino') for m in run), backend
        assert all(task.notes == () for task in models.values())

def mode_files(folder):
    "The uploads the app used to spoil (16-bit gray, alpha, CMYK and gray JPEGs): name -> path."
    folder.mkdir(exist_ok=True)
    rgba = smooth_photo(40, 30).convert('RGBA')
    rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))))
    files = {'gray16.png': Image.fromarray((np.arange(40 * 30).reshape(30, 40) * 53).astype(np.uint16)),
             'rgba.png': rgba, 'la.png': rgba.convert('LA'), 'cmyk.jpg': smooth_photo(40, 30).convert('CMYK'),
             'gray.jpg': smooth_photo(40, 30).convert('L')}
    for name, img in files.items(): img.save(folder/name, **({'quality': 90} if name.endswith('.jpg') else {}))
    return {name: folder/name for name in files}

def test_restore_upload_gives_the_pixels_of_the_cli_in_every_mode(tmp_path):
    from superres.folders import restore_files
    model = restorer().eval()
    models = {'superres': TaskModels({2: model}, 'an untrained tiny_unet')}
    for name, src in mode_files(tmp_path/'in').items():
        (_, after), saved, _ = restore_upload(models, src, 'superres', scale=2)
        # the CLI writes a JPEG input as JPEG; the same bytes named .png make it write the lossless PNG the app gives
        (tmp_path/'png').mkdir(exist_ok=True)
        same_bytes = tmp_path/'png'/f'{src.stem}.png'
        same_bytes.write_bytes(src.read_bytes())
        [outcome] = restore_files(model, [same_bytes], tmp_path/'cli', scale=2.)
        with Image.open(saved) as app_out, Image.open(outcome.dest) as cli_out:
            assert app_out.mode == cli_out.mode and app_out.size == cli_out.size == (80, 60), name
            a, b = np.asarray(app_out).astype(int), np.asarray(cli_out).astype(int)
            assert np.abs(a - b).max() <= 1 and a.std() > 0, name  # 16-bit gray: 1 of 65535
        with Image.open(src) as im: mode = im.mode
        assert app_out.mode == {'I;16': 'I;16', 'RGBA': 'RGBA', 'LA': 'LA', 'CMYK': 'RGB', 'L': 'L'}[mode], name
        assert after.mode in ('L', 'LA', 'RGB', 'RGBA') and np.asarray(after).std() > 0, name  # browser previews

def test_no_upload_is_decoded_before_its_size_and_pixels_are_checked(tmp_path, monkeypatch):
    from PIL import ImageFile
    Image.new('L', (3000, 3000)).save(tmp_path/'bomb.png')  # 9 MP from 9 KB
    (tmp_path/'heavy.png').write_bytes((tmp_path/'bomb.png').read_bytes() + bytes(20_000))
    def decoded(*_): raise AssertionError('decoded before the checks')
    monkeypatch.setattr(ImageFile.ImageFile, 'load', decoded)
    with pytest.raises(AppError, match=r'bomb.png: the image is 3000x3000 \(9.0 MP\); this app takes up to 1.0 MP'):
        open_upload(tmp_path/'bomb.png', 1_000_000)
    with pytest.raises(AppError, match=r'heavy.png is 0.0 MiB; this app takes up to 0.0 MiB'):
        open_upload(tmp_path/'heavy.png', 10**8, max_bytes=20_000)
    with pytest.raises(AppError, match='gone .* upload it again'): open_upload(tmp_path/'missing.png')

def test_make_room_removes_the_oldest_files_first(tmp_path):
    for i, name in enumerate(['old', 'mid', 'new']):
        (tmp_path/name).mkdir()
        (tmp_path/name/'f.png').write_bytes(bytes(1000))
        os.utime(tmp_path/name/'f.png', (1e9 + i, 1e9 + i))
    (tmp_path/LOCK).write_bytes(bytes(5000))  # the lock is never removed, nor counted
    assert make_room(tmp_path, quota=2500)
    assert sorted(p.parent.name for p in tmp_path.rglob('f.png')) == ['mid', 'new']
    assert make_room(tmp_path, quota=2500, incoming=1000)
    assert [p.parent.name for p in tmp_path.rglob('f.png')] == ['new'] and (tmp_path/LOCK).exists()
    assert not make_room(tmp_path, quota=2500, incoming=3000)  # more than it can hold: all gone, and it says so
    assert not list(tmp_path.rglob('f.png')) and (tmp_path/LOCK).exists()

def test_request_limits_read_nothing_too_big_and_uploads_only_into_room(tmp_path):
    fastapi = pytest.importorskip('fastapi')
    from fastapi.testclient import TestClient
    inner = fastapi.FastAPI()
    @inner.post('/gradio_api/upload')
    async def upload(request: fastapi.Request): return len(await request.body())
    limits = RequestLimits(inner, max_body=1000, folder=tmp_path, quota=3000)
    client = TestClient(limits)
    def post(body): return client.post('/gradio_api/upload', content=body)
    assert post(bytes(1000)).json() == 1000
    assert post(bytes(1001)).status_code == 413
    assert post(iter([bytes(600), bytes(600)])).status_code == 413  # streamed without a length: stopped at the limit
    (tmp_path/'old.png').write_bytes(bytes(2500))
    assert post(bytes(1000)).status_code == 200 and not (tmp_path/'old.png').exists()  # the oldest made room
    limits.reserved = 2500  # uploads in flight that will need their room
    assert post(bytes(1000)).status_code == 503 and limits.reserved == 2500

HOLD_FOLDER = ('import sys, time\nfrom superres.app import ram_folder\n'
               'with ram_folder() as f:\n    print(f, flush=True)\n    time.sleep(600)\n')

def test_ram_folder_reclaims_the_folders_of_killed_apps_only():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    killed, alive = (subprocess.Popen([sys.executable, '-c', HOLD_FOLDER], stdout=subprocess.PIPE, text=True, env=env)
                     for _ in range(2))
    try:
        folders = [Path(p.stdout.readline().strip()) for p in (killed, alive)]
        killed.send_signal(signal.SIGKILL); killed.wait(30)
        assert folders[0].is_dir()  # SIGKILL left it behind
        with ram_folder() as mine:
            assert mine.is_dir() and (mine/LOCK).is_file() and (mine.stat().st_mode & 0o777) == 0o700
            assert not folders[0].exists() and folders[1].is_dir()  # the dead app's reclaimed, the live one's kept
        assert not mine.exists()
    finally:
        alive.kill(); alive.wait(30)
    with ram_folder(): assert not folders[1].exists()

def test_the_image_input_reads_only_files_in_its_folder(tmp_path):
    pytest.importorskip('gradio')
    import base64

    from gradio import Error
    demo = build_app({'superres': TaskModels({2: restorer().eval()}, 'x2 run')})
    upload = next(b for b in demo.blocks.values() if getattr(b, 'elem_id', None) == 'upload')
    cache = Path(upload.GRADIO_CACHE).resolve()
    photo(8, 6).save(tmp_path/'p.png')
    uri = 'data:image/png;base64,' + base64.b64encode((tmp_path/'p.png').read_bytes()).decode()
    stored = Path(upload.preprocess(upload.data_model(path=uri, orig_name='p.png')))
    assert cache in stored.parents and stored.read_bytes() == (tmp_path/'p.png').read_bytes()  # stored, undecoded
    assert upload.preprocess(upload.data_model(path=str(stored))) == str(stored)
    for outside in (tmp_path/'p.png', cache/'..'/'p.png', 'data.png'):
        with pytest.raises(Error, match='reads only files uploaded to it'):
            upload.preprocess(upload.data_model(path=str(outside)))
