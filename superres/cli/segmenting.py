"""The segmentation commands: `segment train` (a UNet on the masks of Tiny ImageNet's boxes) and `segment predict`."""
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

from ..errors import UsageError
from .options import add_image_io, add_training, add_trust, call, emit_json, positive, report_outcomes, report_run

__all__ = ['add_segment_train_args', 'cmd_segment_train', 'add_segment_predict_args', 'cmd_segment_predict']

def add_segment_train_args(p):
    from ..models import SEGMENTERS
    from ..recipes import train_segmenter
    d = add_training(p, train_segmenter, files='model.pth, export.pkl, results.png')
    p.add_argument('--arch', choices=list(SEGMENTERS), default=d['arch'], help="dynamic_unet: fastai's "
                   'DynamicUnet on the classifier\'s stem and stages; tiny_unet: the lesson\'s UNet, a light decoder '
                   f'on the same encoder, about 3x faster on a CPU (default {d["arch"]})')
    p.add_argument('--classifier', help='classifier run folder or model file whose stem and stages are the encoder '
                   '(default: the shipped Tiny ImageNet classifier)')
    p.add_argument('--no-pretrained', dest='pretrained', action='store_false', help="the classifier's architecture "
                   'with fresh weights: the UNet trains from scratch (default: its weights, fine-tuned as fastai\'s '
                   'fine_tune, the encoder frozen for --freeze-epochs first)')
    p.add_argument('--freeze-epochs', type=positive(int, zero=True), default=d['freeze_epochs'],
                   help=f'epochs with the pretrained encoder frozen, before --epochs (default {d["freeze_epochs"]})')
    p.add_argument('--val-per-class', type=positive(int), help='validate and score on the first N val images of each '
                   'class (default all 50)')
    add_trust(p)

def cmd_segment_train(a):
    from ..hub import load_classifier
    from ..recipes import train_segmenter
    call(train_segmenter, a, skip=('trust_pickle',), classifier=load_classifier(a.classifier, a.trust_pickle))
    report_run(a.out, 'model.pth, export.pkl, history.csv, history.png, results.png')

def add_segment_predict_args(p):
    add_image_io(p, 'segmented')
    p.add_argument('--model', required=True, help='run folder written by segment train, or its model.pth / export.pkl')
    p.add_argument('--json', metavar='FILE', help='write the box around each mask, [x0, y0, x1, y1] in pixels with '
                   'both ends included (null: no object), as JSON to FILE (default OUTPUT/boxes.json; -: to standard '
                   'output instead of the lines per image); a FILE this command did not write is kept unless '
                   '--overwrite')
    add_trust(p)

def cmd_segment_predict(a):
    "Overlays (mask tinted, box drawn) and masks/NAME.png per image, the boxes as JSON; one bad image fails alone."
    from ..folders import segment_files
    from ..hub import load_segmenter
    model = load_segmenter(a.model, a.trust_pickle)
    boxes_file = _boxes_file(a.json or Path(a.output)/'boxes.json', a.overwrite)
    with redirect_stdout(sys.stderr if a.json == '-' else sys.stdout):  # fastprogress writes even when hidden
        rows, boxes = segment_files(model, a.inputs, a.output, a.overwrite)
    emit_json(boxes_file, boxes)
    return report_outcomes(rows, lines=a.json != '-')

def _boxes_file(dest, overwrite):
    "`dest`, checked before any work: a file there is replaced only if an earlier `segment predict` wrote it."
    if dest == '-' or overwrite or not Path(dest).exists() or _is_box_summary(dest): return dest
    raise UsageError(f'{dest} exists and is not a box list this command wrote: pass --json FILE to write the boxes '
                     'elsewhere, or --overwrite to replace it')

def _is_box_summary(path):
    "Whether `path` holds what `segment predict` writes: image names, each with null or four integers."
    try: boxes = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError): return False
    def is_box(b): return b is None or (isinstance(b, list) and len(b) == 4 and all(type(v) is int for v in b))
    return isinstance(boxes, dict) and all(is_box(b) for b in boxes.values())
