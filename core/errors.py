"""The one error base of the project, and the errors a user can cause or mend.

Modelled on ``kafka.errors``: every error the project raises on purpose derives from
:class:`RiecError`, which carries the process exit code the CLI ends with and whether
trying again later may succeed (``retriable``). The CLI turns a ``RiecError`` into one
line on stderr and its exit code; anything else is a bug and shows its traceback only
with ``--verbose``.

Messages never quote values from a partner's data: they name files, options, fields and
reason codes.
"""

from __future__ import annotations


class RiecError(Exception):
    """Base of every error the project raises on purpose."""

    #: Process exit code when this error ends a command.
    exit_code: int = 1
    #: Whether the same action may succeed later without a change (an outage, not bad input).
    retriable: bool = False


class UsageError(RiecError):
    """A wrong option value, a missing argument, a file that is not what it should be."""

    exit_code = 2


class ConfigurationError(UsageError):
    """Settings (``RIEC_*`` variables, configuration files) that contradict each other."""


class InputFileError(UsageError):
    """A file that cannot be read, or that is not what the command needs."""


class ServiceUnavailable(RiecError):
    """A service the command needs could not be reached; trying later may work."""

    exit_code = 4
    retriable = True


class BrokerUnavailable(ServiceUnavailable):
    """The Kafka brokers did not answer."""


class DatabaseUnavailable(ServiceUnavailable):
    """The database did not answer."""


class RefusedError(RiecError):
    """The action is understood but not allowed (a rule, a gate, a missing approval)."""

    exit_code = 2


#: Exit codes of the ``riec`` command, for scripts: 0 done; 1 a bug (see ``--verbose``);
#: 2 a usage error or a refused action; 3 rows were rejected (``partner push
#: --fail-on-rejects``); 4 a broker or database could not be reached; 5 the audit trail
#: does not verify (``audit verify``).
EXIT_REJECTED_ROWS = 3
EXIT_AUDIT_TRAIL_BROKEN = 5
