"""dolfinx's form-compilation cache, made safe for runs that are killed or run side by side.

ffcx compiles a form once per cache directory: the first process creates `<module>.c` and, when
its compilation is done, `<module>.c.cached`; another process that needs the same form waits for
that mark for `timeout` seconds (dolfinx's default: 10) and then fails. So a run killed while
compiling (Ctrl-C twice, a time limit, the watchdog) left a `.c` without its mark that made every
later run fail, and on a busy node a second run could give up on a compilation that was merely
slow. femsolver waits up to COMPILE_TIMEOUT and removes unmarked files older than that.
"""

import time
from pathlib import Path

import dolfinx.jit

COMPILE_TIMEOUT = 300  # s: far above the slowest compilation seen (~20 s on a loaded 2-core node)


def configure() -> None:
    """Make COMPILE_TIMEOUT the default wait for another process's compilation."""
    doc = dolfinx.jit.DOLFINX_DEFAULT_JIT_OPTIONS["timeout"][1]
    dolfinx.jit.DOLFINX_DEFAULT_JIT_OPTIONS["timeout"] = (COMPILE_TIMEOUT, doc)


def clear_stale_compilations() -> list[Path]:
    """Remove the `.c` files of compilations that never finished (no mark after
    COMPILE_TIMEOUT); returns them."""
    cache = Path(dolfinx.jit.get_options()["cache_dir"])
    stale = []
    try:
        sources = list(cache.glob("*.c"))
    except OSError:
        return stale
    now = time.time()
    for source in sources:
        try:
            if (not source.with_suffix(".c.cached").exists()
                    and now - source.stat().st_mtime > COMPILE_TIMEOUT):
                source.unlink()
                stale.append(source)
        except OSError:  # removed meanwhile by another process
            continue
    return stale
