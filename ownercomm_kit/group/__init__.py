"""The group audit (SPEC §9): the stores of a group batch as one customer base.

``persons`` matches customers across stores, ``rules`` flags what one store does to a
customer of another, ``extract`` is what each store run leaves for the group step, ``step``
runs the group step after a batch (locally or on the batch's Dask cluster), ``page`` builds
``group_audit.html``.
"""
