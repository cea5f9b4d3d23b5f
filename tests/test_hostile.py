"""A hostile and careless user (issue 33) meets every command, not only `upscale`: absurd numbers, broken and bomb
images, one-image sets, model files that lie, output folders that cannot work. Each case gives a correct output or one
clear line and a non-zero exit, the other files of a run still written, and nothing a user owns replaced."""
import io
import struct
import zlib

import pytest
import torch
from conftest import cli_here as cli
from conftest import noise
from PIL import Image

from superres.errors import UsageError


def one_line(err):
    "The one line a refusal prints: no traceback, nothing else."
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]

def png_bytes(img):
    buf = io.BytesIO(); img.save(buf, 'PNG')
    return buf.getvalue()

def bomb_png(w, h, mode='L'):
    "A small PNG whose header claims `w`x`h` pixels (the checksum fixed up): a decompression bomb."
    data = png_bytes(Image.new(mode, (8, 8)))
    ihdr = b'IHDR' + struct.pack('>II', w, h) + data[24:29]
    return data[:12] + ihdr + struct.pack('>I', zlib.crc32(ihdr)) + data[33:]

def hostile_images(folder):
    "A truncated image, a header bomb and a 144 MP bomb: names of files no command may crash on."
    folder.mkdir(parents=True, exist_ok=True)
    (folder/'truncated.png').write_bytes(png_bytes(noise(40, 30))[:120])
    (folder/'header_bomb.png').write_bytes(bomb_png(100_000, 100_000))
    (folder/'bomb_144mp.png').write_bytes(bomb_png(12_000, 12_000))
    return ['truncated.png', 'header_bomb.png', 'bomb_144mp.png']

# 1. --scale, one rule wherever it is accepted

@pytest.mark.parametrize('scale', ['inf', 'nan', '1e308', '1e-9', '-2'])
@pytest.mark.parametrize('command', ['upscale', 'evaluate'])
def test_absurd_scale_is_one_line(capsys, tmp_path, sr_model, command, scale):
    noise(8, 8).save(tmp_path/'a.png')
    args = ([command, tmp_path/'a.png', '-o', tmp_path/'out'] if command == 'upscale' else
            [command, '--hr-dir', tmp_path, '--model', 'none'])
    rc, _, err = cli(capsys, *args, '--scale', scale)
    assert rc == 2 and 'scale' in one_line(err), err
    assert not (tmp_path/'out').exists()

@pytest.mark.parametrize('scale', [float('inf'), float('nan'), 1e308, 1e-9])
def test_the_library_refuses_absurd_scales_too(sr_model, scale):
    from superres.hub import load_restorer
    from superres.inference import upscale_image
    with pytest.raises(UsageError, match='scale'): upscale_image(load_restorer(sr_model), noise(8, 8), scale)

def test_an_image_too_small_for_the_scale_fails_alone(capsys, tmp_path, sr_model):
    src = tmp_path/'in'; src.mkdir()
    noise(1, 1).save(src/'a_one.png')
    noise(10, 10).save(src/'b_ten.png')
    rc, out, err = cli(capsys, 'upscale', src, '-o', tmp_path/'out', '--model', sr_model, '--scale', 0.4)
    assert rc == 1 and 'a_one.png: FAILED' in one_line(err) and 'scale' in err
    with Image.open(tmp_path/'out'/'b_ten.png') as im: assert im.size == (4, 4)
    assert '2 images: 1 written, 0 skipped (already written), 1 failed' in out

# 6. restore --amount, and file names that would break the one-line report

@pytest.mark.parametrize('amount', ['1e9', 'nan', 'inf', '0', '-0.5'])
def test_absurd_outpaint_amount_is_one_line(capsys, tmp_path, amount):
    noise(8, 8).save(tmp_path/'a.png')
    rc, _, err = cli(capsys, 'restore', tmp_path/'a.png', '-o', tmp_path/'out', '--amount', amount)
    assert rc == 2 and 'amount' in one_line(err)

def test_the_library_refuses_absurd_amounts():
    from superres.fills import extend_canvas
    with pytest.raises(UsageError, match='amount'): extend_canvas(noise(8, 8), 'right', 1e9)

def test_control_characters_in_file_names_keep_one_line_per_file(capsys, tmp_path, sr_model):
    src = tmp_path/'in'; src.mkdir()
    names = ['new\nline.png', 'esc\x1b[31mred.png', 'bad\rreturn.png']
    for name in names: noise(6, 6).save(src/name)
    (src/'broken\nfile.png').write_bytes(b'not an image')
    rc, out, err = cli(capsys, 'upscale', src, '-o', tmp_path/'out', '--model', sr_model)
    report = [line.rsplit('\r', 1)[-1] for line in out.split('\n') if ' -> ' in line]  # the bar redraws with \r
    assert rc == 1 and len(report) == len(names) and '\x1b' not in out + err, report
    assert all(f'{src}/' in line and f"{tmp_path/'out'}/" in line for line in report), report
    assert 'broken\\nfile.png: FAILED' in one_line(err)
    assert 'new\\nline.png' in out and 'esc\\x1b[31mred.png' in out and 'bad\\rreturn.png' in out

# 5. the output folder: one policy for every command that writes files

@pytest.mark.parametrize('command', ['upscale', 'degrade'])
def test_output_folder_that_is_the_input_folder_is_one_line(capsys, tmp_path, sr_model, command):
    noise(8, 8).save(tmp_path/'a.png')
    extra = ['--model', sr_model] if command == 'upscale' else ['--task', 'jpeg']
    for inputs, out in ((tmp_path, tmp_path), (f'{tmp_path}/', tmp_path/'.'), (tmp_path, tmp_path.parent)):
        rc, _, err = cli(capsys, command, inputs, '-o', out, *extra)
        assert rc == 2 and 'input folder' in one_line(err) and '--output' in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.png']

@pytest.mark.parametrize('command', ['upscale', 'restore', 'degrade'])
def test_output_folder_that_is_a_file_or_below_one_is_one_line(capsys, tmp_path, sr_model, command):
    noise(8, 8).save(tmp_path/'a.png')
    (tmp_path/'file').write_text('mine')
    extra = ['--task', 'jpeg'] if command == 'degrade' else ['--model', sr_model]
    for out in (tmp_path/'file', tmp_path/'file'/'sub', tmp_path/'file'/'sub'/'deeper'):
        rc, _, err = cli(capsys, command, tmp_path/'a.png', '-o', out, *extra)
        assert rc == 2 and 'file' in one_line(err), err
    assert (tmp_path/'file').read_text() == 'mine'

def test_a_file_that_appears_while_the_model_runs_is_kept(tmp_path):
    from superres.folders import map_images
    noise(8, 8).save(tmp_path/'a.png')
    out = tmp_path/'out'
    def user_writes_meanwhile(img, i, src, progress):
        (out/'a.png').write_bytes(b'the user made this')
        return img, [], None
    [o] = map_images(user_writes_meanwhile, [tmp_path/'a.png'], out)
    assert o.status == 'skipped' and 'kept' in o.notes[0] and (out/'a.png').read_bytes() == b'the user made this'
    assert [p.name for p in out.iterdir()] == ['a.png']  # no partial file left behind
    [o] = map_images(user_writes_meanwhile, [tmp_path/'a.png'], out, overwrite=True)  # asked for: replaced
    assert o.status == 'written' and Image.open(out/'a.png').size == (8, 8)

def test_no_clobber_write_keeps_a_file_that_is_there(tmp_path):
    from superres.files import atomic_path
    (tmp_path/'x').write_text('mine')
    with pytest.raises(FileExistsError), atomic_path(tmp_path/'x', replace=False) as tmp: tmp.write_text('new')
    assert (tmp_path/'x').read_text() == 'mine' and [p.name for p in tmp_path.iterdir()] == ['x']
    with atomic_path(tmp_path/'y', replace=False) as tmp: tmp.write_text('new')
    assert (tmp_path/'y').read_text() == 'new'

# 3. the --overwrite resume journal knows what each output was made from

def _interrupted_overwrite_run(src, out, finished):
    "An `overwrite` run of folder `src` into `out` killed after `finished` images (its journal left behind)."
    from superres.folders import map_images
    def fn(img, i, path, progress):
        if i == finished: raise KeyboardInterrupt
        return img, [], None
    with pytest.raises(KeyboardInterrupt): map_images(fn, [src], out, overwrite=True, key='same model and options')

def _overwrite_run(src, out):
    from superres.folders import map_images
    return [o.status for o in map_images(lambda img, *_: (img, [], None), [src], out, overwrite=True,
                                         key='same model and options')]

def _folder(path, seed, n=4):
    path.mkdir(parents=True, exist_ok=True)
    for k in range(n): noise(6, 6, seed=seed * 100 + k).save(path/f'img_{k}.png')
    return path

def test_resume_after_an_interrupted_overwrite_run_keeps_only_what_the_same_inputs_made(tmp_path):
    first, out = _folder(tmp_path/'first', 1), tmp_path/'out'
    _interrupted_overwrite_run(first, out, 3)
    assert _overwrite_run(first, out) == ['skipped'] * 3 + ['written']  # the same inputs: resumed, as before

def test_another_folder_into_the_same_output_redoes_everything(tmp_path):
    first, second, out = _folder(tmp_path/'first', 1), _folder(tmp_path/'second', 2), tmp_path/'out'
    _interrupted_overwrite_run(first, out, 3)
    assert _overwrite_run(second, out) == ['written'] * 4
    for k in range(4): assert Image.open(out/f'img_{k}.png').tobytes() == Image.open(second/f'img_{k}.png').tobytes()

def test_an_input_edited_between_runs_is_redone(tmp_path):
    first, out = _folder(tmp_path/'first', 1), tmp_path/'out'
    _interrupted_overwrite_run(first, out, 3)
    noise(6, 6, seed=99).save(first/'img_1.png')  # edited after the interrupted run wrote its output
    assert _overwrite_run(first, out) == ['skipped', 'written', 'skipped', 'written']
    assert Image.open(out/'img_1.png').tobytes() == Image.open(first/'img_1.png').tobytes()

# 2. evaluate, fid and classify predict read images as upscale does

def _scoring_folder(folder):
    "Two good images beside every hostile one and a 1x1 image: names of the files a scoring command must leave out."
    folder.mkdir(parents=True)
    for k in range(2): noise(32, 32, seed=k).save(folder/f'good_{k}.png')
    noise(1, 1).save(folder/'one_pixel.png')
    return hostile_images(folder) + ['one_pixel.png']

@pytest.mark.parametrize('model', ['none', 'sr_model'])
def test_evaluate_leaves_out_bad_and_tiny_images_in_one_line_each(capsys, tmp_path, request, model):
    bad = _scoring_folder(tmp_path/'hr')
    model = request.getfixturevalue(model) if model != 'none' else model
    rc, out, err = cli(capsys, 'evaluate', '--hr-dir', tmp_path/'hr', '--model', model, '--per-image')
    assert rc == 1 and 'Traceback' not in err and 'nan' not in out, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == len(bad) and all(any(b in line and 'SKIPPED' in line for line in lines) for b in bad), lines
    assert '2 images from' in out

def test_evaluate_with_nothing_scorable_is_one_line(capsys, tmp_path):
    (tmp_path/'hr').mkdir(); noise(1, 1).save(tmp_path/'hr'/'one.png')
    rc, _, err = cli(capsys, 'evaluate', '--hr-dir', tmp_path/'hr', '--model', 'none')
    assert rc == 2 and 'too small' in one_line(err)

def test_evaluate_library_reports_what_it_left_out(tmp_path):
    from superres.evaluate import evaluate
    _scoring_folder(tmp_path/'hr')
    report = evaluate(tmp_path/'hr', progress=False)
    assert len(report['images']) == 2 and set(report['skipped']) == {str(tmp_path/'hr'/b) for b in hostile_images(
        tmp_path/'hr') + ['one_pixel.png']}

@pytest.fixture(scope='module')
def clf_file(contract_clf, tmp_path_factory):
    from superres.hub import save_model
    return save_model(contract_clf, tmp_path_factory.mktemp('clf')/'model.pth')

@pytest.mark.parametrize('bad', ['truncated.png', 'header_bomb.png', 'bomb_144mp.png'])
def test_fid_refuses_a_bad_image_in_one_line(capsys, tmp_path, clf_file, bad):
    for folder in ('a', 'b'):
        (tmp_path/folder).mkdir()
        for k in range(3): noise(16, 16, seed=k).save(tmp_path/folder/f'{k}.png')
    hostile_images(tmp_path/'hostile')
    (tmp_path/'b'/bad).write_bytes((tmp_path/'hostile'/bad).read_bytes())
    rc, _, err = cli(capsys, 'fid', tmp_path/'a', tmp_path/'b', '--classifier', clf_file)
    assert rc == 2 and bad in one_line(err)

def test_fid_of_a_one_image_set_is_one_line(capsys, tmp_path, clf_file):
    (tmp_path/'a').mkdir()
    for k in range(3): noise(16, 16, seed=k).save(tmp_path/'a'/f'{k}.png')
    noise(16, 16).save(tmp_path/'one.png')
    rc, _, err = cli(capsys, 'fid', tmp_path/'a', tmp_path/'one.png', '--classifier', clf_file)
    assert rc == 2 and 'at least 2' in one_line(err)

def test_kid_guard_fires_on_sets_of_one():
    import numpy as np

    from superres.fid import kernel_distance
    with pytest.raises(UsageError, match='at least 2'): kernel_distance(np.ones((1, 4)), np.ones((5, 4)))

def test_classify_predict_fails_each_bad_image_alone(capsys, tmp_path):
    bad = hostile_images(tmp_path)
    noise(20, 20).save(tmp_path/'good.png'); noise(1, 1).save(tmp_path/'one.png')
    rc, out, err = cli(capsys, 'classify', 'predict', *[tmp_path/n for n in ['good.png', *bad, 'one.png']])
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == len(bad) and 'Traceback' not in err, err
    assert all(any(b in line and 'FAILED' in line for line in lines) for b in bad), lines
    assert f'{tmp_path/"good.png"}\n' in out and f'{tmp_path/"one.png"}\n' in out and 'nan' not in out

# 4. model files are checked, and so are their outputs

def _saved(path, config):
    "A weights-only model file as `torch.save` writes it: the weights of sr_resnet, with whatever config it is given."
    from superres.models import restorer
    torch.save({'config': config, 'state_dict': restorer('sr_resnet').state_dict()}, path)
    return path

def _two_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(2): noise(12, 10, seed=k).save(folder/f'img_{k}.png')
    return folder

@pytest.mark.parametrize('data', [b'', b'e"', b'\x80\x02]q\x00(', b'PK\x03\x04garbage'],
                         ids=['empty', 'pop_mark', 'unclosed', 'zip_header'])  # b'e"': IndexError in torch's unpickler
def test_a_garbled_model_file_is_one_line(capsys, tmp_path, data):
    (tmp_path/'model.pth').write_bytes(data)
    rc, _, err = cli(capsys, 'upscale', _two_images(tmp_path/'in'), '-o', tmp_path/'out', '--model',
                     tmp_path/'model.pth')
    assert rc == 2 and 'not a usable superres model file' in one_line(err) and not (tmp_path/'out').exists()

@pytest.mark.parametrize('change', [dict(scale=10**9), dict(scale=-2), dict(scale=float('nan')), dict(scale='2'),
                                    dict(scale=2.5), dict(nf=10**7), dict(nf='64'), dict(n_blocks=10**6),
                                    dict(mean=[float('nan')] * 3), dict(std='wide'),
                                    dict(nf=1024, n_blocks=64)])  # within each bound, 600M weights together
def test_absurd_config_values_are_one_line(capsys, tmp_path, change):
    from superres.models import restorer
    config = {**restorer('sr_resnet').card.config, **change}
    rc, _, err = cli(capsys, 'upscale', _two_images(tmp_path/'in'), '-o', tmp_path/'out', '--model',
                     _saved(tmp_path/'model.pth', config))
    assert rc == 2 and 'not a usable superres model file' in one_line(err)

def test_nan_weights_fail_each_image_and_write_nothing(capsys, tmp_path):
    from superres.hub import save_model
    from superres.models import restorer
    model = restorer('sr_resnet').eval()
    with torch.no_grad():
        for p in model.parameters(): p.fill_(float('nan'))
    save_model(model, tmp_path/'model.pth')  # its checksum matches: only its outputs can tell
    rc, out, err = cli(capsys, 'upscale', _two_images(tmp_path/'in'), '-o', tmp_path/'out', '--model',
                       tmp_path/'model.pth', '--backend', 'torch')
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 2 and all('FAILED' in line and 'NaN' in line for line in lines), err
    assert not list((tmp_path/'out').iterdir())

def _onnx_file(path, nodes, config, initializers=()):
    "An ONNX file of `nodes` from `image` to `output`, carrying `config` as superres's export does."
    import json

    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('image', TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info('output', TensorProto.FLOAT, None)], list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    helper.set_model_props(proto, {'superres_config': json.dumps(config)})
    onnx.save(proto, str(path))
    return path

@pytest.mark.parametrize('backend', ['torch', 'auto'])
def test_an_onnx_graph_whose_output_disagrees_with_its_scale_fails_each_image(capsys, tmp_path, backend):
    pytest.importorskip('onnxruntime')
    from onnx import helper

    from superres.models import restorer
    model = _onnx_file(tmp_path/'m.onnx', [helper.make_node('Identity', ['image'], ['output'])],
                       restorer('sr_resnet').card.config)  # claims x2, on the low-resolution image
    rc, out, err = cli(capsys, 'upscale', _two_images(tmp_path/'in'), '-o', tmp_path/'out', '--model', model,
                       '--backend', backend)
    lines = [line for line in err.strip().splitlines() if 'note:' not in line]
    assert rc == 1 and len(lines) == 2 and all('FAILED' in line and 'x2' in line for line in lines), err
    assert not list((tmp_path/'out').iterdir())

@pytest.mark.parametrize('backend', ['torch', 'auto'])
def test_onnx_runtime_errors_fail_each_image_and_the_run_goes_on(capsys, tmp_path, backend):
    pytest.importorskip('onnxruntime')
    from onnx import TensorProto, helper

    from superres.models import restorer
    shape = helper.make_tensor('shape', TensorProto.INT64, [4], [1, 3, 1000, 1000])  # fits no input it is given
    model = _onnx_file(tmp_path/'m.onnx', [helper.make_node('Reshape', ['image', 'shape'], ['output'])],
                       restorer('sr_resnet').card.config, [shape])
    rc, out, err = cli(capsys, 'upscale', _two_images(tmp_path/'in'), '-o', tmp_path/'out', '--model', model,
                       '--backend', backend)
    lines = [line for line in err.strip().splitlines() if 'note:' not in line]
    assert rc == 1 and len(lines) == 2 and all('FAILED' in line for line in lines), err
    assert '2 images: 0 written, 0 skipped (already written), 2 failed' in out

def test_the_output_check_is_where_every_model_pass_goes():
    "The same check in the library: an identity network that claims x2 is refused by `refine`, not written."
    from superres.card import ModelCard
    from superres.errors import ModelError
    from superres.tiling import refine
    class Liar(torch.nn.Module):
        card = ModelCard.from_config(dict(kind='restorer', arch='liar', scale=2, input='lr'))
        def forward(self, x): return x
    with pytest.raises(ModelError, match='x2'): refine(Liar(), torch.rand(3, 8, 8))

@pytest.mark.parametrize('dest', ['folder', 'file/sub.onnx', 'file/sub/deeper.onnx'])
def test_every_file_written_meets_the_same_rule(capsys, tmp_path, dest):
    "export --onnx and --json write single files through the same check: a folder or a file in the way is one line."
    (tmp_path/'folder').mkdir(); (tmp_path/'file').write_text('mine')
    rc, _, err = cli(capsys, 'export', '--onnx', tmp_path/dest)
    assert rc == 2 and 'cannot write' in one_line(err)
    (tmp_path/'hr').mkdir(); noise(32, 32).save(tmp_path/'hr'/'a.png')
    rc, _, err = cli(capsys, 'evaluate', '--hr-dir', tmp_path/'hr', '--model', 'none', '--json', tmp_path/dest)
    assert rc == 2 and 'cannot write' in one_line(err)
    assert (tmp_path/'file').read_text() == 'mine'

@pytest.fixture(scope='module')
def nan_clf_file(tmp_path_factory):
    "A classifier of NaN weights, saved with a matching checksum: only its outputs can tell."
    from superres.hub import load_classifier, save_model
    model = load_classifier()  # the shipped one: its vocab and names, for classify predict
    with torch.no_grad():
        for p in model.parameters(): p.fill_(float('nan'))
    return save_model(model, tmp_path_factory.mktemp('nan')/'model.pth')

def test_a_nan_classifier_is_one_line_not_nan_rows(capsys, tmp_path, nan_clf_file):
    noise(20, 20).save(tmp_path/'a.png')
    rc, out, err = cli(capsys, 'classify', 'predict', tmp_path/'a.png', '--model', nan_clf_file)
    assert rc == 2 and 'NaN' in one_line(err) and 'nan' not in out

def test_a_nan_classifier_gives_no_nan_distance(capsys, tmp_path, nan_clf_file):
    for folder in ('a', 'b'):
        (tmp_path/folder).mkdir()
        for k in range(3): noise(16, 16, seed=k).save(tmp_path/folder/f'{k}.png')
    rc, out, err = cli(capsys, 'fid', tmp_path/'a', tmp_path/'b', '--classifier', nan_clf_file)
    assert rc == 2 and 'NaN' in one_line(err) and 'nan' not in out
