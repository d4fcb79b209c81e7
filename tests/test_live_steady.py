"""The live path's steadying blend (issue 32) computes what ``stylize --flow``'s blend computes, faster."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.animate.live import Steady
from inceptionism.animate.loop import flow_reliability, move
from inceptionism.errors import ConfigError


def _frames() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A textured scene panning right by 3 px a frame, and noisy 'stylisations' of it."""
    rng = np.random.default_rng(0)
    scene = (rng.random((60, 200, 3)) * 255).astype(np.uint8)
    scene = np.repeat(np.repeat(scene, 4, axis=0), 4, axis=1)[:240, :640]  # 4 px blocks: flow can follow them
    frames = [np.ascontiguousarray(scene[:, 3 * i: 3 * i + 320]) for i in range(6)]
    outs = [np.clip(f.astype(int) + rng.integers(-40, 41, f.shape), 0, 255).astype(np.uint8) for f in frames]
    return frames, outs


def test_the_blend_is_the_flow_blend_of_stylize_within_a_few_levels():
    frames, outs = _frames()
    steady = Steady(0.5)
    assert np.array_equal(steady(frames[0], outs[0]), outs[0])  # nothing to blend with yet
    previous_frame, previous_out = frames[0], outs[0]
    for frame, out in zip(frames[1:], outs[1:]):
        flow = steady.flow(previous_frame, frame)
        weight = (0.5 * flow_reliability(previous_frame, frame, flow))[..., None]
        expected = (out * (1 - weight) + move(previous_out, flow).astype(np.float32) * weight + 0.5).astype(np.uint8)
        got = steady(frame, out)
        difference = np.abs(got.astype(int) - expected)
        # the maps are fixed-point (1/32 px): a full-contrast edge may differ by 255/32 levels
        assert difference.mean() < 0.5 and difference.max() <= 8
        assert np.abs(got.astype(int) - out).mean() > 5  # it did blend: the noise of the two outputs averaged
        previous_frame, previous_out = frame, got


def test_no_blend_leaves_outputs_alone_and_a_bad_blend_is_refused():
    frames, outs = _frames()
    steady = Steady(0.0)
    for frame, out in zip(frames, outs):
        assert np.array_equal(steady(frame, out), out)
    with pytest.raises(ConfigError, match="blend"):
        Steady(1.0)
