"""``njit_noalias``: a serial numba entry point whose array arguments are ``noalias``.

numba compiles a plain ``@njit`` function without knowing that its output array does
not overlap the tables it reads, so LLVM guards every vectorised row loop with a
runtime overlap test (``vector.memcheck`` blocks in the IR) and keeps a scalar
fallback; on an Emerald Rapids guest that made the old serial entry point 1.6-2.7x
slower than the same body inside a ``prange`` (kernels/fused.py). numba's parfor
lowering avoids it by compiling the gufunc with the ``noalias`` flag, which marks
every pointer argument ``noalias``; numba's decorators do not expose that flag, so
this module adds the one option mapping to numba's own CPU target options and
builds the dispatcher with it. Everything else (typing, target context, caching)
is numba's CPU target unchanged.

The promise is the caller's: no two array arguments of such a function may overlap.
The fused kernels keep it because ``out`` is a fresh ``np.empty`` or the kernel's
own output buffer (kernels/memrec.py), never a table, and every other array is only
read. ``tests/test_combine.py`` checks the IR has no memcheck.
"""

from __future__ import annotations

from numba.core import cpu, options, registry


class _NoAliasOptions(cpu.CPUTargetOptions):
    """numba's CPU options plus ``noalias`` (the flag parfor gufuncs compile with)."""

    noalias = options.TargetOptions.Mapping("noalias")


class _NoAliasTarget(registry.CPUTarget):
    """numba's CPU target with the extra option; the contexts are numba's own."""

    options = _NoAliasOptions

    @property
    def target_context(self):
        return registry.cpu_target.target_context

    @property
    def typing_context(self):
        return registry.cpu_target.typing_context


class _NoAliasDispatcher(registry.CPUDispatcher):
    targetdescr = _NoAliasTarget("cpu")


def njit_noalias(cache: bool = False, **flags):
    """Like ``numba.njit(**flags)``, with every array argument marked ``noalias``."""
    def wrap(func):
        disp = _NoAliasDispatcher(py_func=func, locals={},
                                  targetoptions={"nopython": True, "noalias": True} | flags)
        if cache:
            disp.enable_caching()
        return disp
    return wrap
