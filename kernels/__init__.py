"""Embedding lookup kernels: the uncompressed baseline, MEM-REC and its peers.

Each kernel is a plain class built from plain parameters, owning its arrays, with
``lookup(ids, offsets=None)``. Nothing here knows about the harness; the classes
are usable from a notebook. ``baseline.Baseline``, ``memrec.MemRec`` (numpy,
torch, fused), ``peers`` (hashing trick, Bloom, QR, ROBE-Z), ``collisions``
(ids the MEM-REC encoders cannot tell apart); ``fused`` and ``fused_peers`` hold
the numba kernels, ``hashing`` the one hash family they all share.
"""
