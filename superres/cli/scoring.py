"""The commands that score: `evaluate` (PSNR/SSIM against baselines) and `fid`."""
import sys
from pathlib import Path

from ..files import printable
from .options import (
    add_backend,
    add_json,
    add_model,
    add_precision,
    add_strength,
    add_tiling,
    add_trust,
    add_tta,
    emit_json,
    positive,
    scale_factor,
    task_help,
    task_model,
    task_spec,
)

__all__ = ['add_evaluate_args', 'cmd_evaluate', 'add_fid_args', 'cmd_fid']

def add_evaluate_args(p):
    from ..degradations import FILTERS
    p.add_argument('--hr-dir', required=True, help='folder of clean images (or a Tiny ImageNet zip/folder: its val '
                   'images)')
    p.add_argument('--task', type=task_spec, help=task_help("the task to evaluate (default: the model's own, else "
                   'superres); other tasks degrade each image repeatably and score RGB PSNR/SSIM against the input and '
                   "the task's classic method. Tasks"))
    p.add_argument('--seed', type=int, default=0, help='other tasks: image i is degraded with seed + i (default 0)')
    p.add_argument('--scale', type=scale_factor(int),
                   help="scale of the SR protocol (default: the model's own, else 2)")
    add_model(p, 'superres train (default: the shipped model of --scale for superres; none: the baselines alone)')
    add_strength(p)
    add_tta(p)
    add_tiling(p)
    p.add_argument('--limit', type=positive(int), help='evaluate only the first N images')
    add_precision(p, default='fp32')
    add_backend(p)
    p.add_argument('--baselines', nargs='+', choices=list(FILTERS), default=['bicubic'],
                   help='non-learned upsampling rows (default bicubic)')
    p.add_argument('--per-image', action='store_true', help='print a row per image')
    p.add_argument('--classifier', nargs='?', const='default', help='adds FID/KID of each method against the '
                   'targets, from the features of this classifier (run folder or model file; alone: the shipped one) '
                   'on 64x64 patches')
    add_json(p, 'the results')
    add_trust(p)

def _evaluated_model(a):
    "The model `evaluate` scores: --model, the shipped one for superres when none is given, or none (`none`)."
    from ..inference import SelfEnsemble
    if a.model == 'none' or (a.model is None and a.task is not None and a.task.name != 'superres'): return None
    model = task_model(a.model, a.task, a.trust_pickle, _task_scale(a), a.strength, a.backend, a.precision)
    return SelfEnsemble(model) if a.tta else model

def _task_scale(a):
    "The scale asked for: --scale, else that of a superres --task (real+superres:scale=4 is x4)."
    return a.scale or (a.task.scale if a.task is not None and a.task.scale > 1 else None)

def cmd_evaluate(a):
    from ..evaluate import evaluate
    from ..hub import load_classifier
    from ..tinyimagenet import find_tiny_imagenet, is_tiny_imagenet
    model = _evaluated_model(a)
    task = a.task or (model.card.task if model is not None else task_spec('superres'))
    clf = load_classifier(a.classifier, a.trust_pickle) if a.classifier else None
    hr = Path(a.hr_dir)
    if hr.is_file() or (hr.is_dir() and is_tiny_imagenet(hr)): hr = find_tiny_imagenet(hr)/'val'/'images'
    bar = sys.stdout.isatty() and a.json != '-'  # a progress bar for a person, not in a pipe or JSON on stdout
    scale = _task_scale(a) or (model.card.scale if model is not None else 2)
    report = evaluate(hr, task, model, scale=scale, limit=a.limit, seed=a.seed, baselines=a.baselines,
                      classifier=clf, tile=a.tile, precision=a.precision, progress=bar)
    if a.json: emit_json(a.json, report)
    if a.json != '-': _print_report(report, a)
    for f, why in report['skipped'].items(): print(printable(f'{f}: SKIPPED: {why}'), file=sys.stderr)
    return 1 if report['skipped'] else None

def _print_report(report, a):
    "The evaluation table: a row per method, FID/KID and colourfulness columns when measured."
    names, mean, dist = report['methods'], report['mean'], report.get('distances')
    colour, sr = 'target_colorfulness' in mean, 'scale' in report
    what = (f"x{report['scale']}" + (f" from {report['task']}, seed {report['seed']}" if 'task' in report else '')
            if sr else f"{report['task']}, seed {report['seed']}; PSNR/SSIM on RGB")
    if a.per_image:
        for r in report['images']:
            print(f"{printable(r['image']):<24}" +
                  ''.join(f"{r[f'{n}_psnr']:>10.2f} dB {r[f'{n}_ssim']:.4f}" for n in names))
    y = '-Y' if sr else ''
    extra = (f'{"FID":>9}{"KID x1000":>11}' if dist else '') + (f'{"colourful":>11}' if colour else '')
    print(f'{"method":<10}{"PSNR" + y + " (dB)":>12}{"SSIM" + y:>9}{extra}   ({len(report["images"])} images from '
          f'{report["images_dir"]}, {what})')
    for n in names:
        extra = (f"{dist[n]['fid']:>9.3f}{dist[n]['kid']*1e3:>11.3f}" if dist else '')
        extra += f"{mean[f'{n}_colorfulness']:>11.2f}" if colour else ''
        print(f"{n:<10}{mean[f'{n}_psnr']:>12.2f}{mean[f'{n}_ssim']:>9.4f}{extra}")
    for note in report.get('notes', []): print(f'note: {note}')
    if colour: print(f"target colourfulness {mean['target_colorfulness']:.2f} (Hasler & Suesstrunk; 0 is gray)")
    if dist:
        clf = 'the shipped classifier' if a.classifier == 'default' else a.classifier
        print(f"FID/KID: features of {clf} on {dist[names[0]]['n_a']} 64x64 patches, against the targets")

def add_fid_args(p):
    p.add_argument('a', help='image folder or file (e.g. real images)')
    p.add_argument('b', help='image folder or file (e.g. generated or restored images)')
    p.add_argument('--classifier', help='run folder of `superres classify train`, or its model.pth (default: the '
                   'shipped classifier): its own normalisation is applied, so images are compared as it was trained to '
                   'see them')
    p.add_argument('--layer', type=int, help='body layer whose (pooled) features are compared (default: the pooled '
                   'features before the head)')
    p.add_argument('--patches', action='store_true', help='compare non-overlapping patches at native resolution '
                   "(for restoration) instead of whole images resized to the classifier's size")
    p.add_argument('--size', type=positive(int), help="image or patch side fed to the classifier (default: its "
                   'training size)')
    add_json(p, 'the results')
    add_trust(p)

def cmd_fid(a):
    from ..fid import feature_distances
    from ..hub import load_classifier
    clf = load_classifier(a.classifier, a.trust_pickle)
    res = feature_distances(a.a, a.b, clf, layer=a.layer, patches=a.patches, size=a.size)
    if a.json: emit_json(a.json, dict(res, a=a.a, b=a.b, classifier=a.classifier or 'default'))
    if a.json == '-': return
    print(f"FID {res['fid']:.4f}   KID {res['kid']:.6f} +- {res['kid_std']:.6f}   ({res['n_a']} vs {res['n_b']} "
          f"{'patches' if a.patches else 'images'}, {res['dim']} features)")
    if min(res['n_a'], res['n_b']) <= res['dim']:
        print(f"note: fewer samples than feature dimensions ({res['dim']}): FID is biased upwards, so compare it only "
              'between runs with equal counts; KID is unbiased')
