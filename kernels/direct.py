"""Calling a numba kernel's compiled entry point directly, and binding small batches.

Why: at batch 1-16 the fused MEM-REC kernel's own work is tens of ns per id, and the
Python around it was most of a timed call. On the shared 2-vCPU Zen 3 VM (one
thread, k = 2, d = 8192, 20,000 calls, medians, the machine otherwise quiet),
``MemRec.run`` cost 1.02 / 1.46 us at batch 1 / 16, of which:

- numba's dispatcher resolving the types of nine arguments on every call: ~0.19 us
  (the dispatcher 0.62 us, the compiled overload's ``entry_point`` 0.43 us);
- ``np.empty`` for the output: ~0.2 us;
- the tuple unpacking and the starred call around it: ~0.2 us.

The ``entry_point`` (numba's C wrapper that unboxes the arguments and runs the
machine code) skips the type resolution; ``functools.partial`` binds it to a
prepared batch's arguments and an output buffer the kernel reuses (kernels/memrec.py
says why one per shape), so a timed call is one C call.
A numba ``cfunc`` through ctypes was no way out: ctypes alone cost 0.34 us for a
call with one integer argument, against 0.11 us for a numba entry point.

The entry point unboxes arrays without checking their types, so an instance must
pass arguments of one numba type per dispatcher: ``plain`` makes ids and offsets
C-contiguous, aligned and writeable (numba types differ by layout, alignment and
read-only), and ``EntryPoints`` resolves each dispatcher once, from the first
call's arguments, with numba's own ``typeof`` and ``compile`` (which loads from the
on-disk cache when the code is there).
"""

from __future__ import annotations

import numpy as np


def plain(a: np.ndarray) -> np.ndarray:
    """``a`` itself if C-contiguous, aligned and writeable, else a copy that is.

    So every batch has one numba type per dtype and ndim, and one resolved entry
    point serves all of them.
    """
    f = a.flags
    return a if f.c_contiguous and f.aligned and f.writeable else np.array(a, order="C")


class EntryPoints:
    """Per kernel instance: each dispatcher's compiled entry point, resolved once.

    Valid because the instance passes every dispatcher arguments of fixed types (its
    own tables, ``plain`` int64 arrays, Python ints and bools); resolving them anew
    costs ~9 us per array argument (``numba.typeof``), more than a small batch.
    """

    def __init__(self):
        self._resolved: dict = {}

    def __call__(self, dispatcher, args: tuple):
        entry = self._resolved.get(dispatcher)
        if entry is None:
            import numba

            sig = tuple(numba.typeof(a) for a in args)
            entry = self._resolved[dispatcher] = dispatcher.compile(sig)
        return entry
