"""Map pipeline and image-score views against straightforward recomputations."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from anoclip import scoring


def test_abnormal_probability_is_a_sigmoid_of_the_cosine_gap():
    torch.manual_seed(0)
    features = torch.randn(4, 5, 16) * 3
    prototypes = torch.nn.functional.normalize(torch.randn(2, 16), dim=1)
    unit = features / features.norm(dim=-1, keepdim=True)
    gap = unit @ prototypes[1] - unit @ prototypes[0]
    for temperature in (1.0, 0.07):
        expected = torch.sigmoid(gap / temperature)
        got = scoring.abnormal_probability(features, prototypes, temperature)
        assert got.shape == (4, 5)
        assert torch.allclose(got, expected, atol=1e-6)


def test_mean3_replicate_padding_by_hand():
    grid = torch.rand(2, 5, 4)
    padded = np.pad(grid.numpy(), ((0, 0), (1, 1), (1, 1)), mode="edge")
    expected = np.zeros_like(grid.numpy())
    for i in range(5):
        for j in range(4):
            expected[:, i, j] = padded[:, i:i + 3, j:j + 3].mean(axis=(1, 2))
    assert np.allclose(scoring.smooth_mean3(grid).numpy(), expected, atol=1e-6)


def bilinear_align_corners(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = grid.shape
    out = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            sy = y * (h - 1) / (height - 1)
            sx = x * (w - 1) / (width - 1)
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            fy, fx = sy - y0, sx - x0
            top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
            bottom = grid[y1, x0] * (1 - fx) + grid[y1, x1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def test_upsample_is_bilinear_with_aligned_corners():
    grid = torch.rand(1, 4, 5)
    got = scoring.upsample(grid, (13, 11))[0].numpy()
    assert np.allclose(got, bilinear_align_corners(grid[0].numpy(), 13, 11), atol=1e-5)
    assert got[0, 0] == pytest.approx(float(grid[0, 0, 0])) and got[-1, -1] == pytest.approx(float(grid[0, -1, -1]))


@pytest.mark.parametrize("sigma", [1.0, 4.0, 9.0])
def test_gaussian_blur_matches_scipy(sigma):
    maps = torch.rand(2, 20, 17)
    got = scoring.gaussian_blur(maps, sigma).numpy()
    expected = np.stack([ndimage.gaussian_filter(m, sigma, mode="reflect", truncate=4.0) for m in maps.numpy().astype(np.float64)])
    assert np.allclose(got, expected, atol=1e-5)


def test_anomaly_maps_pipeline_orders():
    grid = torch.rand(2, 6, 6)
    size = (30, 30)
    assert torch.allclose(scoring.anomaly_maps(grid, size, "mean3"), scoring.upsample(scoring.smooth_mean3(grid), size))
    assert torch.allclose(scoring.anomaly_maps(grid, size, "none"), scoring.upsample(grid, size))
    assert torch.allclose(
        scoring.anomaly_maps(grid, size, "gaussian", sigma=2.0), scoring.gaussian_blur(scoring.upsample(grid, size), 2.0)
    )
    with pytest.raises(ValueError, match="smoothing"):
        scoring.anomaly_maps(grid, size, "median")


def test_views():
    images = torch.rand(2, 3, 16, 16)
    views = scoring.augment_views(images, 22)
    assert views.shape == (22, 2, 3, 16, 16)
    assert torch.equal(views[0], images)
    assert torch.equal(views[17], images.flip(-1))
    gray = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    assert torch.allclose(views[18], gray[:, None].expand(-1, 3, -1, -1), atol=1e-6)
    for k, index in zip((1, 2, 3), (19, 20, 21)):
        assert torch.equal(views[index], torch.rot90(images, k, dims=(-2, -1)))
    # All 22 views differ from each other (no accidental duplicates).
    flat = views.flatten(1)
    assert all(not torch.allclose(flat[i], flat[j]) for i in range(22) for j in range(i + 1, 22))
    # A shift by 0.2 in normalised coordinates moves content by 10 % of the side (1.5 px here).
    ramp = torch.arange(16.0).expand(1, 3, 16, 16).contiguous()
    shifted = scoring.augment_views(ramp, 22)[9]
    assert torch.allclose(shifted[0, 0, 8, 4:12] - ramp[0, 0, 8, 4:12], torch.full((8,), 1.5), atol=1e-4)
    assert torch.equal(scoring.augment_views(images, 1)[0], images)
    with pytest.raises(ValueError):
        scoring.augment_views(images, 5)


def test_image_scores_average_view_probabilities():
    torch.manual_seed(0)
    cls_views = torch.randn(22, 3, 8)
    prototypes = torch.nn.functional.normalize(torch.randn(2, 8), dim=1)
    per_view = scoring.abnormal_probability(cls_views, prototypes)
    assert torch.allclose(scoring.image_scores(cls_views, prototypes), per_view.mean(0))
