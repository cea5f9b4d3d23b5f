"""The `superres` command: parses arguments and calls the library, nothing more.

Each command is a pair, `add_<command>_args(parser)` beside `cmd_<command>(args)`, in `training`, `segmenting`,
`restoring` and `scoring`; options shared by several commands are declared once in `options`, whose `call` passes the
parsed options to a library function by name (a recipe's config dataclasses built from the options named as their
fields) and refuses one it does not take, so the parser and the library cannot drift apart; the training commands take
their defaults from the recipes' configs.
Only the command being run gets its options built, so `superres upscale` never imports the training side.
"""
import argparse
import logging
import os
import re
import sys
import warnings

from ..files import printable
from .options import Parser
from .restoring import (
    add_app_args,
    add_degrade_args,
    add_export_args,
    add_restore_args,
    add_upscale_args,
    cmd_app,
    cmd_degrade,
    cmd_export,
    cmd_restore,
    cmd_upscale,
)
from .scoring import add_evaluate_args, add_fid_args, cmd_evaluate, cmd_fid
from .segmenting import add_segment_predict_args, add_segment_train_args, cmd_segment_predict, cmd_segment_train
from .training import (
    add_classify_predict_args,
    add_classify_train_args,
    add_data_args,
    add_train_args,
    cmd_classify_predict,
    cmd_classify_train,
    cmd_data,
    cmd_train,
)

__all__ = ['COMMANDS', 'parser', 'main']

COMMANDS = {  # name: (help, add_args, run); `classify` and `segment` group two each
    'data': ('check, describe or preview the Tiny ImageNet data', add_data_args, cmd_data),
    'classify train': ('train a classifier and export it to --out', add_classify_train_args, cmd_classify_train),
    'classify predict': ('top-k classes of images', add_classify_predict_args, cmd_classify_predict),
    'segment train': ('train a UNet to find the main object of an image (the masks of Tiny ImageNet\'s boxes)',
                      add_segment_train_args, cmd_segment_train),
    'segment predict': ('the object mask, its box and an overlay of images', add_segment_predict_args,
                        cmd_segment_predict),
    'train': ('train a super-resolution (or other restoration) model', add_train_args, cmd_train),
    'upscale': ('upscale images or folders of images', add_upscale_args, cmd_upscale),
    'restore': ("restore images by a trained model's task (jpeg, colorize, inpaint, ...)", add_restore_args,
                cmd_restore),
    'degrade': ('degrade images as a task trains on them: inputs to try a model on', add_degrade_args, cmd_degrade),
    'export': ('export a model to ONNX (any height and width), to run without PyTorch', add_export_args, cmd_export),
    'app': ('a local web app: drop an image, compare before and after, download the result', add_app_args, cmd_app),
    'evaluate': ('PSNR/SSIM (Y channel, standard SR protocol) of a model against classic baselines', add_evaluate_args,
                 cmd_evaluate),
    'fid': ("FID and KID between two image sets, with a superres classifier's features", add_fid_args, cmd_fid),
}

def _command_of(argv):
    "The command `argv` asks for (e.g. `classify train`), or None for the top-level help."
    words = [w for w in argv if not w.startswith('-')]
    if not words: return None
    if words[0] in COMMANDS or len(words) < 2: return words[0]
    return f'{words[0]} {words[1]}'

def parser(argv=None):
    "The `superres` argument parser, from `COMMANDS`; with `argv`, options only for the command it names."
    active = None if argv is None else _command_of(argv)
    p = Parser(prog='superres', description='Train and use image models on Tiny ImageNet with fastai.')
    sub, groups = p.add_subparsers(dest='command', required=True), {}
    for name, (help, add_args, run) in COMMANDS.items():
        group, _, action = name.partition(' ')
        if action and group not in groups:
            actions = ' or '.join(c.split()[1] for c in COMMANDS if c.startswith(group + ' '))
            groups[group] = sub.add_parser(group, help=actions).add_subparsers(dest='subcommand', required=True)
        cmd = groups[group].add_parser(action, help=help) if action else sub.add_parser(name, help=help)
        if argv is None or active in (name, group): add_args(cmd)
        cmd.set_defaults(func=run)
    return p

def _flags(p):
    "Each option's flag by the library argument it feeds (`skip_bad` -> --skip-bad-images), over every command."
    flags = {}
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values(): flags.update(_flags(sp))
        elif action.option_strings and action.dest not in flags:
            flags[action.dest] = max(action.option_strings, key=len)
    return flags

def _user_message(e, p):
    "A user error as one line, the library's `argument` names turned into this command's flags."
    msg = str(e).strip()
    if 'Original Traceback' in msg: msg = msg.splitlines()[-1].split(': ', 1)[-1]  # raised in a DataLoader worker
    flags = _flags(p)
    return printable(re.sub(r'`(\w+)`', lambda m: flags.get(m.group(1), m.group(0)), msg))

def main(argv=None):
    "Run one command; user errors print one line and exit 2 (set SUPERRES_DEBUG=1 for the traceback)."
    from PIL import UnidentifiedImageError

    from ..errors import SuperresError
    warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')  # noise from an import of fastai
    # fastai's own GANTrainer names its networks as the GAN learner does, and warns about it at every fit
    warnings.filterwarnings('ignore', message=r'You are shadowing an attribute \((generator|critic|gen_mode)\)')
    logging.getLogger('PIL').addHandler(logging.NullHandler())  # PIL logs about broken files; each outcome says why
    argv = sys.argv[1:] if argv is None else [str(w) for w in argv]
    p = parser(argv)
    a = p.parse_args(argv)
    try: return a.func(a) or 0
    except (SuperresError, FileNotFoundError, UnidentifiedImageError, IsADirectoryError, PermissionError) as e:
        if os.environ.get('SUPERRES_DEBUG'): raise
        print(f'superres: error: {_user_message(e, p)}', file=sys.stderr)
        return 2

if __name__ == '__main__': sys.exit(main())
