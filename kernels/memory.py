"""Table allocation: aligned, deterministic, fast to fill, on the pages asked for.

numpy only guarantees 16-byte alignment, so a 512-byte row could straddle nine
64-byte lines instead of eight. Tables here start on a page boundary (which also
makes every row of a power-of-two width start on a cache line).

Page size matters as much as alignment for random gathers: each row read from a
table far larger than the TLB's reach costs a page walk. ``pages`` chooses:

- ``default``: numpy's allocator (transparent huge pages where the kernel's THP
  setting and numpy's own ``madvise`` give them);
- ``4k``: an anonymous mapping with ``MADV_NOHUGEPAGE``: 4 KiB pages only;
- ``thp``: a 2 MiB-aligned anonymous mapping with ``MADV_HUGEPAGE``;
- ``hugetlb``: ``MAP_HUGETLB`` pages from the reserved pool
  (``/proc/sys/vm/nr_hugepages``); an empty pool is an error, not a fallback.

``page_report`` reads back from ``/proc/self/smaps`` what the kernel really gave.

NUMA placement (``set_memory_policy``): bind this thread's future pages to nodes, or
interleave them, through ``set_mempolicy(2)`` (libnuma's wrapper, else the raw
system call); set before tables are built, it places every table alike.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import functools

import numpy as np

PAGE_BYTES = 4096
HUGE_PAGE_BYTES = 2 << 20
PAGE_POLICIES = ("default", "4k", "thp", "hugetlb")
_MAP_HUGETLB = getattr(mmap, "MAP_HUGETLB", 0x40000)  # Linux x86/arm value
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)  # Linux 5.14+


def _round_up(n: int, to: int) -> int:
    return -(-n // to) * to


def _mapped(nbytes: int, pages: str) -> np.ndarray:
    """A uint8 array of ``nbytes`` on its own anonymous mapping, 2 MiB aligned."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if pages == "hugetlb":
        length = _round_up(max(nbytes, 1), HUGE_PAGE_BYTES)
        try:
            mm = mmap.mmap(-1, length, flags=flags | _MAP_HUGETLB)
        except OSError as exc:
            raise MemoryError(
                f"cannot map {length} bytes of hugetlbfs pages ({exc.strerror}): reserve "
                f"them first, e.g. echo {length // HUGE_PAGE_BYTES} > "
                f"/proc/sys/vm/nr_hugepages") from None
        return np.frombuffer(mm, dtype=np.uint8, count=nbytes)
    length = _round_up(max(nbytes, 1), HUGE_PAGE_BYTES) + HUGE_PAGE_BYTES
    mm = mmap.mmap(-1, length, flags=flags)
    advice = mmap.MADV_HUGEPAGE if pages == "thp" else mmap.MADV_NOHUGEPAGE
    mm.madvise(advice)
    whole = np.frombuffer(mm, dtype=np.uint8)
    offset = (-whole.ctypes.data) % HUGE_PAGE_BYTES
    return whole[offset:offset + nbytes]


def aligned_empty(shape, dtype=np.float32, align: int = PAGE_BYTES,
                  pages: str = "default") -> np.ndarray:
    """An uninitialised array whose data starts at a multiple of ``align`` bytes,
    on the pages ``pages`` names (see the module's docstring)."""
    if pages not in PAGE_POLICIES:
        raise ValueError(f"pages must be one of {PAGE_POLICIES}, got {pages!r}")
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if nbytes == 0:  # nothing to place (a kernel without that table)
        return np.empty(shape, dtype)
    if pages != "default":  # mappings start 2 MiB aligned: any align up to that holds
        return _mapped(nbytes, pages).view(dtype).reshape(shape)
    if nbytes >= POPULATE_BYTES and hasattr(mmap, "MAP_POPULATE"):
        raw = _populated(nbytes + align)
    else:
        raw = np.empty(nbytes + align, dtype=np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def _numpy_madvises_huge() -> bool:
    """Whether numpy asks for transparent huge pages (``MADV_HUGEPAGE``) for its own
    arrays of 4 MiB and more (numpy's ``_set_madvise_hugepage``; on by default on Linux)."""
    try:
        from numpy._core.multiarray import _get_madvise_hugepage
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _get_madvise_hugepage
    return bool(_get_madvise_hugepage()) and hasattr(mmap, "MADV_HUGEPAGE")


def _populated(nbytes: int) -> np.ndarray:
    """A uint8 array on the pages numpy's allocator would give (``madvise``d for huge
    pages as numpy does), every page faulted in by one call: ~5x faster on a VM than a
    fault per first touch.

    ``MAP_POPULATE`` faults pages in when the mapping is made, before any ``madvise`` can
    ask for huge pages, so it serves only where numpy asks for none; otherwise the
    mapping is advised first and then populated with ``MADV_POPULATE_WRITE`` (Linux
    5.14+; older kernels fault it in as the fill writes it, 2 MiB per fault). Until this
    was so, default-page tables of 64 MiB and more got 4 KiB pages where THP is in
    ``madvise`` mode, while numpy's smaller ones got huge pages (2-vCPU Zen 4 VM:
    ``huge_page_fraction`` 0 for the 2 GiB baseline of benchmarks/speed.py).
    """
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if not _numpy_madvises_huge():
        return np.frombuffer(mmap.mmap(-1, nbytes, flags=flags | mmap.MAP_POPULATE),
                             dtype=np.uint8)
    mm = mmap.mmap(-1, nbytes, flags=flags)
    mm.madvise(mmap.MADV_HUGEPAGE)
    try:
        mm.madvise(MADV_POPULATE_WRITE)
    except OSError:  # a kernel before 5.14: the fill faults the pages in
        pass
    return np.frombuffer(mm, dtype=np.uint8)


def parse_smaps(text: str, address: int) -> dict | None:
    """The /proc/<pid>/smaps entry (a VMA) holding ``address``: its fields in bytes."""
    current = None
    for line in text.splitlines():
        head = line.split(maxsplit=1)[0] if line.strip() else ""
        if "-" in head and not head.endswith(":"):
            lo, _, hi = head.partition("-")
            try:
                start, end = int(lo, 16), int(hi, 16)
            except ValueError:
                continue
            if current is not None:
                return current
            if start <= address < end:
                current = {"start": start, "end": end}
        elif current is not None and head.endswith(":"):
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB" and parts[1].isdigit():
                current[parts[0][:-1]] = int(parts[1]) * 1024
            elif len(parts) >= 2 and parts[0] == "THPeligible:":
                current["THPeligible"] = int(parts[1]) if parts[1].isdigit() else parts[1]
    return current


def page_report(array: np.ndarray, pages: str = "default",
                smaps: Path = Path("/proc/self/smaps")) -> dict:
    """What pages the kernel gave an array: from the smaps entry of its mapping.

    ``huge_fraction`` is the share of the mapping's resident bytes on huge pages
    (transparent or hugetlbfs); for the ``default`` policy the mapping may hold
    more than this array.
    """
    try:
        entry = parse_smaps(smaps.read_text(), array.ctypes.data)
    except OSError:
        entry = None
    if entry is None:
        return {"requested": pages, "error": "no smaps entry for the table's address"}
    hugetlb = entry.get("Private_Hugetlb", 0) + entry.get("Shared_Hugetlb", 0)
    resident = entry.get("Rss", 0) + hugetlb
    huge = entry.get("AnonHugePages", 0) + hugetlb
    return {"requested": pages, "kernel_page_bytes": entry.get("KernelPageSize"),
            "mapping_bytes": entry["end"] - entry["start"], "resident_bytes": resident,
            "huge_bytes": huge, "huge_fraction": huge / resident if resident else 0.0,
            "thp_eligible": entry.get("THPeligible")}


def alignment_of(array: np.ndarray) -> int:
    """Largest power of two (up to a page) dividing the array's start address."""
    address = array.ctypes.data
    align = 1
    while align < PAGE_BYTES and address % (align * 2) == 0:
        align *= 2
    return align


# Tables at least this big are filled by numba's threads: 64 MiB where numba is loaded
# already (the fused kernels), else 512 MiB (its import and the compiled fill's cache
# load, ~1 s on a busy 2-vCPU VM, cost more than numpy's ~0.4 GB/s on a smaller table).
# Both paths give the same values.
PARALLEL_FILL_BYTES, PARALLEL_FILL_COLD_BYTES = 64 * 2**20, 512 * 2**20
# Default-page tables at least this big get their pages faulted in by one call
# (``_populated``), ~5x faster on a VM than a page fault per first touch.
POPULATE_BYTES = 64 * 2**20
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z):
    """splitmix64's finaliser: a counter-based generator, value i depends on (seed, i) only."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _seed_key(seed: int) -> np.uint64:
    return np.uint64((int(seed) * 0x2545F4914F6CDD1D + 0x632BE59BD9B4E019) % 2**64)


def _fill_numpy(flat: np.ndarray, key: np.uint64, chunk: int = 1 << 14) -> None:
    # Small chunks: the temporaries stay in L2, so what the fill leaves in the LLC is the
    # table's last rows (as the model and cachegrind assume), not hashing scratch.
    with np.errstate(over="ignore"):
        for start in range(0, flat.size, chunk):
            i = np.arange(start, min(flat.size, start + chunk), dtype=np.uint64)
            bits = _mix(key + i * _GOLDEN) >> np.uint64(40)
            flat[start:start + i.size] = bits.astype(np.float32) * np.float32(2.0**-24) \
                - np.float32(0.5)


@functools.cache
def _fill_parallel():
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def fill(flat, key):
        golden = np.uint64(0x9E3779B97F4A7C15)
        for i in numba.prange(flat.size):
            z = key + np.uint64(i) * golden
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            flat[i] = np.float32(z >> np.uint64(40)) * np.float32(2.0**-24) - np.float32(0.5)

    return fill


def fill_table(table: np.ndarray, seed: int) -> None:
    """Fill a table with seeded values in [-0.5, 0.5), at memory speed for big tables.

    Value i (in C order) is a hash of (seed, i), 24 random bits: the same table for a
    seed whatever the number of threads filling it, and no two rows alike. Big tables
    are filled by numba's threads (each first-touches the pages it writes), small ones
    by numpy, identically.
    """
    flat = table.reshape(-1)
    key = _seed_key(seed)
    import sys

    if table.nbytes >= (PARALLEL_FILL_BYTES if "numba" in sys.modules
                        else PARALLEL_FILL_COLD_BYTES):
        try:
            _fill_parallel()(flat, key)
            return
        except ImportError:  # numba missing: numpy, slower, same values
            pass
    _fill_numpy(flat, key)


def random_table(shape, seed: int, align: int = PAGE_BYTES, pages: str = "default",
                 ) -> np.ndarray:
    table = aligned_empty(shape, np.float32, align, pages)
    fill_table(table.reshape(shape[0], -1), seed)
    return table


# -- NUMA placement -----------------------------------------------------------
# set_mempolicy(2) modes; the policy holds for the calling thread and the threads it
# starts later, so setting it before tables are built places every table alike.
MPOL_MODES = {"default": 0, "preferred": 1, "bind": 2, "interleave": 3}
_SYSCALLS = {"x86_64": {"set_mempolicy": 238, "get_mempolicy": 239},
             "aarch64": {"set_mempolicy": 237, "get_mempolicy": 236}}


def _mempolicy_call(name: str):
    """libnuma's thin wrapper of the system call where installed, else the raw syscall."""
    import ctypes
    import ctypes.util
    import platform

    lib = ctypes.util.find_library("numa")
    if lib:
        fn = getattr(ctypes.CDLL(lib, use_errno=True), name, None)
        if fn is not None:
            return fn
    number = _SYSCALLS.get(platform.machine(), {}).get(name)
    if number is None:
        raise OSError(f"{name}: no libnuma and no known system call number on "
                      f"{platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    return lambda *args: libc.syscall(number, *args)


def set_memory_policy(mode: str, nodes: list[int]) -> None:
    """Place this thread's future pages: ``bind`` to ``nodes``, ``interleave`` over them,
    or back to the ``default`` (first touch). Raises OSError naming the errno."""
    import ctypes
    import os

    if mode not in MPOL_MODES:
        raise ValueError(f"memory policy must be one of {tuple(MPOL_MODES)}, got {mode!r}")
    word_bits = ctypes.sizeof(ctypes.c_ulong) * 8
    words = max(nodes, default=0) // word_bits + 1
    mask = (ctypes.c_ulong * words)()
    for node in nodes:
        mask[node // word_bits] |= 1 << (node % word_bits)
    call = _mempolicy_call("set_mempolicy")
    if mode == "default":
        result = call(ctypes.c_int(0), None, ctypes.c_ulong(0))
    else:
        # maxnode counts bits and the kernel reads maxnode - 1 of them: one spare.
        result = call(ctypes.c_int(MPOL_MODES[mode]), mask, ctypes.c_ulong(words * word_bits + 1))
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"set_mempolicy({mode}, nodes {nodes}): {os.strerror(err)}")


def get_memory_policy() -> dict:
    """This thread's policy as the kernel holds it: {"mode": name, "nodes": [...]}."""
    import ctypes
    import os

    mode = ctypes.c_int(0)
    mask = (ctypes.c_ulong * 16)()  # 1024 nodes, the kernel's MAX_NUMNODES on x86
    word_bits = ctypes.sizeof(ctypes.c_ulong) * 8
    call = _mempolicy_call("get_mempolicy")
    if call(ctypes.byref(mode), mask, ctypes.c_ulong(16 * word_bits), None, ctypes.c_ulong(0)):
        err = ctypes.get_errno()
        raise OSError(err, f"get_mempolicy: {os.strerror(err)}")
    names = {v: k for k, v in MPOL_MODES.items()}
    nodes = [w * word_bits + b for w in range(16) for b in range(word_bits) if mask[w] >> b & 1]
    return {"mode": names.get(mode.value & 0xFF, f"mode {mode.value}"), "nodes": nodes}
