"""Model cards: what a superres model is (kind, scale, task, input contract, sizes), typed and read once from the config
dict its file stores, as timm's `PretrainedCfg` and spandrel's `ImageModelDescriptor` describe theirs. The dict stays
the file format; every reader asks the card, and this is the one module that reads the dict."""
import math
from dataclasses import dataclass, field

from .degradations import Degradation, parse_degradation
from .errors import UsageError

__all__ = ['KINDS', 'CRITIC_ENDS', 'config_kind', 'ModelCard', 'attach_card', 'update_config']

KINDS = ('classifier', 'restorer', 'segmenter', 'critic')
# the side a critic's last block needs: fastai's gan_critic ends in a 4x4 conv; the image is halved `n_blocks` + 1
# times on the way (`ModelCard.min_size`)
CRITIC_ENDS = {'gan_critic': 4, 'unet_critic': 2}

def _refused(key, value, expected): return UsageError(f'its config gives {key}={value!r:.60}: {expected} was expected')

def config_kind(config):
    "The kind a saved config names; files saved before configs named their kind are told apart by their fields."
    kind = config.get('kind') or ('restorer' if 'arch' in config else 'classifier')
    if kind not in KINDS: raise _refused('kind', kind, f'one of {", ".join(KINDS)}')
    return kind

def _whole(config, key, default=None, low=1):
    "A whole number of the config (`default` where it has none): booleans and floats are no sizes."
    v = config.get(key, default)
    if v is not None and (type(v) is not int or v < low): raise _refused(key, v, f'a whole number from {low}')
    return v

def _number(v): return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

def _numbers(config, key, n, default):
    "`n` finite numbers of the config as a tuple of floats (`default` where it has none)."
    v = config.get(key, default)
    if not isinstance(v, (list, tuple)) or len(v) != n or not all(map(_number, v)):
        raise _refused(key, v, f'{n} finite numbers')
    return tuple(map(float, v))

def _words(config, key, default=()):
    "A list of strings of the config as a tuple."
    v = config.get(key, default)
    if not isinstance(v, (list, tuple)) or not all(isinstance(w, str) for w in v):
        raise _refused(key, v, 'a list of words')
    return tuple(v)

def _task(config):
    "A restorer's task, parsed once; configs saved before restorers named their task were trained for superres."
    spec = config.get('task') or 'superres'
    if not isinstance(spec, str): raise _refused('task', spec, 'a task spec such as jpeg or superres:scale=2')
    try: return parse_degradation(spec)
    except (TypeError, ValueError) as e:  # a spec from a file: its numbers may be anything (`a..b` of words)
        if isinstance(e, UsageError): raise
        raise _refused('task', spec, f'a task spec ({e})') from e

def _min_size(config, kind, arch):
    "The smallest image side a model takes: a critic's blocks halve it; the restorers pad what they need."
    if kind != 'critic': return 1
    if arch not in CRITIC_ENDS: raise _refused('arch', arch, f'a critic ({", ".join(CRITIC_ENDS)})')
    n_blocks = _whole(config, 'n_blocks')
    if n_blocks is None: raise _refused('n_blocks', n_blocks, 'the number of its blocks')
    return CRITIC_ENDS[arch] * 2 ** (n_blocks + 1)

def _strength(config):
    "The strength a GAN model runs at by default: a blend towards its parent (None: none, the model itself)."
    v = config.get('strength')
    if v is not None and not (_number(v) and 0 <= v <= 1): raise _refused('strength', v, 'a number from 0 to 1')
    return None if v is None else float(v)

@dataclass(frozen=True)
class ModelCard:
    "What a model is, as its readers ask it (is it an upscaler? by how much? for what task?): one answer each."
    kind: str  # classifier, restorer, segmenter or critic
    arch: str | None  # the restoration, segmentation or critic network (`models.ARCHS`, `SEGMENTERS`, `CRITICS`);
    # None for classifiers
    scale: int  # output side / input side of a restoration (upsampling before the net included); 1 for the others
    task: Degradation | None = field(compare=False)  # what a restorer was trained to undo; compared by `config`
    takes_lr: bool  # the net reads the low-resolution image and upscales it itself (else a bicubic upsample of it)
    mean: tuple  # per-channel normalisation inside the model (superres's default where a config gives none)
    std: tuple
    input_range: tuple  # the value range of the images it takes
    size: int | None  # the side of the crops it was trained on: what a classifier's features expect; the side a
    # segmenter resizes its input to
    min_size: int  # the smallest image side it takes (critics: their blocks halve it)
    vocab: tuple  # a classifier's class ids (Tiny ImageNet wnids) by output index
    names: tuple  # a classifier's readable class names by output index
    codes: tuple  # a segmenter's mask classes by output channel (background first)
    parent: bool  # its file holds the PSNR parent weights that `strength` blends towards
    strength: float | None  # the strength it runs at by default, where it holds a parent (None: 1, itself)
    folded: bool  # re-parameterised convs saved as the plain convs they compute
    config: dict = field(repr=False)  # the dict read, as files store it; never edited (`update_config` makes anew)

    @classmethod
    def from_config(cls, config, parent=False):
        "The card of a saved `config`, of any layout superres has written (what a layout lacks gets its one default)."
        kind = config_kind(config)
        classifier, restorer = kind == 'classifier', kind == 'restorer'
        arch = None if classifier else config.get('arch')
        if not classifier and not isinstance(arch, str): raise _refused('arch', arch, 'a network name')
        task = _task(config) if restorer else None
        segmenter = kind == 'segmenter'
        vocab = _words(config, 'vocab') if classifier else ()
        names = _words(config, 'names', vocab) if classifier else ()
        if len(names) != len(vocab): raise _refused('names', names, f'{len(vocab)} names, one per class')
        codes = _words(config, 'codes') if segmenter else ()
        if segmenter and len(codes) < 2: raise _refused('codes', codes, 'two or more mask classes')
        return cls(kind=kind, arch=arch, scale=_whole(config, 'scale', task.scale) if restorer else 1, task=task,
                   takes_lr=restorer and config.get('input') == 'lr', mean=_numbers(config, 'mean', 3, (0.5,) * 3),
                   std=_numbers(config, 'std', 3, (0.25,) * 3),
                   input_range=_numbers(config, 'input_range', 2, (0., 1.)),
                   size=_whole(config, 'size', 64 if classifier or segmenter else None),
                   min_size=_min_size(config, kind, arch),
                   vocab=vocab, names=names, codes=codes, parent=parent, strength=_strength(config),
                   folded=bool(config.get('folded')), config=config)

    @property
    def upscales(self):
        "Whether it is an upscaler: its output larger than its input."
        return self.scale > 1

    @property
    def net_scale(self):
        "How much larger the network's own output is than what it reads: its scale where it takes the LR image, else 1."
        return self.scale if self.takes_lr else 1

    def updated(self, **changes):
        "The card of this config with `changes` (a new dict: the one read stays as it was)."
        return type(self).from_config({**self.config, **changes}, self.parent)

def attach_card(model, card):
    "Give `model` its card and the config dict it was read from (what `save_model` writes): the one writer of both."
    model.card, model.config = card, card.config
    return model

def update_config(model, **changes):
    "Change `model`'s saved config (a run's crop size, its folded convs ...) and its card with it, so the two agree."
    return attach_card(model, model.card.updated(**changes))
