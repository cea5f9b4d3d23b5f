"""Recipe configs: frozen, and options that mean nothing together refused in one line, in Python and on the command
line (where the library's names become flags)."""
import dataclasses

import pytest
from conftest import cli_here

from superres.configs import ClassifierLoss, FineTuneConfig, RestorerData, ScheduleConfig
from superres.errors import UsageError


def test_configs_are_frozen_and_subclasses_keep_their_base_fields():
    with pytest.raises(dataclasses.FrozenInstanceError): ScheduleConfig().epochs = 3
    assert dataclasses.replace(FineTuneConfig(), epochs=3) == FineTuneConfig(epochs=3)
    assert RestorerData('photos', bs=8).data == 'photos' and RestorerData().pipeline == 'auto'

@pytest.mark.parametrize('make, message', [
    (lambda: ClassifierLoss(mixup=0.4, cutmix=1.), '`mixup` and `cutmix` each replace the loss: pick one'),
    (lambda: FineTuneConfig(resume=True, budget=60), '`resume` continues `epochs` runs'),
])
def test_options_that_mean_nothing_together_are_refused(make, message):
    with pytest.raises(UsageError, match=message): make()

def test_the_command_line_gets_the_configs_refusal_in_its_flags(tmp_path, capsys):
    rc, _, err = cli_here(capsys, 'train', '--resume', '--budget', '60', '--out', tmp_path/'run')
    assert rc == 2 and err.count('\n') == 1, err
    assert '--resume continues --epochs runs: a --budget' in err
    assert not (tmp_path/'run').exists(), 'refused before any work'
