"""What several commands share, declared once: argument types, option groups, and `call`, which passes the parsed
options to a library function by name (a recipe's configs built from the options named as their fields) and refuses
one it does not take.
"""
import argparse
import dataclasses
import inspect
import json
import math
import sys
import typing

__all__ = ['Parser', 'positive', 'probability', 'checked', 'scale_factor', 'amount', 'task_spec', 'task_help', 'META',
           'takes', 'defaults', 'config', 'call', 'emit_json', 'report_outcomes', 'report_run', 'add_data',
           'add_skip_bad', 'add_trust', 'add_precision', 'add_backend', 'add_json', 'add_tiling', 'add_image_io',
           'add_model', 'add_strength', 'add_training', 'add_tta', 'task_model']

class Parser(argparse.ArgumentParser):
    "Usage errors as one line that points at --help, instead of the whole usage text."
    def error(self, message): self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')

# Argument types: a bad value is a usage error while parsing, before any work starts.
def positive(kind, zero=False):
    def parse(s):
        v = kind(s)
        if not math.isfinite(v) or v < 0 or (v == 0 and not zero):
            raise argparse.ArgumentTypeError(f'must be {"zero or more" if zero else "positive"} and finite, got {s}')
        return v
    return parse

def probability(s):
    v = float(s)
    if not 0 <= v <= 1: raise argparse.ArgumentTypeError(f'must be a probability between 0 and 1, got {s}')
    return v

def checked(check, kind=float):
    "An argument type from a library check: its one-line UsageError becomes the parser's, before any work starts."
    def parse(s):
        from ..errors import UsageError
        try: return check(kind(s))
        except UsageError as e: raise argparse.ArgumentTypeError(str(e).replace('`', '')) from None
    parse.__name__ = kind.__name__  # argparse names it in its own error: "invalid int value: '2.5'"
    return parse

def scale_factor(kind=float):
    "--scale of every command that takes one, checked by the library's one rule."
    from ..inference import check_scale
    return checked(check_scale, kind)

def amount(s):
    "restore's --amount (outpainting), checked by the library's rule."
    from ..fills import check_amount
    return checked(check_amount)(s)

def task_spec(spec):
    "A task spec parsed once, here at the edge: the library gets the Degradation object."
    from ..degradations import parse_degradation
    from ..errors import UsageError
    try: return parse_degradation(spec)
    except UsageError as e: raise argparse.ArgumentTypeError(str(e)) from None

def task_help(what):
    from ..degradations import TASKS
    return (f'{what}: {", ".join(TASKS)}; several joined by + (e.g. real+superres), parameters as '
            'name:key=value,key=lo..hi,key=a|b (e.g. jpeg:quality=5..30); see docs/tasks.md')

META = {'func', 'command', 'subcommand'}  # parser bookkeeping, not options

def _config_class(annotation):
    "The config dataclass a parameter is annotated with (`Config | None` too), else None."
    return next((t for t in (annotation, *typing.get_args(annotation)) if dataclasses.is_dataclass(t)), None)

def takes(fn):
    """What `fn` takes by option name, as (its parameter, that parameter's config class or None): the fields of each
    parameter annotated with a config dataclass, each other parameter by its own name. A name taken twice is a bug."""
    hints, taken = typing.get_type_hints(fn), {}
    for param in inspect.signature(fn).parameters:
        cls = _config_class(hints.get(param))
        for name in [f.name for f in dataclasses.fields(cls)] if cls else [param]:
            if name in taken: raise TypeError(f'{fn.__name__} takes {name} twice: in {taken[name][0]} and {param}')
            taken[name] = (param, cls)
    return taken

def defaults(fn):
    "The default of each option `fn` takes (see `takes`): its config fields' and its parameters'; the parser's too."
    params, found = inspect.signature(fn).parameters, {}
    for name, (param, cls) in takes(fn).items():
        default = next(f for f in dataclasses.fields(cls) if f.name == name).default if cls else params[name].default
        if default is not inspect.Parameter.empty: found[name] = default
    return found

def config(cls, a, **given):
    "A config dataclass from the parsed options named as its fields, `given` (e.g. a loaded model) replacing them."
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{**{k: v for k, v in vars(a).items() if k in names}, **given})

def call(fn, a, skip=(), **given):
    """`fn` called with the parsed options (see `takes`): each config parameter built from those named as its fields,
    each other parameter given the option of its name; `given` (loaded models, configs built by the command) replaces
    either. An option nothing takes is a bug in the parser or the library."""
    opts, taken = {k: v for k, v in vars(a).items() if k not in META and k not in skip}, takes(fn)
    unknown = set(opts) - set(taken) - set(given)
    if unknown: raise TypeError(f'{fn.__name__} takes no {", ".join(sorted(unknown))}: the parser and library disagree')
    args, fields, params = {}, {}, inspect.signature(fn).parameters
    for name, value in opts.items():
        param, cls = taken.get(name, (name, None))
        if name in given or param in given: continue  # a path the command loaded, an option of a config it built
        if cls and params[param].default is None:  # off unless the command turns it on, as `--gan` does
            raise TypeError(f'{fn.__name__}: {param} is None or a {cls.__name__}, the command\'s to give')
        if cls: fields.setdefault(param, (cls, {}))[1][name] = value
        else: args[param] = value
    configs = {param: cls(**kw) for param, (cls, kw) in fields.items()}
    return fn(**args, **configs, **given)

def emit_json(dest, obj):
    "JSON to the file `dest`, or to standard output for `-`."
    from ..files import atomic_write_text
    if dest == '-': print(json.dumps(obj))
    else: atomic_write_text(dest, json.dumps(obj, indent=1))

def report_outcomes(rows, lines=True):
    """One line per image, then what became of them all (printed by one process of several); exit status 1 on failures.
    `lines` off: failures alone (on standard error), standard output left to JSON."""
    from ..files import printable
    from ..ranks import rank
    failed = any(r.status == 'failed' for r in rows)
    if rank() != 0: return 1 if failed else None
    for src, dest, status, notes in rows:
        if status == 'failed': print(printable(f'{src}: FAILED: {notes[0]}'), file=sys.stderr)
        elif lines: print(printable(f'{src} -> {dest}' + (f' ({"; ".join(notes)})' if notes else '')))
    if not lines: return 1 if failed else None
    count = {s: sum(r.status == s for r in rows) for s in ('written', 'skipped', 'failed')}
    print(f'{len(rows)} images: {count["written"]} written, {count["skipped"]} skipped (already written), '
          f'{count["failed"]} failed' + (' (listed above)' if count['failed'] else ''))
    return 1 if failed else None

def report_run(out, files):
    "A training run's final metrics, printed once (by rank 0 when data-parallel)."
    from pathlib import Path

    from ..ranks import is_main_process
    if not is_main_process(): return
    print(json.dumps(json.loads((Path(out)/'metrics.json').read_text())))
    print(f'wrote {out}/{files}')

# Options shared by several commands, each declared once.
def add_data(p, subset=True, several=False):
    more = ('; or several: Tiny ImageNet and folders of photos, whose random crops train beside it' if several else '')
    p.add_argument('--data', nargs='+' if several else None, help="Tiny ImageNet zip or folder (default: "
                   f"$SUPERRES_DATA, then fastai's data folder, then download){more}")
    if subset:
        p.add_argument('--classes', type=positive(int), help='use only the first N wnids (default: all 200)')
        p.add_argument('--per-class', type=positive(int), help='use only the first M training images of each class '
                       '(default: all)')

def add_skip_bad(p):
    p.add_argument('--skip-bad-images', dest='skip_bad', action='store_true', help='decode every image first and leave '
                   'out unreadable ones with a warning (default: stop at the first, naming it)')

def add_trust(p):
    p.add_argument('--trust-pickle', action='store_true', help='allow loading a pickled learner (.pkl): it can run any '
                   'code, so only for files you made yourself (default: weights-only model.pth files)')

def add_precision(p, default='auto'):
    from ..precision import PRECISIONS
    p.add_argument('--precision', choices=PRECISIONS, default=default, help=f'numeric precision (default {default}); '
                   'auto: bf16 where it is native (CPUs with AVX512-BF16/AMX, GPUs from Ampere on), '
                   'fp16 on older GPUs, else fp32; fp16 needs a GPU')

def add_backend(p):
    from ..backends import BACKENDS
    p.add_argument('--backend', choices=BACKENDS, default='auto', help='what runs the model (default auto): openvino '
                   'compiles it for the CPU (1.45x PyTorch there; pip install "superres[openvino]"), torch runs it '
                   'as loaded (PyTorch; an .onnx file: ONNX Runtime); auto: OpenVINO on a CPU where it is installed, '
                   'else PyTorch (always on a GPU)')

def add_json(p, what):
    p.add_argument('--json', metavar='FILE', help=f'write {what} as JSON to FILE (-: to standard output instead of the '
                   'table)')

def add_tiling(p):
    from ..tiling import GPU_TILE, OVERLAP, TILE
    p.add_argument('--tile', type=positive(int), help='tile size in pixels of the image the model reads (for models '
                   f'working at low resolution, the input); bounds memory (default {TILE} on a CPU, '
                   f'{GPU_TILE} on a GPU)')
    p.add_argument('--overlap', type=positive(int, zero=True), default=OVERLAP,
                   help=f'tile overlap in the same pixels, blended (default {OVERLAP})')

def add_image_io(p, out):
    p.add_argument('inputs', nargs='+', help='image files or folders')
    p.add_argument('-o', '--output', default=out, help=f'output folder (default ./{out}; file names are kept, inputs '
                   'are never overwritten)')
    p.add_argument('--overwrite', action='store_true', help='replace existing files in the output folder')

def add_tta(p):
    p.add_argument('--tta', action='store_true', help='self-ensemble: run the model on the 8 flips and rotations of '
                   'each image and average them; 8x the time for a small gain (BENCHMARKS.md)')

def add_model(p, what):
    p.add_argument('--model', help=f'run folder written by {what}, or its model.pth / model.onnx / export.pkl; '
                   'real: the shipped models for small real photos (blurred, noisy, JPEG), x4 or x2 by --scale')

def add_strength(p):
    p.add_argument('--strength', type=probability, help='a GAN model (--model real) blended with the PSNR model it '
                   'was fine-tuned from: 1 all GAN texture, 0 the PSNR model, smoother and more faithful (default: the '
                   "model's own, chosen by measurement for the shipped ones: BENCHMARKS.md)")

def add_training(p, recipe, files, several=False):
    """What every training command takes: run folder, schedule, batch, precision, seed, resume, data; the defaults
    `recipe`'s, returned for the command's own options."""
    from ..configs import LOSS_ERASE, DataConfig
    d = defaults(recipe)
    p.add_argument('--out', required=True, help=f'run folder: {files}, history.csv/png, metrics.json, checkpoint.pth')
    p.add_argument('--epochs', type=positive(int), default=d['epochs'],
                   help=f'epochs of one-cycle training (default {d["epochs"]})')
    p.add_argument('--budget', type=positive(float), help='seconds of training: the one-cycle schedule follows the '
                   'clock and ends on time, instead of --epochs')
    p.add_argument('--bs', type=positive(int), default=d['bs'], help=f'batch size (default {d["bs"]})')
    p.add_argument('--lr', type=positive(float), default=d['lr'],
                   help=f'peak one-cycle learning rate (default {d["lr"]:g})')
    p.add_argument('--size', type=positive(int), default=d['size'],
                   help=f'image or crop size (default {d["size"]}, the native size)')
    erase = f'{d["erase"]:g}' if d['erase'] is not None else f"the loss's: {DataConfig.erase:g}, " + ', '.join(
        f'{v:g} with the {k} loss' for k, v in LOSS_ERASE.items())
    p.add_argument('--erase', type=probability, default=d['erase'], help='probability of random erasing per training '
                   f'input (default {erase}; 0: off)')
    p.add_argument('--no-erase', dest='erase', action='store_const', const=0., help='the same as --erase 0')
    add_precision(p, d['precision'])
    p.add_argument('--ema', type=probability, metavar='DECAY', help='validate and keep an exponential moving average '
                   'of the weights with this decay per step (e.g. 0.999; default off: the last weights)')
    p.add_argument('--seed', type=int, help='random seed for a repeatable run')
    p.add_argument('--resume', action='store_true', help='continue an interrupted --epochs run from the checkpoint in '
                   '--out (saved after every epoch; same settings as the first run)')
    add_data(p, several=several)
    add_skip_bad(p)
    return d

def task_model(model, task, trust_pickle=False, scale=None, strength=None, backend='auto', precision='auto'):
    """The model of `--model` (default: the shipped superres model for `scale`), checked against the task asked for,
    run by `--backend` (OpenVINO: compiled for `--precision`); a note where OpenVINO could not take it."""
    from ..api import load_for_task
    from ..ranks import rank
    loaded, notes = load_for_task(model, task, trust_pickle, scale, strength, backend, precision)
    for note in notes if rank() == 0 else []: print(f'superres: note: {note}', file=sys.stderr)
    return loaded
