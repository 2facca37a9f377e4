"""One module per subcommand, each a thin layer over a package function."""
from . import audit, batch, onboard, run, synth, validate  # noqa: F401
from . import history  # noqa: F401,E402
from . import init  # noqa: F401,E402
from . import docs  # noqa: F401,E402
