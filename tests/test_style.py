"""Style transfer: the style loss, Gatys' optimisation of it, and the UNet without its highest-resolution skip."""
import json

import numpy as np
import pytest
import torch
from conftest import cli_here, noise, run_cli
from PIL import Image

from superres.degradations import parse_degradation
from superres.errors import UsageError
from superres.hub import load_restorer
from superres.models import classifier, restorer
from superres.style import StyleLoss, style_tensor, stylize_by_optimisation


@pytest.fixture(scope='module')
def clf():
    torch.manual_seed(0)
    return classifier('cpu_small', n_out=5).eval()

def stripes(size=32, period=4):
    "A style picture with one obvious statistic: vertical red and blue stripes."
    x = torch.zeros(3, size, size)
    x[0, :, (torch.arange(size) // period) % 2 == 0] = 1
    x[2, :, (torch.arange(size) // period) % 2 == 1] = 1
    return x

def test_style_term_is_zero_for_the_style_itself_and_grows_when_shuffled(clf):
    style = stripes()
    loss = StyleLoss(clf, style, content_layers=(2,), style_layers=(1, 2, 3))
    itself = loss.terms(style[None], style[None])
    assert itself['style'].item() == pytest.approx(0, abs=1e-9) and itself['content'].item() == 0
    g = torch.Generator().manual_seed(0)
    shuffled = style.flatten(1)[:, torch.randperm(32 * 32, generator=g)].view(1, 3, 32, 32)  # same colours, no stripes
    assert loss.terms(shuffled, shuffled)['style'].item() > 1e-6
    photo = torch.rand(2, 3, 32, 32, generator=g)
    t = loss.terms(photo, photo)
    assert t['content'].shape == (2,) and (t['content'] == 0).all() and (t['style'] > 0).all()

def test_style_loss_gradients_reach_the_output_only(clf):
    loss = StyleLoss(clf, stripes(), content_layers=(2,), style_layers=(1, 2))
    pred = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss(pred, pred.detach()).backward()
    assert pred.grad.abs().sum() > 0 and all(p.grad is None for p in loss.net.parameters())
    with pytest.raises(UsageError, match='outside the classifier body'): StyleLoss(clf, stripes(), style_layers=(9,))

def test_gatys_optimisation_lowers_the_loss_it_optimises(clf):
    loss = StyleLoss(clf, stripes(), content_layers=(2,), style_layers=(1, 2, 3))
    photo = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = stylize_by_optimisation(loss, photo, steps=30)
    assert out.shape == photo.shape and 0 <= out.min() and out.max() <= 1
    before, after = loss(photo, photo).item(), loss(out, photo).item()
    assert after < 0.8 * before, (before, after)

def test_style_tensor_sets_the_shorter_side():
    t = style_tensor(Image.fromarray(np.zeros((30, 60, 3), np.uint8)), 16)
    assert t.shape == (3, 16, 32) and t.dtype == torch.float32

def test_the_style_task_pairs_a_photo_with_itself():
    deg = parse_degradation('style')
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    assert deg(img) is img and deg.spec == 'style' and deg.scale == 1
    batch = torch.randint(0, 255, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(deg.batch(batch), batch)

@pytest.mark.parametrize('cross', [False, True])
def test_a_unet_without_its_top_skip_has_no_full_resolution_path(cross):
    torch.manual_seed(0)
    arch = 'tiny_unet_cross' if cross else 'tiny_unet'
    with_skip, without = restorer(arch, task='style', scale=1), restorer(arch, task='style', scale=1, top_skip=False)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(with_skip(x), x, atol=1e-5), 'residual: starts as its input'
        assert not torch.allclose(without(x), x, atol=1e-2), 'no residual: it has to draw the picture itself'
        # a one-pixel change stays one pixel only on a full-resolution path: without it, it spreads through the lower
        # levels' upsampling
        y = x.clone(); y[..., 16, 16] += 0.5
        at_pixel = lambda m: ((d := (m(y) - m(x)).abs()[0].sum(0))[16, 16] / d.sum()).item()
        assert at_pixel(with_skip) > 0.99 and at_pixel(without) < 0.05, (at_pixel(with_skip), at_pixel(without))
    assert without.card.config['top_skip'] is False
    n = lambda m: sum(p.numel() for p in m.parameters())
    assert n(without) <= n(with_skip) and (n(without) < n(with_skip)) == cross

def test_cli_trains_a_style_model_that_restore_applies_at_any_size(tmp_path, tiny_root):
    style = tmp_path/'style.png'
    Image.fromarray((stripes(48).permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(style)
    out = tmp_path/'run'
    r = run_cli('train', '--data', tiny_root, '--task', 'style', '--style-image', style, '--no-top-skip',
                '--classes', 2, '--per-class', 4, '--val-per-class', 1, '--epochs', 1, '--freeze-epochs', 0, '--bs', 4,
                '--seed', 0, '--out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    model = load_restorer(out)
    assert model.card.task.name == 'style' and model.card.config['top_skip'] is False
    assert json.loads((out/'metrics.json').read_text())['loss'] == 'style'
    noise(50, 37).save(tmp_path/'photo.png')
    r = run_cli('restore', tmp_path/'photo.png', '--model', out, '-o', tmp_path/'painted')
    assert r.returncode == 0 and Image.open(tmp_path/'painted'/'photo.png').size == (50, 37), r.stderr[-2000:]

@pytest.mark.parametrize('args, message', [
    (['--task', 'style'], 'needs its style image'),
    (['--task', 'style', '--style-image', 'STYLE', '--loss', 'mse'], 'trains with the style loss'),
    (['--task', 'jpeg', '--style-image', 'STYLE'], 'only it takes one'),
    (['--task', 'jpeg', '--loss', 'style'], 'serves the style task alone'),
    (['--task', 'style', '--style-image', 'STYLE', '--arch', 'dynamic_unet', '--no-top-skip'],
     'can drop their highest-resolution skip'),
])
def test_cli_refuses_a_style_that_cannot_work_in_one_line(tmp_path, tiny_root, capsys, args, message):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path/'style.png')
    args = [tmp_path/'style.png' if a == 'STYLE' else a for a in args]
    rc, _, err = cli_here(capsys, 'train', '--data', tiny_root, '--classes', 2, '--per-class', 4, '--epochs', 1,
                          '--out', tmp_path/'run', *args)
    assert rc == 2 and err.count('\n') == 1 and message in err, err[-2000:]
