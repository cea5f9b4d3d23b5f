"""Model cards: one typed answer per question about a model, the same from every layout of saved config superres has
written, kept in step with the config it is read from, and the only reader of that dict in the package."""
import re
from pathlib import Path

import pytest
import torch

import superres
from superres.card import CRITIC_ENDS, ModelCard, update_config
from superres.errors import ModelError, UsageError
from superres.hub import SHIPPED_CLASSIFIER, WEIGHTS, load_any, load_model, load_restorer, save_model
from superres.models import (
    ARCHS,
    CRITICS,
    classifier,
    critic_config,
    critic_from_config,
    fold,
    restorer,
    restorer_config,
    restorer_from_config,
)

PACKAGE = Path(superres.__file__).parent
# what reads the config dict: an item or .get of `.config`, or the attribute fetched by name
READS = re.compile(r"""\.config\s*(\[|\.get\s*\()|getattr\([^)]*['"]config['"]""")

def readers(text): return [line.strip() for line in text.splitlines() if READS.search(line)]

def test_the_card_module_is_the_only_reader_of_saved_configs():
    found = {str(p.relative_to(PACKAGE)): readers(p.read_text()) for p in PACKAGE.rglob('*.py') if p.name != 'card.py'}
    assert {p: lines for p, lines in found.items() if lines} == {}, 'read `model.card` instead'

def test_the_reader_check_sees_every_way_of_reading():
    code = ("s = model.config['scale']\nt = m.card.config.get('task')\nc = getattr(model, 'config', {})\n"
            "x = model.card.scale\ncfg['scale']\nsave(model.card.config)")
    assert readers(code) == code.splitlines()[:3]

def test_cards_agree_with_the_registries():
    "Whether a net reads the low-resolution image is its arch's to say; the file records it; every critic has a size."
    assert all(ModelCard.from_config(restorer_config(a)).takes_lr == ARCHS[a].takes_lr for a in ARCHS)
    assert set(CRITIC_ENDS) == set(CRITICS)

def _file(path, config, state, **more):
    "A model file as an older superres wrote it: `config` as given, weights, whatever else it held."
    torch.save({'config': config, 'state_dict': state, **more}, path)
    return path

def _without(config, *keys): return {k: v for k, v in config.items() if k not in keys}

def test_every_earlier_layout_loads_with_its_card(tmp_path):
    clf = classifier('cpu_small', n_out=3, vocab=['n1', 'n2', 'n3'], names=['cat', 'dog', 'fox'])
    unet, sr = restorer(classifier_model=clf), restorer('sr_resnet', n_blocks=1)
    layouts = {  # as saved from efd3ae7 (UNets on a classifier) and 59ba0f2 (sr_resnet) until kinds were named
        'classifier without kind, input_range or size': (clf, _without(clf.card.config, 'kind', 'input_range')),
        'unet without kind, input_range or input': (unet, {**_without(unet.card.config, 'kind', 'input_range'),
                                                         'encoder': _without(clf.card.config, 'kind', 'input_range'),
                                                         'pretrained_encoder': True}),
        'sr_resnet without kind': (sr, _without(sr.card.config, 'kind')),
        'restorer without task or scale': (sr, _without(sr.card.config, 'task', 'scale')),
    }
    cards = {}
    for name, (model, config) in layouts.items():
        f = _file(tmp_path/f'{len(cards)}.pth', config, model.state_dict())
        loaded = load_model(f)
        cards[name] = loaded.card
        x = torch.rand(1, 3, 16, 16)
        with torch.no_grad(): assert torch.equal(loaded(x), model.eval()(x)), name
    c = cards['classifier without kind, input_range or size']
    assert (c.kind, c.arch, c.scale, c.task, c.takes_lr) == ('classifier', None, 1, None, False)
    assert c.vocab == ('n1', 'n2', 'n3') and c.names == ('cat', 'dog', 'fox') and c.size == 64
    assert c.input_range == (0., 1.) and c.mean == (0.5,) * 3 and c.std == (0.25,) * 3 and not c.parent
    u = cards['unet without kind, input_range or input']
    assert (u.kind, u.arch, u.scale, u.task.name, u.task.scale, u.takes_lr) == ('restorer', 'tiny_unet', 2, 'superres',
                                                                             2, False)
    assert u.upscales and u.net_scale == 1 and u.input_range == (0., 1.) and u.vocab == () and u.size is None
    s = cards['sr_resnet without kind']
    assert (s.kind, s.arch, s.scale, s.task.name, s.takes_lr, s.net_scale) == ('restorer', 'sr_resnet', 2, 'superres',
                                                                               True, 2)
    assert (s.parent, s.strength, s.folded, s.min_size) == (False, None, False, 1)
    bare = cards['restorer without task or scale']  # the one default: a superres task, its x2
    assert (bare.task.spec, bare.scale) == ('superres:scale=2,down=bicubic,up=bicubic', 2)

def test_a_task_without_a_scale_gives_the_tasks_own(tmp_path):
    model = restorer()
    f = _file(tmp_path/'jpeg.pth', _without({**model.card.config, 'task': 'jpeg:quality=10..40'}, 'scale'),
              model.state_dict())
    card = load_model(f).card
    assert (card.task.name, card.scale, card.upscales) == ('jpeg', 1, False)

def test_critics_folded_models_and_parents_keep_their_facts(tmp_path):
    critic = critic_from_config(critic_config('unet_critic', n_blocks=2))
    loaded = load_model(save_model(critic, tmp_path/'critic.pth'))
    assert (loaded.card.kind, loaded.card.arch, loaded.card.min_size, loaded.card.scale) == ('critic', 'unet_critic',
                                                                                             16, 1)
    assert critic_from_config(critic_config('gan_critic')).card.min_size == 64  # 3 blocks, fastai's last 4x4 conv
    with pytest.raises(UsageError, match='n_blocks'): ModelCard.from_config(_without(critic_config(), 'n_blocks'))
    rep = restorer('rep_resnet', n_blocks=1)
    assert not rep.card.folded and fold(rep).card.folded and rep.card.config['folded']
    assert load_model(save_model(rep, tmp_path/'rep.pth')).card.folded

def test_the_shipped_models_cards():
    cards = {p.stem: load_model(p).card for p in sorted(WEIGHTS.glob('*.pth'))}
    assert set(cards) == {'classifier', 'sr_x2', 'sr_x4', 'real_x4'}
    clf = cards['classifier']
    assert clf.kind == 'classifier' and len(clf.vocab) == len(clf.names) == 200 and clf.size == 64
    for s in (2, 4):
        c = cards[f'sr_x{s}']
        assert (c.kind, c.arch, c.scale, c.task.name, c.task.scale, c.takes_lr) == ('restorer', 'sr_resnet', s,
                                                                                 'superres', s, True)
        assert not c.parent and c.strength is None
    real = cards['real_x4']
    assert (real.scale, real.task.name, real.task.scale, real.takes_lr, real.parent, real.strength) == (
        4, 'real', 4, True, True, 0.25)
    assert load_model(SHIPPED_CLASSIFIER).card == clf  # the same file, the same card

def test_a_pickled_model_from_before_cards_gets_one(monkeypatch, tmp_path):
    import fastai.learner
    old = restorer('sr_resnet', n_blocks=1)
    del old.card  # a model pickled by an earlier superres carries its config alone
    old.parent_weights = old.state_dict()
    monkeypatch.setattr(fastai.learner, 'load_learner', lambda path: type('Learner', (), {'model': old}))
    (tmp_path/'export.pkl').touch()
    card = load_any(tmp_path/'export.pkl', trust_pickle=True).card
    assert card.config is old.config and (card.arch, card.scale, card.parent) == ('sr_resnet', 2, True)

def test_config_changes_go_through_the_card():
    model = restorer('sr_resnet')
    before = model.card
    update_config(model, task='real:scale=4', scale=4)
    assert model.card.config is model.config and (model.card.scale, model.card.task.name) == (4, 'real')
    assert (before.scale, before.config['scale']) == (2, 2)  # the card read earlier is as it was
    assert model.card == ModelCard.from_config(dict(model.config))

@pytest.mark.parametrize('change, why', [
    (dict(kind='generator'), 'kind'), (dict(scale=True), 'scale'), (dict(scale=1.5), 'scale'),
    (dict(task=4), 'task'), (dict(task='jpeg:quality=a..b'), 'task'), (dict(task='nope'), 'unknown task'),
    (dict(mean=[0.5, 0.5]), 'mean'), (dict(std='wide'), 'std'), (dict(strength=2), 'strength'),
    (dict(arch=None), 'arch'), (dict(input='hr'), 'reads the low-resolution image')])
def test_a_config_the_card_cannot_read_is_one_line(tmp_path, change, why):
    model = restorer('sr_resnet', n_blocks=1)
    with pytest.raises(UsageError, match=why): restorer_from_config({**model.config, **change})
    f = _file(tmp_path/'bad.pth', {**model.config, **change}, model.state_dict())
    with pytest.raises(ModelError, match='not a usable superres model file'): load_restorer(f)
