"""Reports: figures and a multi-page PDF regenerated from stored results only.

``load`` reads and checks result directories, ``select`` chooses what each figure
draws (pure), ``style`` is the shared page layout, ``figures/`` holds one module per
figure, ``titlepage`` and ``pdf`` assemble the report, ``cli`` runs one figure as a
script (``reports/<figure>.py``).
"""
