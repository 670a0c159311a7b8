"""bootstrap/interrupts.py: an interrupt during a dbt build is never swallowed by logging."""

from __future__ import annotations

import io
import logging

import pytest

from bootstrap import interrupts


class Interrupt(KeyboardInterrupt, Exception):
    """What _interrupt() raises during a build: a KeyboardInterrupt that is also an Exception
    (a dbt exception), so `except Exception` catches it."""


class _Stream(io.StringIO):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error  # as a signal handler raising while the handler writes


def _logger(error: BaseException) -> logging.Logger:
    logger = logging.getLogger(f"test-interrupts-{id(error)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [logging.StreamHandler(_Stream(error))]
    return logger


def test_logging_passes_an_interrupt_on_during_a_dbt_build(capsys: pytest.CaptureFixture) -> None:
    logger = _logger(Interrupt("interrupted"))
    with pytest.raises(Interrupt), interrupts.dbt_build():
        assert interrupts.in_dbt_build
        logger.info("a line dbt logs")
    assert not interrupts.in_dbt_build
    assert "Logging error" not in capsys.readouterr().err


def test_outside_a_build_and_for_other_errors_logging_behaves_as_before(
    capsys: pytest.CaptureFixture,
) -> None:
    original = logging.Handler.handleError
    with interrupts.dbt_build():
        _logger(OSError("disk full")).info("a line")  # reported, not raised, as logging does
    assert "Logging error" in capsys.readouterr().err
    assert logging.Handler.handleError is original
    # without the context, logging swallows even the interrupt: what dbt_build() prevents
    _logger(Interrupt("interrupted")).info("a line")
    assert "Logging error" in capsys.readouterr().err
