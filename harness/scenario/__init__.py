"""The scenario stage: YAML files loaded and validated into one typed schema.

``yamlload`` loads YAML remembering each key's line and refusing duplicates; ``schema``
is the one schema (unknown keys are errors, every error names file, line and key path);
``sizes`` parses table sizes ("4x LLC", "64MiB", "100000 rows"); ``kernelspec`` lists the
kernels a scenario can name, built from the kernel classes' own descriptions.
"""
