"""The web app's functions, called directly (the real app in a browser: test_e2e_app.py)."""

import numpy as np
import pytest
from PIL import Image

from superres.app import AppError, load_models, open_upload, restore_upload
from superres.models import restorer


def photo(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

def test_restore_upload_gives_slider_pair_file_and_status(tmp_path):
    photo(40, 30).save(tmp_path/'p.png')
    calls = []
    models = {'superres': restorer().eval()}
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
