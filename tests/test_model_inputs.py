"""The public model API takes data the way the data layer does (aekit/arrays.py): tensors of any
float dtype and uint8 tensors exactly like NumPy arrays of that dtype, integer pixel arrays scaled
like uint8, (N, H, W) for one-channel images, one example without its batch dimension."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.models import build_model


@pytest.fixture(scope="module")
def image_model():
    torch.manual_seed(0)
    return build_model("vae", input_shape=[1, 8, 8], likelihood="bernoulli", hidden=[16], latent_dim=3).eval()


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (5, 1, 8, 8)).astype(np.uint8)


def test_tensors_of_any_float_dtype_behave_like_numpy(image_model, pixels):
    x = pixels.astype(np.float32) / 255
    want = image_model.encode(x)
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        t = torch.from_numpy(x).to(dtype)
        got = image_model.encode(t)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), image_model.encode(t.float().numpy()), rtol=1e-6, atol=1e-6)
        if dtype in (torch.float64, torch.float32):
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)
    rec = image_model.reconstruct(torch.from_numpy(x).double())
    assert rec.shape == x.shape and rec.dtype == torch.float32


def test_uint8_tensors_and_integer_pixel_arrays_are_scaled_like_uint8(image_model, pixels):
    want = image_model.encode(pixels)  # NumPy uint8: ÷ 255
    np.testing.assert_allclose(want, image_model.encode(pixels.astype(np.float32) / 255), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(image_model.encode(torch.from_numpy(pixels)).numpy(), want, rtol=1e-6, atol=1e-6)
    for dtype in (np.int32, np.int64, np.int16):
        np.testing.assert_allclose(image_model.encode(pixels.astype(dtype)), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(image_model.encode(torch.from_numpy(pixels.astype(np.int64))).numpy(), want, rtol=1e-6, atol=1e-6)
    binary = (pixels > 127).astype(np.int64)  # 0/1 integers are 0/1, not 0/255ths
    np.testing.assert_allclose(image_model.encode(binary), image_model.encode(binary.astype(np.float32)), rtol=1e-6)


def test_integer_vectors_in_the_pixel_range_are_refused_with_a_choice():
    torch.manual_seed(0)
    m = build_model("ae", input_shape=[6], likelihood="gaussian", hidden=[4], latent_dim=2)
    counts = np.random.default_rng(0).integers(0, 40, (3, 6))
    with pytest.raises(AekitError, match=r"could be pixel values or counts") as e:
        m.encode(counts)
    assert "astype('float32')" in e.value.hint
    big = counts * 100  # beyond 0..255: numbers
    np.testing.assert_allclose(m.encode(big), m.encode(big.astype(np.float32)), rtol=1e-6)


def test_one_channel_images_without_the_channel_axis(image_model, pixels):
    x = pixels.astype(np.float32) / 255
    want = image_model.encode(x)
    np.testing.assert_allclose(image_model.encode(x[:, 0]), want, rtol=1e-5, atol=1e-6)  # (N, H, W) = Keras' MNIST layout
    np.testing.assert_allclose(image_model.encode(x[0, 0]), want[:1], rtol=1e-5, atol=1e-6)  # one (H, W) example
    np.testing.assert_allclose(image_model.encode(x[0]), want[:1], rtol=1e-5, atol=1e-6)  # one (C, H, W) example
    np.testing.assert_allclose(image_model.encode(x.reshape(5, 64)), want, rtol=1e-5, atol=1e-6)  # flattened
    assert image_model.reconstruct(x[:, 0]).shape == (5, 8, 8)  # the shape it was given
    with pytest.raises(AekitError, match=r"expects examples of shape \(1, 8, 8\)"):
        image_model.encode(np.zeros((5, 7, 7), np.float32))
