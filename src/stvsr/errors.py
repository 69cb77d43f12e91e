"""User-facing errors and the exit codes the command line maps them to.

A `StvsrError` is a user mistake or an environment problem: the CLI prints its message on one line and exits with
its code, without a traceback. Anything else escaping to the CLI is a bug.
"""


class StvsrError(Exception):
    """Base class: one clear line for the user, and an exit code."""

    exit_code = 1


class UsageError(StvsrError):
    """Bad arguments or configuration (exit 2, as argparse)."""

    exit_code = 2


class InputError(StvsrError):
    """The input cannot be used: missing, not a video, no frames, corrupt, truncated, too small (exit 3)."""

    exit_code = 3


class OutputError(StvsrError):
    """The output cannot be written: exists, is the input, unwritable folder, disk full (exit 4)."""

    exit_code = 4


class WeightsError(StvsrError):
    """A checkpoint is missing, corrupt, truncated or does not match the model (exit 5)."""

    exit_code = 5


# The shell convention 128 + signal number: Ctrl-C (SIGINT) and kill (SIGTERM).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
