"""The report layer: one look (theme, template, HTML pieces) for every report notebook.

- ``theme``: colours per channel, sender, severity; the plotly template.
- ``charts``: chart builders and ``show(fig)`` (a bundle nbconvert keeps).
- ``html``: escaped, PII-masked tiles, tables, sections, notes, definitions.
- ``export``: executed notebook -> self-contained HTML (``notebook_to_html``).
- ``notebook``: ``start(globals())``, the set-up cell of every report notebook.
- ``audit_report``, ``retention_report``, ``referrals_report``: one function per section.
"""
