"""The compiled modules, booth.audio._fir (the framer's engine) and booth.audio._pcm (the
daemon's small int16 PCM work: levels, the jitter buffer's mix, mono to stereo); everything
else is in pyproject.toml. Both are required: neither has another implementation."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "booth.audio._fir",
            sources=["booth/audio/_fir.c"],
            # Every float operation rounds as written on every platform (no fused
            # multiply-adds but where _fir.c says they are exact): the DC blocker's bits are
            # then the same on x86 and ARM and equal to Python's floats in the tests.
            extra_compile_args=["-ffp-contract=off", "-std=gnu99"],
        ),
        # Integer arithmetic only; the same flags, so every compiled file builds alike.
        Extension(
            "booth.audio._pcm",
            sources=["booth/audio/_pcm.c"],
            extra_compile_args=["-ffp-contract=off", "-std=gnu99"],
        ),
    ],
)
