"""A small process that ends its parent when the parent cannot end itself.

femsolver.guard.Guard starts one per process (`python watchdog.py FD PID RANK GRACE`): a run
whose Python is stuck in a C call that holds its lock (a collective MPI-IO write that another
rank left, a library spinning) cannot act on a signal, and no thread of its own can run. This
process can. It reads one pipe, whose write end is also Python's signal wake-up descriptor, so
the C-level signal handler reports a signal here at once:

    a byte 2 or 15     the parent received SIGINT / SIGTERM
    b"A"               the parent acted on it and now writes its outputs: a new grace period
    b"E<seconds>\\n"    the parent waits for the other ranks with an error: they must answer
    b"D"               ... and they did
    b"F<path>\\n"       the summary to write if the parent is killed (b"F\\n": none)
    b"L<path>\\n"       the lock file to keep fresh and to remove if the parent is killed
    b"Q" or EOF        the parent is done

When a grace period or a wait runs out, or a second signal comes more than SAME_SIGNAL s after
the first, it prints why, writes the summary (status interrupted or failed, with the reason),
removes the lock and kills the parent (SIGKILL: exit 137; under mpirun the other ranks go too).
It imports nothing of femsolver (it must start in milliseconds and never touch MPI).
"""

import json
import os
import select
import signal
import sys
import time

SAME_SIGNAL = 2.0  # s: one Ctrl-C or scancel often reaches a rank twice (terminal and mpirun)
HEARTBEAT = 30.0  # s between touches of the lock file


def main(fd: int, parent: int, rank: int, grace: float) -> None:
    buffer = b""
    deadline = None  # (time, status, reason)
    first_signal = None
    summary_path = lock_path = None
    next_beat = time.monotonic() + HEARTBEAT
    while True:
        due = min(next_beat, deadline[0] if deadline else next_beat)
        ready, _, _ = select.select([fd], [], [], max(due - time.monotonic(), 0.0))
        now = time.monotonic()
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            buffer += chunk
        while buffer:
            byte = buffer[0]
            if byte in (signal.SIGINT, signal.SIGTERM):
                buffer = buffer[1:]
                name = signal.Signals(byte).name
                if first_signal is None:
                    first_signal = now
                    if rank == 0:
                        print(f"femsolver: {name} received: stopping at the next safe point "
                              f"(at most {grace:.0f} s; send it again to stop at once)",
                              file=sys.stderr, flush=True)
                    deadline = (now + grace, "interrupted",
                                f"interrupted by {name}; no safe point reached within "
                                f"{grace:.0f} s")
                elif now - first_signal > SAME_SIGNAL:
                    deadline = (now, "interrupted", f"interrupted by {name} twice")
            elif byte == ord("A"):
                buffer = buffer[1:]
                if deadline is not None:
                    deadline = (now + grace, *deadline[1:])
            elif byte == ord("D"):
                buffer = buffer[1:]
                if deadline is not None and deadline[1] == "failed":
                    deadline = None
            elif byte == ord("Q"):
                return
            elif byte in b"EFL":
                if b"\n" not in buffer:
                    break  # the rest of the message is still coming
                line, buffer = buffer[1:].split(b"\n", 1)
                text = line.decode(errors="replace")
                if byte == ord("E"):
                    seconds = float(text)
                    deadline = (now + seconds, "failed",
                                f"the other ranks did not answer within {seconds:.0f} "
                                "s after this rank failed")
                elif byte == ord("F"):
                    summary_path = text or None
                else:
                    lock_path = text or None
            else:
                buffer = buffer[1:]  # not ours
        if now >= next_beat:
            next_beat = now + HEARTBEAT
            if lock_path:
                try:
                    os.utime(lock_path)
                except OSError:
                    pass
        if deadline is not None and now >= deadline[0]:
            stop(parent, rank, deadline[1], deadline[2], summary_path, lock_path)
            return
        if not _alive(parent):
            return


def stop(parent: int, rank: int, status: str, reason: str, summary_path, lock_path) -> None:
    """Record the stop, then kill the parent."""
    message = f"{reason} (the process was stuck: killed by its watchdog)"
    if rank == 0 or status == "failed":
        print(f"femsolver: error: {message}", file=sys.stderr, flush=True)
    if summary_path:
        try:
            _write_summary(summary_path, status, message)
        except (OSError, ValueError) as err:
            print(f"femsolver: watchdog could not write {summary_path}: {err}", file=sys.stderr,
                  flush=True)
    if lock_path:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
    os.kill(parent, signal.SIGKILL)


def _write_summary(path: str, status: str, message: str) -> None:
    """Complete the parent's prepared summary (its fields so far) and write it in place."""
    with open(path) as f:
        summary = json.load(f)
    if summary.get("error"):  # the failure this rank met, then the stop
        message = f"{summary['error']}; {message}"
    summary.update(status=status, converged=False, error=message, exit_code=128 + signal.SIGKILL)
    target = os.path.join(os.path.dirname(os.path.dirname(path)), "summary.json")
    temporary = target + ".watchdog.tmp"
    with open(temporary, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(temporary, target)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return os.getppid() == pid


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what a signal means
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
