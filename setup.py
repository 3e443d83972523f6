"""The one compiled module, booth.audio._fir (the framer's engine); everything else is in
pyproject.toml. It is required: the framer has no other engine."""

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
        )
    ],
)
