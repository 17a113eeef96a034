"""Embedding lookup kernels: the uncompressed baseline and MEM-REC.

Each kernel is a plain class built from plain parameters, owning its arrays, with
``lookup(ids, offsets=None)``. Nothing here knows about the harness; the classes
are usable from a notebook.
"""
