"""The compare stage: two stored runs, point by point, with a verdict per point.

``inputs`` takes a stored run as comparison needs it (through the store); ``verdict`` is
the pure statistics (bootstrap interval, Mann-Whitney U, factor); ``render`` prints a
comparison as a table, Markdown or JSON; ``judge`` applies the options shared by
``compare`` and ``ab`` and gives the exit status; ``ab`` measures two revisions of the
code in one interleaved run so that drift falls on both alike.
"""
