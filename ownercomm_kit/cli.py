"""``ownercomm``: a thin command line over the kit's functions (notebooks call the same ones).

Each command parses its options, calls one function of the package and turns the kit's
own exceptions (data, parameter and input problems) into a clear message and exit code 1,
never a traceback.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .commands import COMMANDS
from .errors import DataError, ParamsError


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


class KitGroup(click.Group):
    """Turn the kit's known problems into messages, not tracebacks."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DataError as e:
            _fail(str(e))
        except ParamsError as e:
            _fail(
                ("Parameter problem:" if len(e.problems) == 1 else "Parameter problems:")
                + "\n"
                + "\n".join(f"  {p}" for p in e.problems)
            )
        except OSError as e:  # a full disk, a read-only or forbidden folder: one line, no traceback
            from .errors import describe_os_error

            line = describe_os_error(e)
            if line is None:
                raise
            _fail(line)


@click.group(cls=KitGroup)
@click.version_option(__version__, prog_name="ownercomm")
def main() -> None:
    """Audit how a car dealer's customers are messaged, and report on retention and referrals.

    Typical flow: `ownercomm onboard` a dealer's exports, `ownercomm validate` them,
    `ownercomm run` one dealer or `ownercomm batch` a whole group.
    """
    from .procs import one_arena

    one_arena()  # before any command makes a thread or an Arrow buffer (see procs)


for _command in COMMANDS:  # each a thin wrapper over one package function (commands/)
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
