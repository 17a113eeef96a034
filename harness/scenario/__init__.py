"""The scenario stage: YAML files loaded and validated into one typed schema.

``yamlload`` loads YAML remembering each key's line, refusing duplicates and bounding
alias expansion; ``schema`` is the one schema (unknown keys are errors, every error
names file, line and key path); ``inputfile`` refuses files that are not regular or too
large and loads traces; ``bounds`` holds the range of every number; ``sizes`` parses
table sizes ("4x LLC", "64MiB", "100000 rows"); ``kernelspec`` lists the kernels a
scenario can name, built from the kernel classes' own descriptions.
"""
