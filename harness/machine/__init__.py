"""The machine stage: what this computer is, read from sysfs and procfs and never decided.

``detect`` describes CPU, topology, caches, memory and perf (roots injectable for tests);
``uarch`` names the microarchitecture from CPUID vendor/family/model; ``cgroup`` reads the
memory cgroup's limit and OOM kills; ``numa`` reads NUMA nodes, automatic balancing and
``numa_maps``; ``cpulist`` parses Linux cpulist strings; ``gitrepo`` and ``provenance``
say which code and libraries a result came from.
"""
