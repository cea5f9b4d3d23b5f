"""The `superres` command: help, one-line user errors with the library's argument names as flags, and each command's
options reaching the library."""
import argparse
import json

import pytest
from conftest import cli_here, noise
from conftest import run_cli as run
from conftest import smooth_photo as photo
from PIL import Image

from superres import cli
from superres.cli import main, options
from superres.configs import DataConfig, GanConfig, ScheduleConfig
from superres.degradations import TASKS, parse_degradation
from superres.errors import DataError, UsageError
from superres.hub import save_model
from superres.models import ARCHS, classifier, restorer


@pytest.mark.slow
def _commands(p, prefix=()):
    "(command words, its parser) for every command the parser holds, groups (`classify`) walked into."
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                grouped = any(isinstance(a, argparse._SubParsersAction) for a in sp._actions)
                yield from _commands(sp, (name,)) if grouped else [((*prefix, name), sp)]

def test_help_explains_every_option():
    "Every option and argument of every command has words in `--help`, and the top-level help lists every command."
    top = run('--help')
    assert top.returncode == 0 and all(name.split()[0] in top.stdout for name in cli.COMMANDS)
    commands = dict(_commands(cli.parser()))
    assert sorted(' '.join(c) for c in commands) == sorted(cli.COMMANDS)
    for words, sp in commands.items():
        text = ' '.join(sp.format_help().split())
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction): continue
            choices = '{' + ','.join(map(str, action.choices)) + '}' if action.choices else None
            shown = (max(action.option_strings, key=len) if action.option_strings
                     else action.metavar or choices or action.dest)
            assert action.help and action.help != argparse.SUPPRESS and len(action.help.split()) >= 2, (words, shown)
            assert shown in text and ' '.join(action.help.split()[:3]) in text, (words, shown)
    assert 'show' in run('data', '--help').stdout  # through the real command, as a user runs it

def test_data_check_stats_show(tiny_root, tmp_path, capsys):
    assert main(['data', 'check', '--data', str(tiny_root)]) == 0
    assert 'ok:' in capsys.readouterr().out
    assert main(['data', 'stats', '--data', str(tiny_root), '--classes', '3']) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats['classes'] == 3 and len(stats['mean']) == 3
    png = tmp_path/'b.png'
    assert main(['data', 'show', '--data', str(tiny_root), '--classes', '3', '-o', str(png), '--n', '4']) == 0
    assert Image.open(png).size[0] > 100

def test_bad_data_is_one_clear_line(fresh_tiny):
    (fresh_tiny/'words.txt').unlink()
    r = run('data', 'check', '--data', fresh_tiny)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'missing words.txt' in r.stderr

@pytest.mark.parametrize('args,message', [(['--classes', '0'], 'must be positive'),
                                          (['--wd', '-0.1'], 'must be zero or more'),
                                          (['--progressive', '1.5'], 'between 0 and 1')])
def test_invalid_options_rejected(capsys, args, message):
    rc, _, err = cli_here(capsys, 'classify', 'train', '--out', 'x', *args)
    assert rc == 2 and message in err

def test_predict_missing_model_and_bad_image(tmp_path, capsys):
    rc, _, err = cli_here(capsys, 'classify', 'predict', 'x.jpg', '--model', tmp_path/'nope')
    assert rc == 2 and 'does not exist' in err and 'Traceback' not in err
    (tmp_path/'bad.pth').write_text('not a model')
    rc, _, err = cli_here(capsys, 'classify', 'predict', 'x.jpg', '--model', tmp_path/'bad.pth')
    assert rc == 2 and 'not a usable superres model' in err

@pytest.mark.parametrize('args,message', [
    (['upscale', 'x.png', '--scale', '0'], 'scale must be between 1/16 and 16'),
    (['upscale', 'x.png', '--tile', '32', '--overlap', '32'], 'must be larger than twice the --overlap'),
    (['upscale', 'x.png', '--model', 'no/such/run'], 'does not exist'),
    (['upscale', 'x.png', '--model', 'CLASSIFIER'], 'is a classifier, not a restoration model'),
    (['classify', 'predict', 'x.png', '--model', 'SR'], 'is a restoration model, not a classifier'),
    (['train', '--scale', '5', '--out', 'o'], 'invalid choice'),
    (['upscale', 'x.png', '--model', 'JPEG'], 'trained for the jpeg task, not superres'),
    (['data', 'check', '--data', 'PARTIAL_ZIP'], 'only part of one (an interrupted download?)'),
])
def test_invalid_options_give_one_clear_line(sr_model, tiny_zip, tmp_path, capsys, args, message):
    clf = tmp_path/'clf.pth'
    save_model(classifier('cpu_small', n_out=3, vocab=['a', 'b', 'c'], names=['a', 'b', 'c']), clf)
    jpeg = restorer(task='jpeg:quality=10..50', scale=1)
    save_model(jpeg, tmp_path/'jpeg.pth')
    (tmp_path/'partial.zip').write_bytes(tiny_zip.read_bytes()[:tiny_zip.stat().st_size // 2])
    noise(40, 40).save(tmp_path/'x.png')
    subst = {'x.png': tmp_path/'x.png', 'CLASSIFIER': clf, 'SR': sr_model, 'o': tmp_path/'o',
             'JPEG': tmp_path/'jpeg.pth', 'PARTIAL_ZIP': tmp_path/'partial.zip'}
    args = [str(subst.get(a, a)) for a in args]
    if args[0] == 'upscale' and '--model' not in args: args += ['--model', str(sr_model)]
    rc, _, err = cli_here(capsys, *args, *(['-o', tmp_path/'out'] if args[0] == 'upscale' else []))
    assert rc == 2 and 'Traceback' not in err and message in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith('superres')

def test_restore_without_a_model_explains_and_typos_are_usage_errors(tmp_path, capsys):
    photo().save(tmp_path/'p.png')
    assert main(['restore', str(tmp_path/'p.png'), '--task', 'jpeg', '-o', str(tmp_path/'o')]) == 2
    assert 'train one with `superres train --task jpeg' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e: main(['degrade', '--task', 'jpegg', str(tmp_path)])
    assert e.value.code == 2 and 'unknown task' in capsys.readouterr().err

def test_library_argument_names_print_as_this_commands_flags():
    p = cli.parser()
    msg = cli._user_message(DataError('a.jpg: unreadable image; pass `skip_bad` to leave unreadable files out'), p)
    assert msg == 'a.jpg: unreadable image; pass --skip-bad-images to leave unreadable files out'
    assert cli._user_message(UsageError('pass `data`, `tile` or `not_an_option`'), p) == \
        'pass --data, --tile or `not_an_option`'  # only names that are options become flags

def test_tile_overlap_error_names_the_flags(tmp_path, capsys):
    noise(40, 40).save(tmp_path/'x.png')
    assert main(['upscale', str(tmp_path/'x.png'), '--tile', '10', '--overlap', '32', '-o', str(tmp_path/'out')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('superres: error: ') and '`' not in err, err
    assert '--tile (10) must be larger than twice the --overlap (32)' in err
    assert not (tmp_path/'out').exists()  # refused before any file was written

def test_degrade_superres_writes_the_low_resolution_image(tmp_path, capsys):
    photo(40, 30).save(tmp_path/'p.png')
    assert main(['degrade', '--task', 'superres', str(tmp_path/'p.png'), '-o', str(tmp_path/'lr')]) == 0
    with Image.open(tmp_path/'lr'/'p.png') as im: assert im.size == (20, 15)
    assert main(['degrade', '--task', 'superres:scale=4', str(tmp_path/'p.png'), '-o', str(tmp_path/'lr4')]) == 0
    with Image.open(tmp_path/'lr4'/'p.png') as im: assert im.size == (10, 8)

@pytest.mark.parametrize('model', [None, 'none'])
def test_evaluate_scores_the_shipped_model_unless_told_none(tmp_path, capsys, model):
    for i in range(2): photo(48, 40, seed=i).save(tmp_path/f'{i}.png')
    args = ['evaluate', '--hr-dir', str(tmp_path), '--json', str(tmp_path/'e.json')]
    args += ['--model', model] if model else []
    assert main(args) == 0
    table = [l.split('\r')[-1] for l in capsys.readouterr().out.split('\n') if l.strip()]  # after the progress bar
    assert table[0].startswith('method')
    rows = [l.split()[0] for l in table[1:]]
    report = json.loads((tmp_path/'e.json').read_text())
    if model is None:
        assert rows == report['methods'] == ['bicubic', 'model'] and 'model_psnr' in report['mean']
    else: assert rows == report['methods'] == ['bicubic'] and not any('model' in k for k in report['mean'])

def test_restore_help_names_the_tasks():
    r = run('restore', '--help')
    assert r.returncode == 0 and '--task' in r.stdout
    words = set(r.stdout.replace(',', ' ').replace(';', ' ').split())
    assert set(TASKS) <= words and {'jpeg', 'colorize', 'inpaint', 'outpaint'} <= words, r.stdout

def test_call_passes_options_by_name_and_refuses_one_the_library_lacks():
    def lib(out, bs=64, erase=0.25): return dict(out=out, bs=bs, erase=erase)
    a = argparse.Namespace(func=print, command='train', subcommand=None, out='run', bs=8)
    assert options.call(lib, a, erase=0.) == dict(out='run', bs=8, erase=0.)  # parser bookkeeping is not passed
    a.typo_option = 1
    with pytest.raises(TypeError, match='lib takes no typo_option'): options.call(lib, a)
    assert options.call(lib, a, skip=('typo_option',))['bs'] == 8

def test_call_builds_each_config_from_the_options_named_as_its_fields():
    def lib(out, data: DataConfig = DataConfig(), schedule: ScheduleConfig = ScheduleConfig(), task='superres',
            gan: GanConfig | None = None): return dict(out=out, data=data, schedule=schedule, task=task, gan=gan)
    a = argparse.Namespace(func=print, command='train', out='run', bs=8, classes=3, epochs=2, task='jpeg', weight=1.)
    with pytest.raises(TypeError, match="gan is None or a GanConfig, the command's to give"): options.call(lib, a)
    got = options.call(lib, a, gan=None)
    assert got == dict(out='run', data=DataConfig(bs=8, classes=3), schedule=ScheduleConfig(epochs=2), task='jpeg',
                       gan=None), 'fields not given keep their defaults; a config parameter given none, its own'
    gan = options.config(GanConfig, a, critic_arch='unet_critic')
    assert gan == GanConfig(critic_arch='unet_critic', weight=1.)
    assert options.call(lib, a, gan=gan)['gan'] is gan
    assert options.defaults(lib)['bs'] == 64 and options.defaults(lib)['weight'] == GanConfig.weight
    def twice(data: DataConfig = DataConfig(), bs=8): pass
    with pytest.raises(TypeError, match='takes bs twice'): options.takes(twice)

def test_train_help_names_every_arch_and_the_presets_of_each():
    "`--arch` lists the registry; `--preset` offers every arch's presets, another arch's is refused naming this one's."
    actions = {a.dest: a for a in dict(_commands(cli.parser()))[('train',)]._actions}
    assert all(f'{name}: {arch.about}' in actions['arch'].help for name, arch in ARCHS.items())
    for arch in ARCHS.values():  # archs sharing a registry of presets named together
        sharing = [name for name, other in ARCHS.items() if other.presets is arch.presets]
        assert f'{", ".join(sharing)}: {", ".join(arch.presets)}' in actions['preset'].help
    assert set(actions['preset'].choices) == {p for arch in ARCHS.values() for p in arch.presets}
    with pytest.raises(UsageError, match="unknown rep_resnet preset 'reference'; choose one of cpu$"):
        restorer('rep_resnet', 'reference')

TRAINING = {('train',): 'train_restorer', ('classify', 'train'): 'train_classifier',
            ('segment', 'train'): 'train_segmenter'}
LOADED = {'trust_pickle'}  # the commands' own: how they load the models the recipe takes

@pytest.mark.parametrize('command', TRAINING)
def test_options_are_the_recipes_and_so_are_their_defaults(command):
    "Each option of a training command is one config field or parameter of its recipe, with the recipe's default."
    import superres.recipes as recipes
    recipe, argv = getattr(recipes, TRAINING[command]), [*command, '--out', 'x']
    parsed = vars(cli.parser(argv).parse_args(argv))
    taken, defaults = options.takes(recipe), options.defaults(recipe)
    names = set(parsed) - options.META - LOADED - {'out'}
    assert names <= set(taken) | {'gan'}, sorted(names - set(taken))  # `gan` the flag, the recipe's GanConfig or None
    for name in names - {'gan', 'task'}: assert parsed[name] == defaults[name], name
    if 'task' in names: assert parsed['task'].spec == parse_degradation(defaults['task']).spec  # parsed by the CLI
