"""Ctrl-C (SIGINT) and SIGTERM for the long commands (`s3logs load`, `s3logs run`).

Both end a command the same way: the work in progress is abandoned where it stands (an open
load batch rolls back, dbt cancels its queries), the command prints one line saying what was
committed and what to run next, and exits 130 (SIGINT) or 143 (SIGTERM), as a shell reports a
process that a signal ended.

SIGTERM takes Ctrl-C's path. A Python signal handler runs only between two bytecodes of the
main thread, so it would wait for a DuckDB statement to finish; DuckDB (and dbt) do stop on
SIGINT. So SIGTERM is blocked in the process's threads, and one thread waits for it
(`sigwait`), notes it, and sends the process SIGINT.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

# The signal that interrupted the command (None while none did).
received: int | None = None
_installed = False


def install() -> None:
    """Handle SIGINT and SIGTERM as above, in this process (once; from the main thread, before
    other threads start, so that they inherit the blocked SIGTERM)."""
    global _installed
    if _installed:
        return
    _installed = True
    signal.signal(signal.SIGINT, _on_sigint)
    # Where SIGTERM is not blocked (no sigwait here; or a thread unblocked it, as
    # multiprocessing does when it starts its resource tracker, which dbt makes it do), a
    # plain handler, which waits for a running DuckDB statement to end.
    signal.signal(signal.SIGTERM, _on_sigterm)
    if hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigwait"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        threading.Thread(target=_wait_for_sigterm, name="s3logs-sigterm", daemon=True).start()


def reblock() -> None:
    """Block SIGTERM again in this thread, if install() ran (see there)."""
    if _installed and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def unblock_in_child() -> None:
    """For a child process's preexec_fn: a blocked signal stays blocked across exec."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


# While set (see deferred()), a signal is noted and passed on, not raised.
_deferred_to: Callable[[], None] | None = None
# Whether a dbt build is running in this thread (see _interrupt and dbt_build).
in_dbt_build = False


@contextlib.contextmanager
def dbt_build() -> Iterator[None]:
    """Around a dbt build in this thread: an interrupt raised in it stops the build.

    The interrupt is also a dbt exception there (see _interrupt), so any `except Exception`
    it lands in catches it. The likeliest such place is logging, which prints a "Logging
    error" traceback and goes on: the build then ran to its end and the interrupt was lost.
    Here the logging handlers pass an interrupt on instead; and whatever swallowed it, the
    caller sees `received` set after the build and stops (see Pipeline.cycle).
    """
    global in_dbt_build
    report = logging.Handler.handleError

    def pass_interrupts_on(handler: logging.Handler, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            raise  # the interrupt emit() is handling
        report(handler, record)

    logging.Handler.handleError = pass_interrupts_on  # type: ignore[method-assign]
    in_dbt_build = True
    try:
        yield
    finally:
        in_dbt_build = False
        logging.Handler.handleError = report  # type: ignore[method-assign]


def _on_sigint(signum: int, frame: object) -> None:
    global received
    received = received or signum
    if _deferred_to is not None:
        _deferred_to()
        return
    raise _interrupt()


@contextlib.contextmanager
def deferred(pass_on: Callable[[], None]) -> Iterator[None]:
    """Around code that must not be interrupted halfway, because it reports an exception it
    did not expect with a traceback (dbt parsing a project): a signal calls `pass_on` (which
    interrupts a child process, say) at once, and raises when the code is done."""
    global _deferred_to
    _deferred_to = pass_on
    try:
        yield
    finally:
        _deferred_to = None
    if received is not None:
        raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: object) -> None:
    global received
    received = signum
    raise _interrupt()


_dbt_interrupt: type[KeyboardInterrupt] | None = None


def _interrupt() -> KeyboardInterrupt:
    """A KeyboardInterrupt; once dbt is loaded, one that is also a dbt exception.

    dbt handles a KeyboardInterrupt during a build (it cancels the running queries and says
    so), then reports any exception that is not its own with its whole traceback (49 lines);
    its own it reports in one line. The interrupt is both, so it gets the first and the last.
    """
    global _dbt_interrupt
    dbt = sys.modules.get("dbt_common.exceptions")
    # Only during a build: dbt code elsewhere catches its own exceptions as errors.
    if dbt is None or not in_dbt_build:
        return KeyboardInterrupt()
    if _dbt_interrupt is None:

        class DbtInterrupt(KeyboardInterrupt, dbt.DbtBaseException):
            pass

        _dbt_interrupt = DbtInterrupt
    return _dbt_interrupt("interrupted; the build stops here")


def _wait_for_sigterm() -> None:
    global received
    signal.sigwait({signal.SIGTERM})
    received = signal.SIGTERM
    os.kill(os.getpid(), signal.SIGINT)


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is how a signal surfaced: KeyboardInterrupt, or DuckDB's
    `RuntimeError: Query interrupted` (what it raises when Ctrl-C stops a statement)."""
    return isinstance(exc, KeyboardInterrupt) or (
        received is not None and "interrupted" in str(exc).lower()
    )


def exit_status() -> int:
    """130 for SIGINT (or an interrupt with no signal seen), 143 for SIGTERM."""
    return 128 + (received or signal.SIGINT)


def stop(message: str) -> None:
    """Print `message` on one line (on a terminal, on a line of its own after the ^C it
    echoed) and exit with `exit_status()`."""
    start = "\n" if sys.stderr.isatty() else ""
    name = "SIGTERM" if received == signal.SIGTERM else "Ctrl-C"
    print(f"{start}interrupted ({name}): {message}", file=sys.stderr, flush=True)
    sys.exit(exit_status())
