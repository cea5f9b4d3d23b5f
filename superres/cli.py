"""The `superres` command: parses arguments and calls the library, nothing more."""
import argparse, json, os, sys, warnings
from pathlib import Path

warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')

__all__ = ['Parser', 'main', 'parser']

class Parser(argparse.ArgumentParser):
    "Usage errors as one line that points at --help, instead of the whole usage text."
    def error(self, message): self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')

def _positive(kind, zero=False):
    def parse(s):
        v = kind(s)
        if v < 0 or (v == 0 and not zero): raise argparse.ArgumentTypeError(f'must be {"zero or more" if zero else "positive"}, got {s}')
        return v
    return parse

def _probability(s):
    v = float(s)
    if not 0 <= v <= 1: raise argparse.ArgumentTypeError(f'must be a probability between 0 and 1, got {s}')
    return v

def _task_spec(spec):
    "A restoration task spec, checked while parsing so a typo is a usage error."
    from .degradations import parse_degradation
    try: parse_degradation(spec)
    except ValueError as e: raise argparse.ArgumentTypeError(str(e)) from None
    return spec

def _add_image_io(p, out):
    p.add_argument('inputs', nargs='+', help='image files or folders')
    p.add_argument('-o', '--output', default=out, help=f'output folder (default ./{out}; file names are kept, inputs are '
                   'never overwritten)')
    p.add_argument('--overwrite', action='store_true', help='replace existing files in the output folder')

def _add_inference_options(p):
    from .inference import GPU_TILE, OVERLAP, TILE
    p.add_argument('--tile', type=_positive(int), help=f'tile size in pixels of the image the model reads (for x2 '
                   f'models working at low resolution, the input), bounds memory (default {TILE} on a CPU, {GPU_TILE} on a GPU)')
    p.add_argument('--overlap', type=int, default=OVERLAP, help=f'tile overlap in the same pixels, blended (default {OVERLAP})')
    p.add_argument('--precision', choices=PRECISIONS, default='auto', help='auto (default): bf16 where it is '
                   'native (GPUs from Ampere on: 1.7x fp32 on an H100; CPUs with AVX512-BF16/AMX: about 2x), fp16 on older GPUs, '
                   'else fp32; PSNR within 0.005 dB of fp32. fp16: CUDA only')

def _add_trust(p):
    p.add_argument('--trust-pickle', action='store_true', help='allow loading a pickled learner (.pkl): it can run any '
                   'code, so only for files you made yourself (default: weights-only model.pth files)')

def _add_skip_bad(p):
    p.add_argument('--skip-bad-images', action='store_true', help='decode every image first and leave out unreadable '
                   'ones with a warning (default: stop at the first, naming it)')

def _add_data_args(p, subset=True):
    p.add_argument('--data', help='Tiny ImageNet zip or folder (default: $SUPERRES_DATA, then fastai\'s data folder, then download)')
    if subset:
        p.add_argument('--classes', type=_positive(int), help='use only the first N wnids (default: all 200)')
        p.add_argument('--per-class', type=_positive(int), help='use only the first M training images of each class (default: all)')

def cmd_data(a):
    from .data import TinyImageNet, find_tiny_imagenet, image_stats
    root = find_tiny_imagenet(a.data)
    if a.action == 'check':
        tin = TinyImageNet(root)
        print(f'ok: {root} ({len(tin.wnids)} classes, {len(tin.val_labels)} val images)')
    elif a.action == 'stats':
        tin = TinyImageNet(root, classes=a.classes, per_class=a.per_class)
        mean, std = image_stats(tin.train_files(), n=a.sample)
        print(json.dumps(dict(root=str(root), classes=len(tin.wnids), train_images=len(tin.train_files()),
                              val_images=len(tin.val_labels), mean=mean, std=std, stats_sample=a.sample), indent=1))
    else:
        from .data import show_batch_png
        print(show_batch_png(root, a.output, classes=a.classes, per_class=a.per_class, n=a.n))

def _report_run(out, files):
    "The run's final metrics, printed once (by rank 0 when data-parallel)."
    from .distributed import is_main_process
    if not is_main_process(): return
    print(json.dumps(json.loads((Path(out)/'metrics.json').read_text())))
    print(f'wrote {out}/{files}')

def cmd_classify_train(a):
    from .learner import train_classifier
    train_classifier(a.out, data=a.data, preset=a.preset, classes=a.classes, per_class=a.per_class,
                     epochs=a.epochs, budget=a.budget, bs=a.bs, lr=a.lr, size=a.size,
                     label_smoothing=a.label_smoothing, wd=a.wd, precision=a.precision, augment=not a.no_augment,
                     trivial_augment=not a.no_trivial_augment, erase=a.erase, pipeline=a.pipeline, progressive=a.progressive, seed=a.seed, resume=a.resume,
                     skip_bad=a.skip_bad_images, tta=a.tta, ema=a.ema)
    _report_run(a.out, 'model.pth, export.pkl, history.csv, history.png')

def cmd_classify_predict(a):
    from .inference import load_classifier, predict_topk
    model = load_classifier(a.model, a.trust_pickle)
    rows = predict_topk(model, a.images, k=a.k)
    if a.json: print(json.dumps({str(f): [dict(name=n, wnid=w, prob=p) for n, w, p in r] for f, r in zip(a.images, rows)}))
    else:
        for f, r in zip(a.images, rows):
            print(f)
            for n, w, p in r: print(f'  {p:6.1%}  {n} ({w})')

def cmd_train(a):
    from .learner import train_restorer
    train_restorer(a.out, data=a.data, task=a.task, arch=a.arch, loss=a.loss, classifier_path=a.classifier, trust_pickle=a.trust_pickle, scale=a.scale,
                   classes=a.classes, per_class=a.per_class, val_per_class=a.val_per_class, epochs=a.epochs, budget=a.budget, bs=a.bs, lr=a.lr,
                   size=a.size, preset=a.preset, freeze_epochs=a.freeze_epochs, down=a.down, up=a.up,
                   erase=not a.no_erase, pretrained=not a.no_pretrained, feature_layers=a.feature_layers,
                   precision=a.precision, seed=a.seed, resume=a.resume, skip_bad=a.skip_bad_images, pipeline=a.pipeline)
    _report_run(a.out, 'model.pth, export.pkl, history.csv, history.png, results.png')

def _report(rows):
    "Print one line per image; exit status 1 with a count when some failed."
    for src, dest, notes in rows:
        if dest is None: print(f'{src}: FAILED: {notes[0]}', file=sys.stderr)
        else: print(f'{src} -> {dest}' + (f' ({"; ".join(notes)})' if notes else ''))
    failed = [src for src, dest, _ in rows if dest is None]
    if failed:
        print(f'superres: {len(failed)} of {len(rows)} images failed (listed above); the others were written', file=sys.stderr)
        return 1

def _task_model(a, task):
    "The model of `--model` (default: the shipped x2 superres model), checked against the task the user asked for."
    from .degradations import parse_degradation
    from .inference import load_restorer, model_degradation
    if a.model is None and task is not None and parse_degradation(task).name != 'superres':
        raise ValueError(f'superres ships a superres (x2) model only: train one with `superres train --task {task} --out RUN` '
                         'and pass --model RUN')
    model = load_restorer(a.model, a.trust_pickle)
    trained = model_degradation(model)
    if task is not None and parse_degradation(task).name != trained.name:
        raise ValueError(f'{a.model} was trained for the {trained.name} task, not {task}: pass a model trained with --task {task}')
    return model

def cmd_upscale(a):
    from .inference import inference_precision, restore_files
    model = _task_model(a, 'superres')
    with inference_precision(a.precision):
        return _report(restore_files(model, a.inputs, a.output, scale=a.scale, tile=a.tile, overlap=a.overlap, overwrite=a.overwrite))

def cmd_restore(a):
    from .inference import inference_precision, restore_files
    model = _task_model(a, a.task)
    inputs = {k: v for k, v in dict(side=a.side, amount=a.amount).items() if v is not None}
    with inference_precision(a.precision):
        return _report(restore_files(model, a.inputs, a.output, mask=a.mask, tile=a.tile, overlap=a.overlap,
                                     overwrite=a.overwrite, **inputs))

def cmd_degrade(a):
    from .inference import degrade_files
    masks = a.masks or f'{Path(a.output)}-masks'
    rows = degrade_files(a.task, a.inputs, a.output, seed=a.seed, overwrite=a.overwrite, mask_dir=masks)
    if Path(masks).is_dir(): print(f'masks of the removed pixels: {masks}/')
    return _report(rows)

def cmd_export(a):
    from torch import nn
    from .export import export_onnx
    from .inference import load_any, bundled_model_file
    model = load_any(a.model if a.model is not None else bundled_model_file(2), a.trust_pickle)
    if not isinstance(model, nn.Module): raise ValueError(f'{a.model} is already an ONNX model; pass a model.pth or a run folder')
    print(f'wrote {export_onnx(model, a.onnx)} (ONNX, any height and width; `--model` of upscale/restore takes it)')

def cmd_app(a):
    try: from .app import launch
    except ImportError: raise ValueError('the web app needs gradio: pip install "superres[app]"') from None
    launch(a.model, a.port, a.max_pixels, a.trust_pickle, max_upload_mb=a.max_upload_mb)

def cmd_evaluate(a):
    from .data import find_tiny_imagenet, is_tiny_imagenet
    from .files import atomic_write_text
    from .degradations import parse_degradation
    from .inference import evaluate_sr, evaluate_task, inference_precision, load_classifier, model_degradation
    model = _task_model(a, a.task) if a.model else None
    task = a.task or (model_degradation(model).spec if model is not None else 'superres')
    clf = load_classifier(a.classifier, a.trust_pickle) if a.classifier else None
    hr = Path(a.hr_dir)
    if hr.is_file() or (hr.is_dir() and is_tiny_imagenet(hr)): hr = find_tiny_imagenet(hr)/'val'/'images'
    with inference_precision(a.precision):
        if parse_degradation(task).scale > 1:
            report = evaluate_sr(hr, a.scale, model, tile=a.tile, limit=a.limit, baselines=a.baselines, classifier=clf)
            what = f'x{a.scale}'
        else:
            report = evaluate_task(hr, task, model, limit=a.limit, seed=a.seed, classifier=clf, tile=a.tile)
            what = f"{report['task']}, seed {a.seed}; PSNR/SSIM on RGB"
    _print_report(report, what, a)
    if a.json: atomic_write_text(a.json, json.dumps(report, indent=1))

def _print_report(report, what, a):
    "The evaluation table: a row per method, FID/KID and colourfulness columns when measured."
    names, mean, dist = report['methods'], report['mean'], report.get('distances')
    colour = 'target_colorfulness' in mean
    if a.per_image:
        for r in report['images']: print(f"{r['image']:<24}" + ''.join(f"{r[f'{n}_psnr']:>10.2f} dB {r[f'{n}_ssim']:.4f}" for n in names))
    y = '-Y' if 'scale' in report else ''
    extra = (f'{"FID":>9}{"KID x1000":>11}' if dist else '') + (f'{"colourful":>11}' if colour else '')
    src = report.get('hr_dir', report.get('images_dir'))
    print(f'{"method":<10}{"PSNR" + y + " (dB)":>12}{"SSIM" + y:>9}{extra}   ({len(report["images"])} images from {src}, {what})')
    for n in names:
        extra = (f"{dist[n]['fid']:>9.3f}{dist[n]['kid']*1e3:>11.3f}" if dist else '') + (f"{mean[f'{n}_colorfulness']:>11.2f}" if colour else '')
        print(f"{n:<10}{mean[f'{n}_psnr']:>12.2f}{mean[f'{n}_ssim']:>9.4f}{extra}")
    if colour: print(f"target colourfulness {mean['target_colorfulness']:.2f} (Hasler & Suesstrunk; 0 is gray)")
    if dist: print(f"FID/KID: features of {a.classifier} on {dist[names[0]]['n_a']} 64x64 patches, against the targets")

def cmd_fid(a):
    from .files import atomic_write_text
    from .inference import load_classifier
    from .metrics import feature_distances
    res = feature_distances(a.a, a.b, load_classifier(a.classifier, a.trust_pickle), layer=a.layer, patches=a.patches, size=a.size)
    print(f"FID {res['fid']:.4f}   KID {res['kid']:.6f} +- {res['kid_std']:.6f}   ({res['n_a']} vs {res['n_b']} "
          f"{'patches' if a.patches else 'images'}, {res['dim']} features)")
    if min(res['n_a'], res['n_b']) <= res['dim']:
        print(f"note: fewer samples than feature dimensions ({res['dim']}): FID is biased upwards, so compare it only "
              'between runs with equal counts; KID is unbiased')
    if a.json: atomic_write_text(a.json, json.dumps(dict(res, a=a.a, b=a.b, classifier=a.classifier), indent=1))

def parser():
    from .degradations import FILTERS, SIDES, TASKS
    from .models import ARCHS, PRESETS
    task_help = (f'restoration task: {", ".join(TASKS)}; several joined by + (e.g. real+superres), parameters as '
                 'name:key=value,key=lo..hi,key=a|b (e.g. jpeg:quality=5..30); see the README')
    p = Parser(prog='superres', description='Train and use image models on Tiny ImageNet with fastai.')
    sub = p.add_subparsers(dest='command', required=True)

    d = sub.add_parser('data', help='check, describe or preview the Tiny ImageNet data')
    d.add_argument('action', choices=['check', 'stats', 'show'], help='check: validate the layout; stats: counts and '
                   'normalisation stats; show: save a batch with class names as a PNG')
    _add_data_args(d)
    d.add_argument('--sample', type=_positive(int), default=2000, help='images sampled for stats (default 2000)')
    d.add_argument('-o', '--output', default='batch.png', help='PNG written by show (default batch.png)')
    d.add_argument('--n', type=_positive(int), default=16, help='images shown by show (default 16)')
    d.set_defaults(func=cmd_data)

    c = sub.add_parser('classify', help='train a classifier or predict with one').add_subparsers(dest='action', required=True)
    t = c.add_parser('train', help='train a classifier and export it to --out')
    _add_data_args(t)
    _add_skip_bad(t)
    t.add_argument('--out', required=True, help='run folder: model.pth, export.pkl, history.csv, history.png, metrics.json')
    t.add_argument('--preset', choices=list(PRESETS), default='cpu', help='model preset: step1-3 are the reference '
                   'GPU models, cpu and cpu_small are sized for a CPU (default cpu)')
    t.add_argument('--epochs', type=_positive(int), default=5, help='epochs of one-cycle training (default 5)')
    t.add_argument('--budget', type=_positive(float), help='seconds of training: the one-cycle schedule follows the clock and ends on time, instead of --epochs')
    t.add_argument('--bs', type=_positive(int), default=128, help='batch size (default 128)')
    t.add_argument('--lr', type=_positive(float), default=3e-3, help='peak one-cycle learning rate (default 3e-3)')
    t.add_argument('--size', type=_positive(int), default=64, help='image size (default 64, the native size)')
    t.add_argument('--label-smoothing', type=float, default=0.1, help='cross-entropy label smoothing (default 0.1)')
    t.add_argument('--wd', type=_positive(float, zero=True), help="AdamW's decoupled weight decay (default fastai's 0.01)")
    t.add_argument('--precision', choices=PRECISIONS, default='auto',
                   help='auto: fp16 on CUDA, bf16 on a CPU with bf16 support, else fp32')
    t.add_argument('--pipeline', choices=['decoded', 'datablock'], default='decoded', help='decoded (default): images '
                   'decoded once into a memory-mapped cache, augmentations drawn per image on whole batches (4x faster); '
                   'datablock: fastai DataBlock, per-image PIL transforms in worker processes. Same images, same augmentations')
    t.add_argument('--progressive', nargs='?', const=0.5, type=_probability, metavar='FRACTION', help='progressive resizing: '
                   'start at half size, reach full size at FRACTION of the schedule (default 0.5; cheaper early epochs, more epochs in a budget)')
    t.add_argument('--no-augment', action='store_true', help='train without augmentation')
    t.add_argument('--ema', type=_probability, metavar='DECAY', help='validate and keep an exponential moving average of '
                   'the weights with this decay per step (e.g. 0.99; default off: the last weights)')
    t.add_argument('--tta', action='store_true', help="after training, also report val accuracy with fastai's test-time "
                   'augmentation (tta_accuracy: the plain prediction blended with 4 passes of the training augmentations)')
    t.add_argument('--no-trivial-augment', action='store_true', help='keep pad+crop, flip and erasing, leave TrivialAugment out')
    t.add_argument('--erase', type=_probability, default=0.25, help='probability of random erasing per training image (default 0.25; 0: off)')
    t.add_argument('--seed', type=int, help='random seed for a repeatable run')
    t.add_argument('--resume', action='store_true', help='continue an interrupted --epochs run from the checkpoint '
                   'in --out (saved after every epoch; same settings as the first run)')
    t.set_defaults(func=cmd_classify_train)

    pr = c.add_parser('predict', help='top-k classes of images')
    pr.add_argument('images', nargs='+', help='image files')
    pr.add_argument('--model', required=True, help='run folder written by classify train, or a model.pth/export.pkl file')
    pr.add_argument('--k', type=_positive(int), default=5, help='classes shown per image (default 5)')
    pr.add_argument('--json', action='store_true', help='print JSON instead of a table')
    _add_trust(pr)
    pr.set_defaults(func=cmd_classify_predict)
    tr = sub.add_parser('train', help='train a super-resolution (or other restoration) model')
    _add_data_args(tr)
    tr.add_argument('--task', type=_task_spec, default='superres', help=task_help + ' (default superres)')
    _add_skip_bad(tr)
    tr.add_argument('--out', required=True, help='run folder: model.pth, export.pkl, history.csv/png, results.png, metrics.json')
    tr.add_argument('--arch', choices=list(ARCHS), default='tiny_unet',
                    help='tiny_unet: added skips, starts as identity; _cross: convs on the skips; dynamic_unet: fastai '
                    'DynamicUnet; sr_resnet: EDSR-style, works on the low-resolution image (4x cheaper per pixel)')
    tr.add_argument('--loss', choices=['mse', 'l1', 'perceptual'], default='mse',
                    help='pixel loss, or perceptual: MSE + classifier features (needs --classifier)')
    tr.add_argument('--classifier', help='classifier run folder or model file: pretrained encoder and perceptual features')
    tr.add_argument('--no-pretrained', action='store_true', help='with --classifier: use it for the perceptual loss only, train the UNet from scratch')
    tr.add_argument('--feature-layers', type=int, nargs='+', help='classifier layers for the perceptual loss (default: the deepest with 8x8 features)')
    tr.add_argument('--preset', choices=['cpu', 'reference'], default='cpu', help='model size when not built from a '
                    'classifier (sr_resnet: cpu 8 blocks of 64, reference 16 blocks of 64 as EDSR-baseline)')
    tr.add_argument('--val-per-class', type=_positive(int), help='Tiny ImageNet: validate on the first N val images of each class (default all 50)')
    tr.add_argument('--scale', type=int, choices=[2, 3, 4], help='superres task: upscaling factor (default 2)')
    tr.add_argument('--epochs', type=_positive(int), default=5, help='epochs after the frozen ones (default 5)')
    tr.add_argument('--freeze-epochs', type=int, default=1, help='epochs with the pretrained encoder frozen (default 1)')
    tr.add_argument('--budget', type=_positive(float), help='seconds of training: the schedule follows the clock, instead of --epochs')
    tr.add_argument('--bs', type=_positive(int), default=64, help='batch size (default 64)')
    tr.add_argument('--lr', type=_positive(float), default=3e-3, help='peak one-cycle learning rate (default 3e-3)')
    tr.add_argument('--size', type=_positive(int), default=64, help='training crop size (default 64)')
    tr.add_argument('--down', choices=list(FILTERS), help='superres task: downscale filter (default bicubic)')
    tr.add_argument('--up', choices=list(FILTERS), help='superres task: upsample filter (default bicubic; reference: nearest)')
    tr.add_argument('--no-erase', action='store_true', help='no random erasing on the training inputs')
    tr.add_argument('--pipeline', choices=['auto', 'decoded', 'datablock'], default='auto', help='decoded: Tiny ImageNet '
                    'decoded once into a memory-mapped cache, crop/flip/degradation/erasing per image on whole batches (on '
                    'the GPU there); datablock: fastai DataBlock, per-image PIL in worker processes, any folder and task. '
                    'auto (default): decoded where it serves (Tiny ImageNet, --size 64, superres with nearest/bilinear/bicubic)')
    tr.add_argument('--precision', choices=PRECISIONS, default='auto', help='as for classify train')
    tr.add_argument('--seed', type=int, help='random seed for a repeatable run')
    tr.add_argument('--resume', action='store_true', help='continue an interrupted --epochs run from the checkpoint '
                   'in --out (saved after every epoch; same settings as the first run)')
    _add_trust(tr)
    tr.set_defaults(func=cmd_train)

    up = sub.add_parser('upscale', help='upscale images or folders of images')
    _add_image_io(up, 'upscaled')
    up.add_argument('--model', help='run folder written by superres train, or its model.pth (default: the x2 model '
                    'shipped with superres)')
    up.add_argument('--scale', type=_positive(float), help='output scale (default: the model\'s own)')
    _add_inference_options(up)
    _add_trust(up)
    up.set_defaults(func=cmd_upscale)

    rs = sub.add_parser('restore', help='restore images by a trained model\'s task (jpeg, colorize, inpaint, ...)')
    _add_image_io(rs, 'restored')
    rs.add_argument('--task', type=_task_spec, help='the task expected of --model (checked; default: whatever the model was trained for)')
    rs.add_argument('--model', help='run folder of `superres train --task ...`, or its model.pth (default: the shipped x2 superres model)')
    rs.add_argument('--mask', help='inpaint: mask image (white = missing) for all inputs, or a folder of same-named PNG masks '
                    '(as `superres degrade` writes); only a fill=gray model takes images with gray holes and no mask')
    rs.add_argument('--side', choices=SIDES, help='outpaint: the side to extend (default right)')
    rs.add_argument('--amount', type=_positive(float), help='outpaint: how much to extend, as a fraction of the size (default 0.25)')
    _add_inference_options(rs)
    _add_trust(rs)
    rs.set_defaults(func=cmd_restore)

    dg = sub.add_parser('degrade', help='degrade images as a task trains on them: inputs to try a model on')
    _add_image_io(dg, 'degraded')
    dg.add_argument('--task', type=_task_spec, required=True, help=task_help)
    dg.add_argument('--masks', help='folder for the masks of removed pixels, inpaint/outpaint (default: OUTPUT-masks)')
    dg.add_argument('--seed', type=int, default=0, help='image i is degraded with seed + i (default 0)')
    dg.set_defaults(func=cmd_degrade)

    ex = sub.add_parser('export', help='export a model to ONNX (any height and width), to run without PyTorch')
    ex.add_argument('model', nargs='?', help='run folder or model.pth of a classifier or restoration model (default: the '
                    'shipped x2 model)')
    ex.add_argument('--onnx', required=True, help='the .onnx file to write (its config rides in the metadata)')
    _add_trust(ex)
    ex.set_defaults(func=cmd_export)

    ap = sub.add_parser('app', help='a local web app: drop an image, compare before and after, download the result')
    ap.add_argument('--model', action='append', help='run folder or model.pth; repeat for several tasks (default: the '
                    'shipped x2 superres model)')
    ap.add_argument('--port', type=_positive(int), default=7860, help='port on localhost (default 7860)')
    ap.add_argument('--max-pixels', type=_positive(int), default=4_000_000, help='largest input accepted, in pixels (default 4000000)')
    ap.add_argument('--max-upload-mb', type=_positive(float), default=50., help='largest upload accepted, in MiB (default 50): '
                    'bigger files are refused before they are read')
    _add_trust(ap)
    ap.set_defaults(func=cmd_app)

    from .inference import GPU_TILE, TILE
    ev = sub.add_parser('evaluate', help='PSNR/SSIM (Y channel, standard SR protocol) of a model against classic baselines')
    ev.add_argument('--hr-dir', required=True, help='folder of clean images (or a Tiny ImageNet zip/folder: its val images)')
    ev.add_argument('--task', type=_task_spec, help='the task to evaluate (default: the model\'s own, else superres); other tasks degrade '
                    'each image repeatably and score RGB PSNR/SSIM against the input and the task\'s classic method')
    ev.add_argument('--seed', type=int, default=0, help='other tasks: image i is degraded with seed + i (default 0)')
    ev.add_argument('--scale', type=int, choices=[2, 3, 4], default=2, help='scale (default 2)')
    ev.add_argument('--model', help='run folder or model.pth (`default`: the shipped x2 model); without it only the baseline rows')
    ev.add_argument('--tile', type=_positive(int), help=f'tile size for large images, in pixels the model reads (default {TILE} on a CPU, {GPU_TILE} on a GPU)')
    ev.add_argument('--limit', type=_positive(int), help='evaluate only the first N images')
    ev.add_argument('--precision', choices=PRECISIONS, default='fp32', help='precision the model runs '
                    'in (default fp32, the reference scores; auto is what upscale/restore use by default)')
    ev.add_argument('--baselines', nargs='+', choices=list(FILTERS), default=['bicubic'], help='non-learned upsampling rows (default bicubic)')
    ev.add_argument('--per-image', action='store_true', help='print a row per image')
    ev.add_argument('--classifier', help='classifier run folder or model file: adds FID/KID of each method against '
                    'the targets, from its features on 64x64 patches')
    ev.add_argument('--json', help='also write the results as JSON to this file')
    _add_trust(ev)
    ev.set_defaults(func=cmd_evaluate)

    fd = sub.add_parser('fid', help='FID and KID between two image sets, with a superres classifier\'s features')
    fd.add_argument('a', help='image folder or file (e.g. real images)')
    fd.add_argument('b', help='image folder or file (e.g. generated or restored images)')
    fd.add_argument('--classifier', required=True, help='run folder of `superres classify train`, or its model.pth: '
                    'its own normalisation is applied, so images are compared as it was trained to see them')
    fd.add_argument('--layer', type=int, help='body layer whose (pooled) features are compared (default: the pooled '
                    'features before the head)')
    fd.add_argument('--patches', action='store_true', help='compare non-overlapping patches at native resolution '
                    '(for restoration) instead of whole images resized to the classifier\'s size')
    fd.add_argument('--size', type=_positive(int), help='image or patch side fed to the classifier (default: its training size)')
    fd.add_argument('--json', help='also write the results as JSON to this file')
    _add_trust(fd)
    fd.set_defaults(func=cmd_fid)
    return p

def main(argv=None):
    "Run one command; user errors print one line and exit 2 (set SUPERRES_DEBUG=1 for the traceback)."
    from PIL import UnidentifiedImageError
    from .data import DataError
    a = parser().parse_args(argv)
    try: return a.func(a) or 0
    except (DataError, ValueError, FileNotFoundError, UnidentifiedImageError, IsADirectoryError, PermissionError) as e:
        if os.environ.get('SUPERRES_DEBUG'): raise
        msg = str(e).strip()
        if 'Original Traceback' in msg: msg = msg.splitlines()[-1].split(': ', 1)[-1]  # raised in a DataLoader worker
        print(f'superres: error: {msg}', file=sys.stderr)
        return 2

if __name__ == '__main__': sys.exit(main())
