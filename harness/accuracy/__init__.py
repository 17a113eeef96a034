"""Accuracy: does a compressed embedding still predict as well as the full table?

The speed half of the paper's claim is measured by ``harness run``; this package
answers the quality half. It trains a small DLRM-style model once per embedding
kind (baseline, MEM-REC, Bloom, hashing trick, QR, ROBE-Z, TT-Rec), using the
project's own kernels' torch backends as the embedding layer, on a synthetic click
stream whose best achievable AUC is known, or on Criteo's text format.

Modules, in the order data flows: ``scenario`` (the YAML schema), ``synthetic`` and
``criteo`` (data), ``sizing`` (kinds at equal bytes), ``model`` (trainable kernels
and the DLRM), ``train`` (the loop and its metrics); the result files are
``harness.store.accuracy``'s.
"""
