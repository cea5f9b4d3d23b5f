"""Segmentation (issue 35): boxes and masks, the constant-box baseline, masks that follow the augmentations of their
images, the segmenter's file and learner, and `superres segment predict`."""
import json

import numpy as np
import pytest
import torch
from conftest import cli_here, run_cli
from PIL import Image

from superres.boxes import NO_BOX, best_constant_box, box_iou, box_masks, mask_boxes, pixel_iou
from superres.errors import DataError, ModelError
from superres.hub import load_restorer, load_segmenter, save_model
from superres.models import SEGMENTERS, restorer, segmenter
from superres.tinyimagenet import TinyImageNet


def test_box_iou_of_hand_made_boxes():
    assert float(box_iou((0, 0, 9, 9), (0, 0, 9, 9))) == 1
    assert float(box_iou((0, 0, 4, 4), (5, 5, 9, 9))) == 0  # touching corners: no pixel in common
    assert float(box_iou((0, 0, 1, 1), (1, 1, 2, 2))) == pytest.approx(1 / 7)  # 1 pixel of 4 + 4 - 1
    assert float(box_iou((0, 0, 3, 3), (0, 0, 1, 1))) == pytest.approx(4 / 16)
    assert float(box_iou(NO_BOX, (0, 0, 3, 3))) == 0
    a, b = torch.tensor([[2, 3, 20, 30], [0, 0, 63, 63]]), torch.tensor([[10, 0, 40, 12], [5, 6, 7, 8]])
    assert torch.allclose(box_iou(a, b).float(), pixel_iou(box_masks(a, 64, 64), box_masks(b, 64, 64)))  # pixels

def test_mask_to_box_and_back():
    mask = torch.zeros(3, 10, 12, dtype=torch.bool)
    mask[0, 2:5, 3:9] = True
    mask[1, 7, 0] = mask[1, 1, 11] = True  # two blobs: the box around both
    assert mask_boxes(mask).tolist() == [[3, 2, 8, 4], [0, 1, 11, 7], list(NO_BOX)]
    assert torch.equal(box_masks(mask_boxes(mask[0]), 10, 12), mask[0])
    assert not box_masks(NO_BOX, 10, 12).any()

def test_best_constant_box_on_toy_boxes():
    assert best_constant_box([(2, 3, 5, 6)] * 4, size=8, step=4) == ((2, 3, 5, 6), 1.0)
    boxes = torch.tensor([(0, 0, 7, 7), (0, 0, 3, 3), (4, 4, 7, 7), (1, 2, 6, 5), (0, 4, 3, 7)])
    box, score = best_constant_box(boxes, size=8, step=4)
    every = torch.tensor([(x0, y0, x1, y1) for x0 in range(8) for x1 in range(x0, 8)
                          for y0 in range(8) for y1 in range(y0, 8)])
    brute = box_iou(every[:, None], boxes[None]).mean(1)  # every box of an 8x8 image
    assert score == pytest.approx(float(brute.max())) and float(box_iou(box, boxes).mean()) == pytest.approx(score)

RED = (230, 20, 20)

def _object_images(folder, n=8):
    "Grey noise with a red box at a different, lopsided place in each image: where the object is, by colour."
    rng, boxes = np.random.default_rng(0), {}
    for i in range(n):
        a = rng.integers(80, 170, (64, 64, 3), dtype=np.uint8)
        box = (3 + 5 * i, 2 + 3 * i, 20 + 5 * i, 50 + i // 2)
        a[box[1]:box[3] + 1, box[0]:box[2] + 1] = RED
        f = folder/f'im{i}.png'
        Image.fromarray(a).save(f)
        boxes[f] = box
    return boxes

def test_masks_follow_their_images_under_crop_and_flip(tmp_path):
    from superres.data import segmentation_dblock
    boxes = _object_images(tmp_path)
    items = sorted(boxes)
    dls = segmentation_dblock(items, boxes.__getitem__, lambda f: f == items[-1]).dataloaders(tmp_path, bs=7,
                                                                                             num_workers=0)
    originals, moved = [box_masks(boxes[f], 64, 64) for f in items], 0
    for _ in range(4):  # several draws of crop and flip
        x, y = (t.as_subclass(torch.Tensor) for t in dls.train.one_batch())
        red = (x[:, 0] > 0.8) & (x[:, 1] < 0.2) & (x[:, 2] < 0.2)
        assert set(y.unique().tolist()) <= {0, 1} and torch.equal(red, y.bool()), 'the mask is the red box'
        moved += sum(not any(torch.equal(m, o) for o in originals) for m in y.bool())  # the batch is shuffled
    assert moved > 0, 'the augmentations moved masks (the check above meant something)'

def test_tiny_imagenet_boxes_of_both_splits(tiny_root, fresh_tiny):
    tin = TinyImageNet(tiny_root, classes=2)
    assert tin.box(tin.train_files()[1]) == (5, 8, 41, 60) and tin.box(tin.val_files()[0]) == (0, 0, 63, 63)
    tin = TinyImageNet(fresh_tiny, classes=1)
    (fresh_tiny/'train'/tin.wnids[0]/f'{tin.wnids[0]}_boxes.txt').unlink()
    with pytest.raises(DataError, match='no box for it'): tin.box(tin.train_files()[0])

@pytest.mark.parametrize('arch', list(SEGMENTERS))
def test_segmenter_file_round_trip_and_kind(tmp_path, arch):
    torch.manual_seed(0)
    model = segmenter(arch, size=32).eval()
    x = torch.rand(2, 3, 50, 70)
    assert model(x).shape == (2, 2, 50, 70), 'logits of both classes at the input size'
    loaded = load_segmenter(save_model(model, tmp_path/'model.pth'))
    assert torch.allclose(loaded(x), model(x), atol=1e-5)
    assert (loaded.card.kind, loaded.card.size, loaded.card.codes) == ('segmenter', 32, ('background', 'object'))
    with pytest.raises(ModelError, match='is a segmentation model, not a restoration model'):
        load_restorer(tmp_path/'model.pth')

def test_segmenter_refuses_another_kind(tmp_path):
    with pytest.raises(ModelError, match='is a restoration model, not a segmentation model'):
        load_segmenter(save_model(restorer(), tmp_path/'sr.pth'))

def test_pretrained_segmenter_starts_from_the_classifier_and_freezes_it(tiny_root):
    from superres.data import segmentation_dls
    from superres.hub import load_classifier
    from superres.learner import segmentation_learner
    clf = load_classifier()
    dls = segmentation_dls(tiny_root, classes=2, bs=4, num_workers=0)
    learn = segmentation_learner(dls, 'tiny_unet', clf, size=32, precision='fp32')
    assert torch.equal(learn.model.encoder[0][0].weight, clf.stem[0].weight), 'a copy of the encoder'
    learn.freeze()  # fastai's: the encoder's convs frozen, its BatchNorms still train (train_bn)
    convs = [m for m in learn.model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and not any(m.weight.requires_grad for m in convs)
    assert all(p.requires_grad for p in learn.model.net.ups.parameters()), 'the decoder trains'
    scratch = segmentation_learner(dls, 'tiny_unet', clf, pretrained=False, size=32, precision='fp32')
    assert not torch.equal(scratch.model.encoder[0][0].weight, clf.stem[0].weight)
    assert scratch.model.card.config['encoder']['nfs'] == clf.card.config['nfs'], "the classifier's architecture, fresh"

def test_train_segmenter_writes_a_scored_run(tiny_root, tmp_path):
    from superres.configs import DataConfig, FineTuneConfig
    from superres.recipes import train_segmenter
    out = tmp_path/'run'
    train_segmenter(out, DataConfig(tiny_root, classes=2, bs=4, size=32, num_workers=0),
                    FineTuneConfig(epochs=1, freeze_epochs=1, precision='fp32', seed=0), arch='tiny_unet')
    metrics = json.loads((out/'metrics.json').read_text())
    tin = TinyImageNet(tiny_root, classes=2)
    constant = best_constant_box([tin.box(f) for f in tin.train_files()])[0]
    assert metrics['images'] == 4 and 0 <= metrics['box_iou'] <= 1 and metrics['constant_box'] == list(constant)
    assert metrics['epochs'] == 2 and np.asarray(Image.open(out/'results.png').convert('L')).std() > 10, 'a picture'
    assert load_segmenter(out).card.config['pretrained_encoder']

@pytest.fixture(scope='module')
def seg_model(tmp_path_factory):
    "An untrained segmenter's weights file: what the command writes, not how well it finds objects."
    torch.manual_seed(0)
    model = segmenter('tiny_unet', size=32).eval()
    return save_model(model, tmp_path_factory.mktemp('seg')/'model.pth')

def test_cli_segment_predict_writes_overlay_mask_and_boxes(tmp_path, seg_model):
    (tmp_path/'in').mkdir()
    src = tmp_path/'in'/'photo.jpg'
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(src)
    (tmp_path/'in'/'broken.png').write_bytes(b'not an image')
    r = run_cli('segment', 'predict', tmp_path/'in', '-o', tmp_path/'out', '--model', seg_model)
    assert r.returncode == 1 and r.stderr.count('\n') == 1 and 'broken.png: FAILED' in r.stderr, r.stderr
    overlay, mask = Image.open(tmp_path/'out'/'photo.jpg'), Image.open(tmp_path/'out'/'masks'/'photo.png')
    assert overlay.size == mask.size == (80, 48) and mask.mode == 'L'
    assert set(np.unique(np.asarray(mask)).tolist()) <= {0, 255}
    boxes = json.loads((tmp_path/'out'/'boxes.json').read_text())
    on = torch.from_numpy(np.asarray(mask) > 127)
    expected = None if not on.any() else mask_boxes(on).tolist()
    assert boxes == {str(src): expected}, 'the box around the mask written'
    again = run_cli('segment', 'predict', src, '-o', tmp_path/'out', '--model', seg_model, '--json', '-')
    assert again.returncode == 0 and json.loads(again.stdout) == boxes and 'skipped' not in again.stdout

@pytest.mark.parametrize('name', ['boxes.json', 'mine.json'])
def test_cli_segment_predict_keeps_a_json_file_it_did_not_write(tmp_path, seg_model, name):
    src, out = tmp_path/'photo.png', tmp_path/'out'
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(src)
    out.mkdir()
    (out/name).write_text('{"my": "notes"}')
    json_args = [] if name == 'boxes.json' else ['--json', out/name]
    r = run_cli('segment', 'predict', src, '-o', out, '--model', seg_model, *json_args)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'is not a box list this command wrote' in r.stderr
    assert (out/name).read_text() == '{"my": "notes"}' and not (out/'photo.png').exists(), 'refused before any work'
    r = run_cli('segment', 'predict', src, '-o', out, '--model', seg_model, *json_args, '--overwrite')
    assert r.returncode == 0 and list(json.loads((out/name).read_text())) == [str(src)]

@pytest.mark.parametrize('args, message', [
    (['--model', 'SR'], 'is a restoration model, not a segmentation model'),
    (['--model', 'NOPE'], 'does not exist'),
    ([], 'the following arguments are required: --model'),
])
def test_cli_segment_predict_refuses_bad_input_in_one_line(tmp_path, sr_model, capsys, args, message):
    args = [{'SR': sr_model, 'NOPE': tmp_path/'nope'}.get(a, a) for a in args]
    rc, _, err = cli_here(capsys, 'segment', 'predict', tmp_path/'x.png', '-o', tmp_path/'out', *args)
    assert rc == 2 and err.count('\n') == 1 and message in err, err
