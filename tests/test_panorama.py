"""Panoramas by repeated outpainting (issue 35): each pass paints from the strip before it, the photo's pixels kept
exactly, the same result tiled or not, a seam metric that sees a seam, and the CLI's one-line refusals."""
import numpy as np
import pytest
from conftest import randomised, smooth_photo, untrained_task_model
from PIL import Image
from test_hostile import cli, one_line

from superres.errors import UsageError
from superres.fills import extend_canvas
from superres.hub import save_model
from superres.images import image_to_tensor
from superres.inference import restore_image
from superres.metrics import seam_visibility
from superres.panorama import PANORAMA_SIDES, paint_panorama, panorama_layout


def arr(img): return np.asarray(img).astype(int)

def outpaint_model(seed=0):
    "An outpainting model that paints something (random weights), not the identity an untrained one is."
    return randomised(untrained_task_model('outpaint'), seed)

def numbered_painter(windows):
    "A painter that records each window it is given and paints its strip flat in the pass's number (1, 2, ...)."
    def paint(window, side):
        windows.append(arr(window))
        big, mask = extend_canvas(window, side, 0.25)
        big.paste((len(windows),) * 3, mask=mask)
        return big
    return paint

@pytest.mark.parametrize('side', PANORAMA_SIDES)
def test_each_pass_paints_beside_the_last_and_keeps_the_photo(side):
    img, windows = smooth_photo(40, 32), []
    out = paint_panorama(img, numbered_painter(windows), side, 0.25, passes=3)
    layout = panorama_layout(img.size, side, 0.25, 3)
    across = side in ('left', 'right', 'both')
    grow = 10 if across else 8  # a quarter of the photo's width or height, each pass
    expected = {'both': (100, 32), 'left': (70, 32), 'right': (70, 32), 'top': (40, 56), 'bottom': (40, 56)}[side]
    assert out.size == layout.size == expected
    x, y = layout.origin
    assert (arr(out)[y:y + 32, x:x + 40] == arr(img)).all(), 'the photo is kept pixel for pixel'
    assert len(windows) == len(layout.seams) and all(w.shape == (32, 40, 3) for w in windows)
    for k, (s, at) in enumerate(layout.seams, 1):  # strip k is painted k, beside the line `at`
        line = arr(out)[:, at] if across else arr(out)[at]
        before = arr(out)[:, at - 1] if across else arr(out)[at - 1]
        new, old = (line, before) if s in ('right', 'bottom') else (before, line)
        assert (new == k).all() and not (old == k).all(), (s, at)
    later = windows[2 if side == 'both' else 1]  # the second pass on the first side reads the first pass's strip
    edge = later[:, -grow:] if side in ('right', 'both') else later[:, :grow] if side == 'left' else \
        later[-grow:] if side == 'bottom' else later[:grow]
    assert (edge == 1).all()

def test_a_model_panorama_grows_by_the_amount_each_pass_and_keeps_the_photo():
    img, model = smooth_photo(48, 36), outpaint_model()
    for passes in (1, 2, 4):
        out, _ = restore_image(model, img, side='right', amount=0.25, passes=passes)
        assert out.size == (48 + 12 * passes, 36) and (arr(out)[:, :48] == arr(img)).all()
    out, _ = restore_image(model, img, side='both', amount=0.5, passes=2)
    assert out.size == (48 + 4 * 24, 36) and (arr(out)[:, 48:96] == arr(img)).all()
    a = arr(out)
    assert a[:, :48].std() > 1 and a[:, 96:].std() > 1, 'the model painted something in the strips'

def test_alpha_and_gray_photos_become_panoramas_too():
    img = smooth_photo(40, 30).convert('RGBA')
    img.putalpha(100)
    out, _ = restore_image(outpaint_model(), img, side='left', amount=0.25, passes=2)
    a = arr(out)
    assert out.mode == 'RGBA' and out.size == (60, 30) and (a[:, :20, 3] == 255).all() and (a[:, 20:, 3] == 100).all()
    out, _ = restore_image(outpaint_model(), smooth_photo(40, 30).convert('L'), side='bottom', passes=2)
    assert out.mode == 'L' and out.size == (40, 30 + 2 * 8)

def test_tiled_and_untiled_panoramas_agree():
    img, model = smooth_photo(120, 90), outpaint_model()
    whole, _ = restore_image(model, img, side='both', amount=0.25, passes=2)
    tiled, _ = restore_image(model, img, side='both', amount=0.25, passes=2, tile=64, overlap=24)
    diff = np.abs(arr(whole) - arr(tiled))
    assert whole.size == tiled.size == (240, 90)
    assert diff.mean() < 0.1 and diff.max() <= 2, (diff.mean(), diff.max())  # measured: 0.004 and 1

def photo_tensor(img): return image_to_tensor(img)[0]

def test_the_seam_metric_sees_a_constant_fill_and_not_a_continuous_photo():
    img = smooth_photo(96, 64, seed=1)
    stepped = img.copy()
    stepped.paste((127, 127, 127), (64, 0, 96, 64))  # a constant fill from column 64 on
    seen, = seam_visibility(photo_tensor(stepped), [64])
    unseen, = seam_visibility(photo_tensor(img), [64])
    assert seen > 20 and 0.5 < unseen < 2, (seen, unseen)
    rows, = seam_visibility(photo_tensor(stepped.transpose(Image.TRANSPOSE)), [64], dim=-2)
    assert rows == pytest.approx(seen)
    with pytest.raises(UsageError, match='outside the image'): seam_visibility(photo_tensor(img), [96])

def test_the_library_refuses_bad_panoramas():
    for passes, side, amount, what in [(0, 'right', 0.25, 'passes'), (2.5, 'right', 0.25, 'passes'),
                                       (float('nan'), 'right', 0.25, 'passes'), (101, 'right', 0.25, 'passes'),
                                       (2, 'middle', 0.25, 'side'), (2, 'right', 1.5, 'amount'),
                                       (2, 'right', 0, 'amount')]:
        with pytest.raises(UsageError, match=what): panorama_layout((40, 30), side, amount, passes)
    with pytest.raises(UsageError, match='trained for jpeg'):
        restore_image(untrained_task_model('jpeg'), smooth_photo(), passes=2)
    assert panorama_layout((40, 30), 'right', 1, 100).size == (4040, 30)

@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    "Weights files of an outpainting model and of a JPEG model."
    folder = tmp_path_factory.mktemp('models')
    for task in ('outpaint', 'jpeg'): save_model(outpaint_model() if task == 'outpaint'
                                                 else untrained_task_model(task), folder/f'{task}.pth')
    return folder

def test_the_cli_writes_a_panorama(capsys, tmp_path, model_files):
    smooth_photo(40, 30).save(tmp_path/'p.png')
    rc, out, err = cli(capsys, 'restore', tmp_path/'p.png', '-o', tmp_path/'out', '--model', model_files/'outpaint.pth',
                       '--side', 'both', '--amount', 0.5, '--passes', 3)
    assert rc == 0, err
    with Image.open(tmp_path/'out'/'p.png') as im: assert im.size == (40 + 2 * 3 * 20, 30)

@pytest.mark.parametrize('args,what', [(['--passes', '0'], '--passes'), (['--passes', '-2'], '--passes'),
                                       (['--passes', '2.5'], '--passes'), (['--passes', '1000'], '--passes'),
                                       (['--amount', '0'], '--amount'), (['--amount', '1.5'], '--amount'),
                                       (['--side', 'middle'], '--side'), (['--passes', '2', '--jpeg'], 'trained for')])
def test_the_cli_refuses_bad_panoramas_in_one_line(capsys, tmp_path, model_files, args, what):
    smooth_photo(40, 30).save(tmp_path/'p.png')
    model = model_files/('jpeg.pth' if '--jpeg' in args else 'outpaint.pth')
    args = [a for a in args if a != '--jpeg']
    rc, _, err = cli(capsys, 'restore', tmp_path/'p.png', '-o', tmp_path/'out', '--model', model, *args)
    assert rc == 2 and what in one_line(err) and not (tmp_path/'out'/'p.png').exists()
