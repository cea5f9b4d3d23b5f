"""The commands that train and the data they read: `data`, `classify train|predict`, `train`."""
import json
import sys

from ..files import printable
from .options import (
    add_data,
    add_json,
    add_training,
    add_trust,
    call,
    config,
    emit_json,
    positive,
    probability,
    report_run,
    task_help,
    task_spec,
)

__all__ = ['add_data_args', 'cmd_data', 'add_classify_train_args', 'cmd_classify_train', 'add_classify_predict_args',
           'cmd_classify_predict', 'add_train_args', 'cmd_train']

def add_data_args(p):
    p.add_argument('subcommand', choices=['check', 'stats', 'show'], help='check: validate the layout; stats: counts '
                   'and normalisation stats; show: save a batch with class names as a PNG')
    add_data(p)
    p.add_argument('--sample', type=positive(int), default=2000, help='images sampled for stats (default 2000)')
    p.add_argument('-o', '--output', default='batch.png', help='PNG written by show (default batch.png)')
    p.add_argument('--n', type=positive(int), default=16, help='images shown by show (default 16)')

def cmd_data(a):
    from ..images import image_stats
    from ..tinyimagenet import TinyImageNet, find_tiny_imagenet
    root = find_tiny_imagenet(a.data)
    if a.subcommand == 'check':
        tin = TinyImageNet(root)
        print(f'ok: {root} ({len(tin.wnids)} classes, {len(tin.val_labels)} val images)')
    elif a.subcommand == 'stats':
        tin = TinyImageNet(root, classes=a.classes, per_class=a.per_class)
        mean, std = image_stats(tin.train_files(), n=a.sample)
        print(json.dumps(dict(root=str(root), classes=len(tin.wnids), train_images=len(tin.train_files()),
                              val_images=len(tin.val_labels), mean=mean, std=std, stats_sample=a.sample), indent=1))
    else:
        from ..plots import show_batch_png
        print(show_batch_png(root, a.output, classes=a.classes, per_class=a.per_class, n=a.n))

def add_classify_train_args(p):
    from ..data import PIPELINES
    from ..models import PRESETS
    from ..recipes import train_classifier
    d = add_training(p, train_classifier, files='model.pth, export.pkl')
    p.add_argument('--preset', choices=list(PRESETS), default=d['preset'], help='model preset: step1-3 are the '
                   f'reference GPU models, cpu and cpu_small are sized for a CPU (default {d["preset"]})')
    p.add_argument('--label-smoothing', type=probability, default=d['label_smoothing'],
                   help=f'cross-entropy label smoothing (default {d["label_smoothing"]:g})')
    p.add_argument('--wd', type=positive(float, zero=True),
                   help="AdamW's decoupled weight decay (default fastai's 0.01)")
    p.add_argument('--pipeline', choices=PIPELINES, default=d['pipeline'], help='decoded: images decoded once into a '
                   'memory-mapped cache, augmentations drawn per image on whole batches; datablock: fastai DataBlock, '
                   'per-image PIL transforms in worker processes. Same images, same augmentations (default '
                   f'{d["pipeline"]})')
    p.add_argument('--progressive', nargs='?', const=0.5, type=probability, metavar='FRACTION', help='progressive '
                   'resizing: start at half size, reach full size at FRACTION of the schedule (default 0.5)')
    p.add_argument('--no-augment', dest='augment', action='store_false', help='train without augmentation')
    p.add_argument('--no-trivial-augment', dest='trivial_augment', action='store_false',
                   help='keep pad+crop, flip and erasing, leave TrivialAugment out')
    p.add_argument('--tta', action='store_true', help="after training, also report val accuracy with fastai's "
                   'test-time augmentation (tta_accuracy)')
    mix = p.add_mutually_exclusive_group()
    mix.add_argument('--mixup', type=positive(float), metavar='ALPHA', help="fastai's MixUp: train on blends of two "
                   'images and their labels, the blend drawn from Beta(ALPHA, ALPHA) (e.g. 0.4; default off)')
    mix.add_argument('--cutmix', type=positive(float), metavar='ALPHA', help="fastai's CutMix: paste a box of another "
                   'image, labels weighted by its area drawn from Beta(ALPHA, ALPHA) (e.g. 1; default off)')

def cmd_classify_train(a):
    from ..recipes import train_classifier
    call(train_classifier, a)
    report_run(a.out, 'model.pth, export.pkl, history.csv, history.png')

def add_classify_predict_args(p):
    p.add_argument('images', nargs='+', help='image files')
    p.add_argument('--model', help='run folder written by classify train, or a model.pth/export.pkl file (default: '
                   'the shipped Tiny ImageNet classifier)')
    p.add_argument('--k', type=positive(int), default=5, help='classes shown per image (default 5)')
    add_json(p, 'the top-k rows')
    add_trust(p)

def cmd_classify_predict(a):
    "Top-k rows of each image; one that cannot be read fails alone, in one line, and the exit status says so."
    from ..errors import DataError
    from ..hub import load_classifier
    from ..inference import predict_topk, prepare_image
    model, images, failed = load_classifier(a.model, a.trust_pickle), {}, []
    for f in a.images:
        try: images[f] = prepare_image(f)
        except DataError as e: failed.append(str(e).replace(f'{f}: ', f'{f}: FAILED: ', 1))
    rows = dict(zip(images, predict_topk(model, list(images.values()), k=a.k)))
    if a.json: emit_json(a.json, {str(f): [dict(name=n, wnid=w, prob=p) for n, w, p in r] for f, r in rows.items()})
    for line in failed: print(printable(line), file=sys.stderr)
    if a.json != '-':
        for f, r in rows.items():
            print(printable(f))
            for n, w, p in r: print(f'  {p:6.1%}  {n} ({w})')
    return 1 if failed else None

def _presets_by_arch(archs):
    "`--preset` help: the presets of each arch, archs sharing them named together."
    groups = {}
    for name, arch in archs.items(): groups.setdefault(id(arch.presets), (arch.presets, []))[1].append(name)
    return '; '.join(f'{", ".join(names)}: {", ".join(presets)}' for presets, names in groups.values())

def add_train_args(p):
    from ..degradations import FILTERS
    from ..losses import LOSSES
    from ..models import ARCHS, CRITICS
    from ..recipes import PAIRED_PIPELINES, train_restorer
    d = add_training(p, train_restorer, files='model.pth, export.pkl, results.png', several=True)
    p.add_argument('--task', type=task_spec, default=d['task'],
                   help=task_help('restoration task') + f' (default {d["task"]})')
    p.add_argument('--arch', choices=list(ARCHS), default=d['arch'], help='; '.join(
        f'{name}: {arch.about}' for name, arch in ARCHS.items()) + f' (default {d["arch"]})')
    p.add_argument('--loss', choices=list(LOSSES), default=d['loss'], help='pixel loss, or perceptual: MSE + '
                   "features of --classifier, or style: the content of the input's features and the Gram statistics "
                   "of --style-image's (default: the task's, style for --task style, else mse)")
    p.add_argument('--style-image', dest='style', metavar='IMG', help='--task style: the picture whose style the model '
                   'learns to paint any photo in, its textures at the scale of --size')
    p.add_argument('--no-top-skip', dest='top_skip', action='store_false', help="tiny_unet: drop the UNet's "
                   "highest-resolution skip and its residual, so no path copies the input (the lesson's advice for "
                   'style)')
    p.add_argument('--classifier', help='classifier run folder or model file: pretrained encoder and perceptual '
                   'features (default for --loss perceptual and style: the shipped classifier)')
    p.add_argument('--init', metavar='MODEL', help="fine-tune this restoration model (its arch and size; `default`: "
                   'the shipped model of --scale, else the nearest) with the schedule of fastai\'s fine_tune: weights '
                   'it lacks (another scale\'s tail) train alone for --freeze-epochs, then all')
    p.add_argument('--lr-mult', type=positive(float), default=d['lr_mult'], help="--init: fine_tune's lr_mult, how "
                   'many times slower the loaded weights learn than the new ones once all train (default '
                   f'{d["lr_mult"]:g}, as fastai)')
    p.add_argument('--gan', action='store_true', help="fine-tune --init with fastai's GAN recipe: a critic pretrained "
                   'for --freeze-epochs, then GANLearner with --loss kept beside the adversarial loss and '
                   "AdaptiveGANSwitcher; the critic is saved as critic.pth, model.pth keeps --init's weights for "
                   'upscale --strength')
    p.add_argument('--gan-weight', dest='weight', metavar='GAN_WEIGHT', type=positive(float), default=d['weight'],
                   help='--gan: weight of the adversarial loss against the restoration loss (default '
                   f'{d["weight"]:g}, as ESRGAN)')
    p.add_argument('--sharpen-target', nargs='?', type=positive(float), const=0.5, metavar='WEIGHT',
                   help='train towards unsharp-masked targets (weight 0.5 as Real-ESRGAN: edges over 10/255 sharpened, '
                   'flat areas kept), so the model learns crisper edges than the photos have (default off)')
    p.add_argument('--critic', metavar='MODEL', help='--gan: start from this critic.pth of an earlier --gan run '
                   "(default: a new critic of --critic-arch)")
    p.add_argument('--critic-arch', choices=list(CRITICS), default=d['critic_arch'], help="--gan: the critic; "
                   "gan_critic: fastai's (spectral norm, self-attention, a logit per patch); unet_critic: a U-Net with "
                   f'spectral norm, a logit per pixel, as Real-ESRGAN (default {d["critic_arch"]})')
    p.add_argument('--no-pretrained', dest='pretrained', action='store_false',
                   help='with --classifier: use it for the perceptual loss only, train the UNet from scratch')
    p.add_argument('--feature-layers', type=int, nargs='+', help='classifier layers for the perceptual loss (default: '
                   'the deepest with 8x8 features)')
    p.add_argument('--preset', choices=list(dict.fromkeys(k for arch in ARCHS.values() for k in arch.presets)),
                   default=d['preset'], help=f'model size when not built from a classifier or --init (default '
                   f'{d["preset"]}), by --arch: {_presets_by_arch(ARCHS)} (sr_resnet: cpu 8 blocks of 64, reference 16 '
                   "as EDSR-baseline; dynamic_unet: the classifier's presets, a fresh one its encoder)")
    p.add_argument('--val-per-class', type=positive(int), help='Tiny ImageNet: validate on the first N val images of '
                   'each class (default all 50)')
    p.add_argument('--scale', type=positive(int), choices=[2, 3, 4],
                   help='superres task: upscaling factor (default 2)')
    p.add_argument('--freeze-epochs', type=positive(int, zero=True), default=d['freeze_epochs'],
                   help='epochs with the pretrained encoder (or the --init weights) frozen, before --epochs; with '
                   f'--gan: epochs the critic trains alone (default {d["freeze_epochs"]})')
    p.add_argument('--down', choices=list(FILTERS), help='superres task: downscale filter (default bicubic)')
    p.add_argument('--up', choices=list(FILTERS), help='superres task: upsample filter (default bicubic)')
    p.add_argument('--pipeline', choices=PAIRED_PIPELINES, default=d['pipeline'], help='decoded: Tiny ImageNet '
                   'decoded once into a memory-mapped cache, crop/flip/degradation/erasing per image on whole batches '
                   '(on the GPU there); datablock: fastai DataBlock, per-image PIL in worker processes, any folder and '
                   'task; auto: decoded where it serves (Tiny ImageNet, --size 64, superres with '
                   f'nearest/bilinear/bicubic) (default {d["pipeline"]})')
    add_trust(p)

def cmd_train(a):
    "The models the options name loaded here (the pickles too with --trust-pickle), then the recipe on them."
    from ..configs import GanConfig
    from ..gan import load_critic
    from ..hub import load_classifier, load_restorer
    from ..images import open_image
    from ..recipes import train_restorer
    clf = load_classifier(a.classifier, a.trust_pickle) if a.classifier or a.loss == 'perceptual' else None
    init = None if a.init is None else load_restorer(a.init, a.trust_pickle, device='cpu', scale=a.scale, folded=False)
    critic = load_critic(a.critic, a.critic_arch) if a.gan and a.critic else None
    gan = config(GanConfig, a, critic=critic) if a.gan else None
    a.style = open_image(a.style) if a.style else None  # the picture, read by the one reader
    call(train_restorer, a, skip=('trust_pickle',), classifier=clf, init=init, gan=gan)
    report_run(a.out, 'model.pth, export.pkl, history.csv, history.png, results.png')
