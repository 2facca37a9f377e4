"""One module per subcommand, each a thin layer over a package function.

The modules define plain click commands and import nothing of ``cli``; ``cli.main`` adds
``COMMANDS`` (so there is no import circle between the two).
"""

from . import audit, batch, docs, history, init, onboard, run, synth, validate

COMMANDS = (
    audit.audit,
    batch.batch,
    onboard.onboard,
    run.run,
    synth.synth,
    validate.validate,
    history.history,
    init.init,
    docs.docs,
)
