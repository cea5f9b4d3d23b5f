"""Inference on users' images: upscaling any size and mode, repeated passes for other scales, each task's input."""
import numpy as np
import pytest
from conftest import smooth_photo as photo
from conftest import untrained_task_model as _model
from PIL import Image

from superres.errors import UsageError
from superres.fills import GRAY
from superres.inference import restore_image, upscale_image
from superres.models import restorer


def arr(img): return np.asarray(img).astype(np.float64)

MODES = ['1', 'L', 'LA', 'P', 'RGB', 'RGBA', 'CMYK', 'I;16', 'I', 'F']

@pytest.mark.parametrize('mode', MODES)
def test_upscale_every_mode(mode):
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (13, 17, 3), dtype=np.uint8))
    img = img.convert('RGBA' if mode in ('RGBA', 'LA') else 'RGB')
    if mode in ('I;16', 'I'):
        img = Image.fromarray((rng.random((13, 17)) * 65535).astype(np.uint16))
        if mode == 'I': img = img.convert(mode)
    elif mode == 'F': img = Image.fromarray(rng.random((13, 17)).astype(np.float32))
    else: img = img.convert(mode)
    out, notes = upscale_image(restorer().eval(), img)
    assert out.size == (34, 26)
    expected = {'1': 'L', 'P': 'RGB', 'CMYK': 'RGB', 'I': 'I;16', 'F': 'I;16'}.get(mode, mode)
    assert out.mode == expected
    if mode == 'I;16': assert np.asarray(out).dtype == np.uint16 and np.asarray(out).max() > 255

def test_flat_colour_stays_flat_and_alpha_kept():
    img = Image.new('RGBA', (40, 30), (200, 30, 90, 128))
    out, _ = upscale_image(restorer().eval(), img, tile=32, overlap=8)
    a = np.asarray(out)
    assert a.shape == (60, 80, 4) and (a[..., 3] == 128).all()
    assert np.abs(a[..., :3].astype(int) - [200, 30, 90]).max() <= 2

def test_other_scales_by_repeated_passes():
    out, notes = upscale_image(restorer().eval(), Image.new('RGB', (10, 8)), scale=3)
    assert out.size == (30, 24) and '2 pass' in notes[0] and 'resized' in notes[0]
    out, notes = upscale_image(restorer().eval(), Image.new('RGB', (10, 8)), scale=4)
    assert out.size == (40, 32) and '2 pass' in notes[0] and 'resized' not in notes[0]

def test_restore_image_prepares_each_task_input():
    img = photo(40, 30)
    out, _ = restore_image(_model('outpaint:fill=gray'), img, side='right', amount=0.5)
    assert out.size == (60, 30)  # an untrained model is the identity: the extension is still gray
    assert np.allclose(arr(out)[:, 40:], GRAY, atol=1) and np.allclose(arr(out)[:, :40], arr(img), atol=1)
    mask = Image.new('L', img.size, 0); mask.paste(255, (5, 5, 15, 15))
    out, _ = restore_image(_model('inpaint:fill=gray'), img, mask=mask)
    assert np.allclose(arr(out)[5:15, 5:15], GRAY, atol=1) and np.allclose(arr(out)[20:], arr(img)[20:], atol=1)
    with pytest.raises(UsageError, match='mask is 4x4'):
        restore_image(_model('inpaint'), img, mask=Image.new('L', (4, 4)))
    out, _ = restore_image(_model('colorize'), img.convert('L'))
    assert out.mode == 'RGB' and out.size == img.size
    out, _ = restore_image(_model('jpeg'), img.convert('RGBA'))
    assert out.mode == 'RGBA'
    with pytest.raises(UsageError, match='same size'): restore_image(_model('jpeg'), img, scale=2)
