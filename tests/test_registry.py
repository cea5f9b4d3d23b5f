"""Registries: architectures, presets, tasks and losses by name; an unknown name is a usage error naming the choices."""
import pytest

from superres.degradations import TASKS, parse_degradation, task_degradation
from superres.errors import UsageError
from superres.losses import LOSSES, PIXEL_LOSSES, pixel_loss, restoration_loss
from superres.models import ARCHS, PRESETS, SR_RESNET_PRESETS, UNET_PRESETS, classifier, restorer
from superres.registry import Registry


@pytest.mark.parametrize('lookup,kind,choices', [
    (lambda: restorer('nope'), 'arch', ARCHS),
    (lambda: classifier('nope'), 'classifier preset', PRESETS),
    (lambda: restorer('tiny_unet', preset='nope'), 'UNet preset', UNET_PRESETS),
    (lambda: restorer('sr_resnet', preset='nope'), 'sr_resnet preset', SR_RESNET_PRESETS),
    (lambda: parse_degradation('nope'), 'task', TASKS),
    (lambda: task_degradation('nope+superres'), 'task', TASKS),
    (lambda: restoration_loss('nope'), 'loss', LOSSES),
    (lambda: pixel_loss('nope'), 'pixel loss', PIXEL_LOSSES),
], ids=['arch', 'preset', 'unet_preset', 'sr_resnet_preset', 'task', 'task_in_chain', 'loss', 'pixel_loss'])
def test_unknown_name_is_a_usage_error_naming_the_choices(lookup, kind, choices):
    with pytest.raises(UsageError) as e: lookup()
    msg = str(e.value)
    assert msg.startswith(f"unknown {kind} 'nope'"), msg
    assert len(choices) >= 2 and all(name in msg for name in choices), msg

def test_registry_registers_once_and_stays_a_dict():
    reg = Registry('widget')
    @reg.register()
    def round_one(): return 1
    reg.register('square')(lambda: 4)
    assert reg['round_one'] is round_one and reg['square']() == 4 and list(reg) == ['round_one', 'square']
    with pytest.raises(KeyError, match="widget 'square' is registered twice"): reg.register('square')(lambda: 5)
    assert reg.get('nope') is None and 'nope' not in reg  # plain dict look-ups that do not raise keep working
    with pytest.raises(ValueError, match="unknown widget 'nope'; choose one of round_one, square"): reg['nope']
