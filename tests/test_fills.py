"""Hole fills and canvas extension: known pixels kept, holes filled from their surroundings, exact canvas sizes."""
import numpy as np
import pytest
from PIL import Image

from superres.errors import UsageError
from superres.fills import GRAY, extend_canvas, fill_holes, side_box, smooth_fill


def gradient(w=40, h=30):
    x = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    return Image.fromarray(x.astype(np.uint8))

def test_smooth_fill_keeps_known_pixels_and_interpolates_a_gradient():
    img, mask = gradient(), Image.new('L', (40, 30), 0)
    mask.paste(255, (15, 10, 25, 20))
    out, m = np.asarray(smooth_fill(img, mask)).astype(int), np.asarray(mask) > 127
    assert (out[~m] == np.asarray(img)[~m]).all()
    assert np.abs(out[m] - np.asarray(img).astype(int)[m]).mean() < 12  # a horizontal ramp, filled from both sides
    assert smooth_fill(img, Image.new('L', (40, 30), 0)) is img  # nothing missing: the image itself

def test_an_all_missing_image_is_filled_gray_and_gray_fill_is_exact():
    img, full = gradient(), Image.new('L', (40, 30), 255)
    assert (np.asarray(fill_holes(img, full)) == GRAY).all()
    assert (np.asarray(fill_holes(img, full, 'gray')) == GRAY).all()

@pytest.mark.parametrize('side,size,box', [('left', (50, 30), (0, 0, 10, 30)), ('right', (50, 30), (40, 0, 50, 30)),
                                           ('top', (40, 38), (0, 0, 40, 8)), ('bottom', (40, 38), (0, 30, 40, 38))])
def test_extend_canvas_adds_the_strip_and_its_mask(side, size, box):
    big, mask = extend_canvas(gradient(), side, 0.25)
    assert big.size == size and mask.size == size
    m = np.asarray(mask) > 127
    x0, y0, x1, y1 = box
    assert m[y0:y1, x0:x1].all() and m.sum() == (x1 - x0) * (y1 - y0)
    assert side_box(gradient().size, side, 0.25) == {'left': (0, 0, 10, 30), 'right': (30, 0, 40, 30),
                                                     'top': (0, 0, 40, 8), 'bottom': (0, 22, 40, 30)}[side]
    with pytest.raises(UsageError, match='side'): extend_canvas(gradient(), 'middle')
