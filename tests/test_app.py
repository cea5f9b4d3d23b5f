"""The web app's functions, called directly (the real app in a browser: test_e2e_app.py)."""

import numpy as np
import pytest
from PIL import Image

from superres.app import REAL_PHOTO, AppError, TaskModels, build_app, load_models, open_upload, restore_upload
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
    assert models['superres'].pick(1.5).config['scale'] == 2 and models['superres'].pick(8).config['scale'] == 4
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
