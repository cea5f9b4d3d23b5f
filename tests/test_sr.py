import json, math, subprocess, sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from PIL import Image

from superres.data import (Degrade, PILImageLR, TensorImageLR, decoded_paired_dls, decoded_pairs_unsupported,
                           sr_dls)
from superres.degradations import Downscale, degrade_sr
from superres.inference import evaluate_sr, load_restorer, refine, restore_files, upscale_image
from superres.learner import default_feature_layers, save_model, restoration_learner, train_restorer, unet_splitter
from superres.losses import FeatureLoss
from superres.metrics import psnr, psnr_y, ssim
from superres.models import Restorer, classifier, restorer, restorer_from_config

def plain(t): return t.as_subclass(torch.Tensor).cpu()

def test_paired_items_share_crop_and_flip(tiny_root):
    dls = sr_dls(tiny_root, scale=1, erase=False, classes=5, bs=8, num_workers=0)
    x, y = dls.train.one_batch()
    assert isinstance(x, TensorImageLR) and not isinstance(y, TensorImageLR)
    assert torch.equal(plain(x), plain(y))  # un-degraded input == target, pixel for pixel, after random crop + flip

def test_degradation_and_erasing_hit_the_input_only(tiny_root):
    dls = sr_dls(tiny_root, scale=2, erase=False, classes=5, bs=8, num_workers=0)
    x, y = dls.valid.one_batch()
    files = dls.valid_ds.items[:len(y)]
    raw = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert('RGB'))).permute(2, 0, 1) for f in files]) / 255
    same = partial(torch.testing.assert_close, rtol=0, atol=1e-6)  # on CUDA x/255 is x*(1/255): one ulp off the CPU's
    same(plain(y), raw)
    assert (plain(x) - raw).abs().max() > 0.01
    same(plain(x), torch.stack([torch.from_numpy(np.asarray(degrade_sr(Image.open(f).convert('RGB')))).permute(2, 0, 1) for f in files]) / 255)
    dls = sr_dls(tiny_root, scale=1, erase=True, classes=5, bs=16, num_workers=0)
    x, y = dls.train.one_batch()
    assert not torch.equal(plain(x), plain(y))

def as_uint8(t): return (plain(t) * 255).round().byte()

def test_decoded_pairs_are_the_datablock_pairs(tiny_root):
    deg = Downscale(2)
    fast = decoded_paired_dls(tiny_root, deg, classes=5, bs=8, erase=False, progress=False)
    slow = sr_dls(tiny_root, scale=2, classes=5, bs=8, erase=False, num_workers=0)
    (xf, yf), (xs, ys) = fast.valid.one_batch(), slow.valid.one_batch()
    assert torch.equal(as_uint8(yf), as_uint8(ys))  # same validation images, in the same order
    diff = (as_uint8(xf).int() - as_uint8(xs).int()).abs()
    assert diff.max() <= 2 and diff.float().mean() < 0.1  # the tensor resize is PIL's up to its rounding
    torch.manual_seed(0)
    x, y = fast.train.one_batch()
    assert torch.equal(as_uint8(x), deg.batch(as_uint8(y)))  # input = degraded target after the shared crop and flip
    edges = torch.stack([y[:, :, 0], y[:, :, -1], y[:, :, :, 0], y[:, :, :, -1]], 1)
    assert (plain(edges).amax((2, 3)) == 0).any()  # some crops reach into the zero padding, as the PIL path's do
    erased = decoded_paired_dls(tiny_root, deg, classes=5, bs=16, progress=False)
    x, y = erased.train.one_batch()
    assert not torch.equal(as_uint8(x), deg.batch(as_uint8(y)))  # erasing changed some inputs

def test_decoded_pairs_say_what_they_cannot_serve(tiny_root, tmp_path):
    assert decoded_pairs_unsupported(tiny_root, Downscale(3, ['bicubic', 'bilinear'], 'nearest')) is None
    assert 'folder' in decoded_pairs_unsupported(tmp_path, Downscale(2))
    assert '48' in decoded_pairs_unsupported(tiny_root, Downscale(2), size=48)
    for task in ('jpeg', 'superres:down=lanczos', 'real+superres'): assert 'no batched form' in decoded_pairs_unsupported(tiny_root, task)
    with pytest.raises(ValueError, match='--pipeline datablock'):
        train_restorer(tmp_path/'run', data=tiny_root, task='jpeg', pipeline='decoded', classes=2, epochs=1)

def test_downscale_batch_draws_a_filter_per_image():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    out = Downscale(2, ['bicubic', 'nearest'], None).batch(x)
    bicubic, nearest = Downscale(2, 'bicubic', None).batch(x), Downscale(2, 'nearest', None).batch(x)
    is_bicubic = (out == bicubic).flatten(1).all(1)
    assert out.shape == (64, 3, 8, 8) and (is_bicubic | (out == nearest).flatten(1).all(1)).all()
    assert 16 < is_bicubic.sum() < 48

def test_degrade_filters():
    img = PILImageLR(Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)))
    out = np.asarray(Degrade(Downscale(2, 'bicubic', 'nearest'))(img))
    assert out.shape == (16, 16, 3) and (out[::2, ::2] == out[1::2, 1::2]).all()  # nearest upsample: 2x2 blocks
    assert not np.array_equal(np.asarray(Degrade('superres:scale=4')(img)), np.asarray(Degrade()(img)))
    with pytest.raises(ValueError, match='filter'): Degrade('superres:down=fancy')

def test_any_folder_of_images(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6): Image.fromarray(rng.integers(0, 255, (90 + i, 120, 3), dtype=np.uint8)).save(tmp_path/f'p{i}.png')
    dls = sr_dls(tmp_path, size=48, bs=2, num_workers=0, erase=False)
    x, y = dls.train.one_batch()
    assert x.shape == y.shape == (2, 3, 48, 48)

@pytest.mark.parametrize('arch', ['tiny_unet', 'tiny_unet_cross'])
def test_untrained_tiny_unet_is_identity_at_any_size(arch):
    m = restorer(arch).eval()
    for shape in ((2, 3, 64, 64), (1, 3, 37, 50), (1, 3, 9, 9)):
        x = torch.rand(shape)
        assert torch.allclose(m(x), x, atol=1e-6)

def test_encoder_from_classifier_and_freeze_splits():
    clf = classifier('cpu_small', n_out=10)
    for arch in ('tiny_unet', 'dynamic_unet'):
        m = restorer(arch, classifier_model=clf)
        assert torch.equal(m.encoder[0][0].weight if arch == 'tiny_unet' else m.encoder[0][0].weight, clf[1][0].weight)
        assert m.encoder[0][0].weight is not clf[1][0].weight  # copied: the classifier stays intact
        x = torch.rand(2, 3, 40, 56)
        assert m.eval()(x).shape == x.shape
        enc, rest = unet_splitter(m)
        assert len(enc) + len(rest) == len(list(m.parameters())) and enc and rest

def test_learner_freeze_freezes_exactly_the_encoder(tiny_root):
    dls = sr_dls(tiny_root, classes=3, bs=4, num_workers=0)
    clf = classifier('cpu_small', n_out=3)
    learn = restoration_learner(dls, classifier_model=clf)
    learn.freeze()
    bn = lambda m: isinstance(m, nn.modules.batchnorm._BatchNorm)
    enc_convs = [p for m in learn.model.encoder.modules() if not bn(m) for p in m.parameters(recurse=False)]
    assert enc_convs and not any(p.requires_grad for p in enc_convs)
    enc = {id(p) for p in learn.model.encoder.parameters()}
    assert all(p.requires_grad for p in learn.model.parameters() if id(p) not in enc)
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())

def test_feature_loss_gradients_and_contract():
    torch.manual_seed(0)
    clf = classifier('cpu_small', n_out=5).eval()
    loss = FeatureLoss(clf, layer_ids=(2, 3), layer_wgts=(0.1, 0.1), gram_wgt=1.)
    targ = torch.rand(2, 3, 32, 32)
    pred = targ.clone().requires_grad_()
    assert loss(pred, targ).item() == pytest.approx(0, abs=1e-7)
    pred = (targ + 0.1 * torch.randn_like(targ)).requires_grad_()
    l = loss(pred, targ)
    l.backward()
    assert l > torch.nn.functional.mse_loss(pred, targ) and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.net.parameters())
    with torch.no_grad():  # the classifier sees [0,1] images and normalises them itself
        assert torch.equal(loss.features(targ)[0], clf[:3](targ))
    with pytest.raises(ValueError, match='outside'): FeatureLoss(clf, layer_ids=(len(clf) - 1,))

@pytest.mark.parametrize('device', ['cpu', 'meta'])  # meta: a classifier on another device than the CPU, as on a GPU
def test_default_feature_layer_is_the_deepest_with_8x8_features(device):
    clf = classifier('step2').to(device)
    (layer,) = default_feature_layers(clf)
    x = torch.zeros(1, 3, 64, 64, device=device)
    assert clf[:layer + 1](x).shape[-1] == 8 and clf[:layer + 2](x).shape[-1] < 8

def test_metrics_hand_computed():
    a, b = torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 0.1)
    assert psnr(a, b).item() == pytest.approx(20.0, abs=1e-4)  # mse 0.01 -> 20 dB
    assert ssim(torch.rand(2, 3, 16, 16), a.expand(2, 3, 16, 16)).item() < 0.1
    x = torch.rand(2, 3, 16, 16)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)

def test_evaluate_hand_computed_psnr(tmp_path):
    rng = np.random.default_rng(0)
    hr = Image.fromarray(rng.integers(0, 255, (41, 30, 3), dtype=np.uint8))  # odd size: cropped to 40x30
    hr.save(tmp_path/'a.png')
    row = evaluate_sr(tmp_path, 2)['images'][0]
    c = hr.crop((0, 0, 30, 40))
    bic = np.asarray(c.resize((15, 20), Image.BICUBIC).resize((30, 40), Image.BICUBIC), dtype=np.float64) / 255
    ref = np.asarray(c, dtype=np.float64) / 255
    y = lambda a: 16 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]
    mse = ((y(bic) - y(ref))[2:-2, 2:-2] ** 2).mean()
    assert row['bicubic_psnr'] == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-6)
    model_row = evaluate_sr(tmp_path, 2, restorer().eval())['images'][0]
    assert model_row['model_psnr'] == pytest.approx(model_row['bicubic_psnr'], abs=0.05)  # identity model ~ bicubic

def test_tiled_equals_untiled():
    torch.manual_seed(0)
    local = Restorer(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))).eval()
    x = torch.rand(3, 150, 203)
    with torch.inference_mode(): full = local(x[None])[0]
    assert torch.allclose(refine(local, x, tile=64, overlap=8), full, atol=1e-5)
    with pytest.raises(ValueError, match='overlap'): refine(local, x, tile=32, overlap=16)

@pytest.mark.parametrize('w,sm,tile', [(2048, 1, 512), (2048, 2, 512), (640, 2, 128), (9000, 1, 512), (2048, 1, 2048)])
def test_strips_fill_whole_tiles_within_the_memory_budget(w, sm, tile):
    from superres.inference import STRIP_PIXELS, _starts, _strip_rows
    rows, overlap = _strip_rows(w, sm, tile, 32), 32
    assert rows * w <= max(STRIP_PIXELS, tile * tile) or rows == 4 * overlap
    read = round(sm * (rows + 2 * overlap))  # a middle strip with its context rows, as the model reads it
    if read > tile: assert (read - overlap) % (tile - overlap) == 0  # no tile row computed twice over most of its height
    assert len(_starts(read, tile, tile - overlap)) == max(1, -(-(read - overlap) // (tile - overlap)))

def test_gpu_out_of_memory_says_what_to_do():
    class Hungry(nn.Module):
        config = dict(scale=1)
        def __init__(self): super().__init__(); self.w = nn.Parameter(torch.zeros(1))
        def forward(self, x): raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 8.00 GiB')
    with pytest.raises(ValueError, match='smaller --tile, e.g. 256'): refine(Hungry(), torch.rand(3, 40, 40), tile=512)

MODES = ['1', 'L', 'LA', 'P', 'RGB', 'RGBA', 'CMYK', 'I;16', 'I', 'F']

@pytest.mark.parametrize('mode', MODES)
def test_upscale_every_mode(mode):
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (13, 17, 3), dtype=np.uint8)).convert('RGBA' if mode in ('RGBA', 'LA') else 'RGB')
    if mode in ('I;16', 'I'): img = Image.fromarray((rng.random((13, 17)) * 65535).astype(np.uint16)).convert(mode) if mode == 'I' else Image.fromarray((rng.random((13, 17)) * 65535).astype(np.uint16))
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

def test_exif_orientation_icc_and_never_overwrite(tmp_path):
    img = Image.new('RGB', (20, 10), (10, 200, 30))
    exif = img.getexif(); exif[0x0112] = 6  # rotate 90 on display
    icc = b'fake-icc-profile' * 4
    img.save(tmp_path/'in.jpg', exif=exif.tobytes(), icc_profile=icc)
    model = restorer().eval()
    out_dir = tmp_path/'out'
    res = restore_files(model, [tmp_path/'in.jpg'], out_dir)
    with Image.open(out_dir/'in.jpg') as o:
        assert o.size == (20, 40) and o.info.get('icc_profile') == icc and o.getexif().get(0x0112, 1) == 1
    before = (out_dir/'in.jpg').read_bytes()
    res = restore_files(model, [tmp_path/'in.jpg'], out_dir)
    assert 'exists' in res[0][2][0] and (out_dir/'in.jpg').read_bytes() == before
    with pytest.raises(ValueError, match='is an input'): restore_files(model, [tmp_path/'in.jpg'], tmp_path)

def test_other_scales_by_repeated_passes():
    out, notes = upscale_image(restorer().eval(), Image.new('RGB', (10, 8)), scale=3)
    assert out.size == (30, 24) and '2 pass' in notes[0] and 'resized' in notes[0]
    out, notes = upscale_image(restorer().eval(), Image.new('RGB', (10, 8)), scale=4)
    assert out.size == (40, 32) and '2 pass' in notes[0] and 'resized' not in notes[0]

def test_perceptual_learner_exports_light_and_loads(tiny_root, tmp_path):
    from superres.learner import export_learner
    from fastai.learner import load_learner
    dls = sr_dls(tiny_root, classes=3, bs=4, num_workers=0)
    clf = classifier('cpu_small', n_out=3)
    learn = restoration_learner(dls, loss='perceptual', classifier_model=clf, feature_layers=(3,), precision='fp32')
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    export_learner(learn, tmp_path/'e.pkl')
    assert isinstance(learn.loss_func, FeatureLoss)
    loaded = load_learner(tmp_path/'e.pkl')
    assert not isinstance(loaded.loss_func, FeatureLoss)
    x, model = torch.rand(1, 3, 64, 64), learn.model.cpu().eval()  # compared on the CPU, where load_learner puts models
    assert torch.allclose(loaded.model.eval()(x), model(x), atol=1e-5)
    save_model(model, tmp_path/'m.pth')
    assert torch.allclose(load_restorer(tmp_path/'m.pth', device='cpu')(x), model(x), atol=1e-5)

def run(*args): return subprocess.run([sys.executable, '-m', 'superres', *map(str, args)], capture_output=True, text=True)

def test_cli_train_upscale_evaluate(tiny_root, tmp_path):
    out = tmp_path/'run'
    r = run('train', '--data', tiny_root, '--classes', '3', '--epochs', '1', '--bs', '4', '--out', out)
    assert r.returncode == 0, r.stderr
    for name in ('model.pth', 'export.pkl', 'history.csv', 'history.png', 'results.png', 'metrics.json'): assert (out/name).is_file()
    imgs = tmp_path/'imgs'; imgs.mkdir()
    Image.new('RGB', (30, 20), (1, 2, 3)).save(imgs/'a b é.png')
    r = run('upscale', imgs, '-o', tmp_path/'up', '--model', out)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path/'up'/'a b é.png').size == (60, 40)
    r = run('evaluate', '--hr-dir', imgs, '--model', out, '--json', tmp_path/'e.json')
    assert r.returncode == 0 and 'bicubic' in r.stdout and 'model' in r.stdout
    assert set(json.loads((tmp_path/'e.json').read_text())['mean']) == {'bicubic_psnr', 'bicubic_ssim', 'model_psnr', 'model_ssim'}
    r = run('upscale', imgs, '-o', tmp_path/'up2', '--model', tmp_path/'missing')
    assert r.returncode == 2 and 'does not exist' in r.stderr

def test_sr_resnet_works_in_low_resolution_and_starts_as_bicubic(tiny_root, tmp_path):
    import torch.nn.functional as F
    from superres.models import takes_lr
    model = restorer('sr_resnet', scale=3).eval()
    x = torch.rand(2, 3, 10, 14)
    assert torch.allclose(model(x), F.interpolate(x, scale_factor=3, mode='bicubic'), atol=1e-5)
    assert takes_lr(model) and not takes_lr(restorer())
    dls = sr_dls(tiny_root, scale=2, size=48, classes=3, bs=4, erase=False, num_workers=0)
    learn = train_restorer(tmp_path/'run', data=tiny_root, arch='sr_resnet', loss='l1', classes=3, epochs=1, bs=4,
                           size=48, erase=False, precision='fp32', seed=0)
    xb, yb = learn.dls.one_batch()
    assert xb.shape[-2:] == (24, 24) and yb.shape[-2:] == (48, 48)
    loaded = load_restorer(tmp_path/'run')
    assert loaded.config['arch'] == 'sr_resnet' and torch.equal(loaded.net.up[0].weight, learn.model.net.up[0].weight)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8))
    out, _ = upscale_image(loaded, img, tile=64, overlap=16)
    whole, _ = upscale_image(loaded, img, tile=1024)
    assert out.size == (180, 140) and np.abs(np.asarray(out, dtype=int) - np.asarray(whole, dtype=int)).max() <= 3
    with pytest.raises(ValueError, match='no classifier encoder'): restorer('sr_resnet', classifier_model=classifier('cpu_small'))
    assert dls.train.one_batch()[0].shape[-1] == 48  # the pre-upsampled pipeline is unchanged for the UNets
