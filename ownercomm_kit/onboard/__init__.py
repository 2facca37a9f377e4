"""Consultant onboarding (SPEC §3, issue 7): recognise a dealer's own exports and write
the dealer file's ``files``, ``mapping`` and ``values`` blocks.

Recognition works on the raw exports read as text (``formats.read_raw``) and says how
sure each guess is:
- tables by file (or sheet) name, then by which canonical columns their headers match;
- columns by header: the canonical name, then a synonym of ``assets/synonyms.yaml``
  (case, spaces and punctuation ignored), then a close spelling (fuzzy), then by content
  (emails, VINs, IANA time zones, enum values); a generic header ("Type") goes where its
  values fit;
- enum values and yes/no words by the same synonym tables, written into ``values:`` only
  where the loader would not take them as they are.

Never guessed, reported as a decision with the edit to make: columns meaning the opposite
of a consent ("Do Not Email"), whole-name columns, unknown values, a word meaning two
values in two tables, a second export of one table, title lines above a header.

The dealer file is rewritten whole, the same bytes for the same input: the consultant's
own files/mapping/values entries win over guesses and are kept with their comments, as are
the file's other keys (dealer_name, rule overrides).

One module per job: ``sources`` (reading the folder), ``names`` (headers and synonyms),
``tables``, ``columns`` and ``values`` (recognition by name and by content), ``folder`` (the
whole folder, unused columns, decisions), ``document`` (the dealer file, and ``onboard()``,
the one call) and ``summary`` (the printed table). This module only names the public API.
"""

from ..dealer_file import render_dealer_file
from .columns import ColumnMatch, recognise_columns
from .document import OnboardError, Result, dealer_document, onboard
from .folder import Onboarding, UnusedColumn, recognise, recognise_folder
from .names import SYNONYMS_FILE, name_key, synonyms
from .sources import Source, header_row_hint, read_sources
from .summary import summary
from .tables import TableMatch, recognise_tables, recognise_tables_by_values
from .values import ValueMatch, recognise_values

__all__ = [
    "ColumnMatch",
    "OnboardError",
    "Onboarding",
    "Result",
    "SYNONYMS_FILE",
    "Source",
    "TableMatch",
    "UnusedColumn",
    "ValueMatch",
    "dealer_document",
    "header_row_hint",
    "name_key",
    "onboard",
    "read_sources",
    "recognise",
    "recognise_columns",
    "recognise_folder",
    "recognise_tables",
    "recognise_tables_by_values",
    "recognise_values",
    "render_dealer_file",
    "summary",
    "synonyms",
]
