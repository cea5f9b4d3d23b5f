"""FID/KID from a superres classifier, and the input contract that keeps them honest."""
import numpy as np
import pytest
import torch
from conftest import CONTRACT_MEAN as MEAN
from conftest import CONTRACT_STD as STD
from PIL import Image
from scipy import linalg

from superres.errors import ContractError, UsageError
from superres.fid import ClassifierFeatures, feature_distances, frechet_distance, kernel_distance


@pytest.fixture(scope='module')
def clf(contract_clf): return contract_clf

def images(n=6, seed=0, size=64):
    return torch.from_numpy(np.random.default_rng(seed).random((n, 3, size, size), dtype=np.float32))

def test_frechet_distance_matches_direct_scipy():
    rng = np.random.default_rng(0)
    f1, f2 = rng.normal(size=(400, 6)), rng.normal(0.3, 1.5, size=(300, 6)) @ rng.normal(size=(6, 6))
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    tr_sqrt = np.sqrt(linalg.eigvals(s1 @ s2)).real.sum()  # trace of the matrix square root via eigenvalues
    direct = ((f1.mean(0) - f2.mean(0))**2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(f1, f2) == pytest.approx(direct, rel=1e-8)
    assert frechet_distance(f1, f1) == pytest.approx(0, abs=1e-8)
    g1, g2 = rng.normal(1, 2, (200_000, 1)), rng.normal(3, 0.5, (200_000, 1))  # 1-D: (m1-m2)^2 + (s1-s2)^2
    assert frechet_distance(g1, g2) == pytest.approx(4 + 1.5**2, rel=0.01)

def test_kernel_distance_matches_direct_mmd():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.5, 1, size=(25, 4))
    k = lambda a, b: (a @ b / 4 + 1)**3
    m = 10
    kid, std = kernel_distance(x, y, n_subsets=1, subset_size=m, seed=0)
    rng = np.random.default_rng(0)
    xs, y = x[rng.choice(30, m, replace=False)], y[rng.choice(25, m, replace=False)]
    kxx = sum(k(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j) / (m * (m-1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m-1))
    kxy = sum(k(xs[i], y[j]) for i in range(m) for j in range(m)) / m**2
    assert kid == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-9) and std == 0
    assert kernel_distance(x, y, n_subsets=1, subset_size=100)[0] != kid  # capped at half the smaller set: 12
    p, q, r = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4)), rng.normal(0.5, 1, size=(2000, 4))
    same, diff = kernel_distance(p, q, n_subsets=20)[0], kernel_distance(p, r, n_subsets=20)[0]
    assert abs(same) < 0.05 * diff, (same, diff)

def test_features_are_the_pooled_features_of_normalised_images(clf):
    x = images()
    h = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        for layer in clf[1:-1]: h = layer(h)
    np.testing.assert_allclose(ClassifierFeatures(clf)(x), h.mean((2, 3)).double().numpy(), rtol=1e-4, atol=1e-5)
    assert ClassifierFeatures(clf, layer=2)(x).shape == (6, clf[2][0].convs[-1][0].out_channels)
    with pytest.raises(UsageError, match='outside the classifier body'): ClassifierFeatures(clf, layer=99)

def test_every_input_form_gives_the_same_features(clf, tmp_path):
    x8 = (images(3) * 255).round().byte()
    pils = [Image.fromarray(t.permute(1, 2, 0).numpy()) for t in x8]
    for i, p in enumerate(pils): p.save(tmp_path/f'{i}.png')
    feats = ClassifierFeatures(clf)
    want = feats(x8.float() / 255)
    forms = (x8, list(x8), pils, tmp_path, [tmp_path/f'{i}.png' for i in range(3)], [str(tmp_path/'0.png'), pils[1:]])
    for form in forms:
        np.testing.assert_allclose(feats(form), want, rtol=1e-5, atol=1e-6)

def test_large_images_are_resized_or_cut_into_patches(clf):
    big = images(2, size=128)
    assert ClassifierFeatures(clf)(big).shape[0] == 2
    assert ClassifierFeatures(clf, patches=True)(big).shape[0] == 8  # four 64x64 patches each

@pytest.mark.parametrize('name,transform,match', [
    ('lecture: [-0.5, 0.5]', lambda x: x - 0.5, r'got values in \[-0\.'),
    ('[-1, 1]', lambda x: x * 2 - 1, r'got values in \[-1\.'),
    ('0-255 floats', lambda x: x * 255, r'got values in \[0\.\d+, 25\d'),
    ('ImageNet-normalised', lambda x: (x - 0.45) / 0.225, 'got values in'),
    ('divided by 255 twice', lambda x: x / 255, 'look rescaled or normalised already'),
    ('model normalisation bypassed',
     lambda x: (x - 0.5) * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1),
     'look rescaled or normalised already'),
])
def test_guard_refuses_images_off_the_contract(clf, name, transform, match):
    x = transform(images(8))
    with pytest.raises(ContractError, match=match) as e: ClassifierFeatures(clf)(x)
    assert 'takes plain images in [0, 1]' in str(e.value) and 'mean (0.480, 0.440, 0.370)' in str(e.value)
    assert np.isfinite(ClassifierFeatures(clf, check=False)(x)).all()  # without the guard it silently computes

def test_guard_accepts_real_images_and_small_overshoot(clf):
    x, feats = images(8), ClassifierFeatures(clf)
    over = x.clamp(0.02, 0.98) * 1.03  # slight overshoot (e.g. a model's raw output) is clamped, not refused
    np.testing.assert_allclose(feats(over), feats(over.clamp(0, 1)), rtol=1e-5, atol=1e-6)
    x8 = (x * 255).round().byte()  # 8-bit tensors are scaled
    np.testing.assert_allclose(feats(x8), feats(x8.float() / 255), rtol=1e-5, atol=1e-6)

def test_feature_distances_rank_degradation(clf):
    a, b = images(40, seed=1), images(40, seed=2)
    same = feature_distances(a, b, clf, n_subsets=10, subset_size=20)
    worse = feature_distances(a, b * 0.5 + 0.25, clf, n_subsets=10, subset_size=20)
    assert same['n_a'] == 40 and same['dim'] == 192 and 0 <= same['fid'] < worse['fid'] and same['kid'] < worse['kid']
