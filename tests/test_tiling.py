"""Tiling: overlapping tiles blend to the untiled result, strips fill whole tiles within the memory budget, and a huge
image costs memory in proportion to its output."""
import subprocess
import sys

import pytest
import torch
from torch import nn

from superres.card import ModelCard, attach_card
from superres.errors import UsageError
from superres.models import Restorer
from superres.tiling import STRIP_PIXELS, _starts, _strip_rows, refine

SAME_SIZE = ModelCard.from_config(dict(kind='restorer', arch='test_net', task='denoise'))  # a card: x1, full-size input


def test_tiled_equals_untiled():
    torch.manual_seed(0)
    local = Restorer(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))).eval()
    attach_card(local, SAME_SIZE)
    x = torch.rand(3, 150, 203)
    with torch.inference_mode(): full = local(x[None])[0]
    assert torch.allclose(refine(local, x, tile=64, overlap=8), full, atol=1e-5)
    with pytest.raises(UsageError, match='`overlap`'): refine(local, x, tile=32, overlap=16)

@pytest.mark.parametrize('w,sm,tile', [(2048, 1, 512), (2048, 2, 512), (640, 2, 128), (9000, 1, 512), (2048, 1, 2048)])
def test_strips_fill_whole_tiles_within_the_memory_budget(w, sm, tile):
    rows, overlap = _strip_rows(w, sm, tile, 32), 32
    assert rows * w <= max(STRIP_PIXELS, tile * tile) or rows == 4 * overlap
    read = round(sm * (rows + 2 * overlap))  # a middle strip with its context rows, as the model reads it
    if read > tile:  # no tile row computed twice over most of its height
        assert (read - overlap) % (tile - overlap) == 0
    assert len(_starts(read, tile, tile - overlap)) == max(1, -(-(read - overlap) // (tile - overlap)))

def test_gpu_out_of_memory_says_what_to_do():
    class Hungry(nn.Module):
        card = SAME_SIZE
        def __init__(self): super().__init__(); self.w = nn.Parameter(torch.zeros(1))
        def forward(self, x): raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 8.00 GiB')
    with pytest.raises(UsageError, match='smaller `tile`, e.g. 256'): refine(Hungry(), torch.rand(3, 40, 40), tile=512)

PEAK_SCRIPT = '''
import sys, numpy as np, torch
from PIL import Image
from superres.images import tensor_to_image
from superres.inference import upscale_image
from superres.tiling import refine
from superres.models import restorer
torch.manual_seed(0)
model = restorer('sr_resnet', nf=8, n_blocks=1).eval()
img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8))
upscale_image(model, img.crop((0, 0, 600, 600)))  # warm up the allocator and kernels
def peak_kib():  # this process's own high-water mark (ru_maxrss would include the parent's, inherited at fork)
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
before = peak_kib()
if sys.argv[1] == 'strips': out = upscale_image(model, img)[0]
else: out = tensor_to_image(refine(model, torch.from_numpy(np.asarray(img)).permute(2, 0, 1).float() / 255), 'RGB', 255)
assert out.size == (8000, 6000)
print((peak_kib() - before) * 1024 / (8000 * 6000 * 3))
'''

@pytest.mark.slow
def test_huge_image_memory_is_bounded_by_the_output():
    """A 4000x3000 photo upscaled x2 adds under 4x the output's bytes to the peak (measured 3.3x); whole-image floats
    add 7.2x."""
    def peak(path):
        r = subprocess.run([sys.executable, '-c', PEAK_SCRIPT, path], capture_output=True, text=True, check=True)
        return float(r.stdout)
    strips, whole = peak('strips'), peak('whole')
    # strips: the output PIL image (4 bytes a pixel in Pillow) plus a few strips; whole: floats of the whole output
    assert strips < 4 and whole > 1.8 * strips, (strips, whole)

def test_non_finite_reduced_precision_outputs_are_retried_in_fp32_before_blaming_the_weights():
    from superres.errors import ModelError
    from superres.tiling import _forward
    class NanUnderAutocast(torch.nn.Module):  # a bf16 kernel's glitch: NaN under autocast only
        def forward(self, x): return x * float('nan') if torch.is_autocast_enabled('cpu') else x
    x = torch.rand(1, 3, 4, 5)
    with torch.autocast('cpu', dtype=torch.bfloat16): y = _forward(NanUnderAutocast(), x, 512)
    assert torch.equal(y, x)
    class AlwaysNan(torch.nn.Module):
        def forward(self, x): return x * float('nan')
    with torch.autocast('cpu', dtype=torch.bfloat16), pytest.raises(ModelError, match='NaN or infinite'):
        _forward(AlwaysNan(), x, 512)
