"""Running a store's notebooks (``ownercomm run``), one concern per module:

- ``notebooks``: which notebooks run, in which order, with which parameters;
- ``kernels``: the fresh kernel per store, and the spare one warmed ahead;
- ``engine``: the papermill engine, the execution of the notebooks and their HTML export;
- ``resume``: the fingerprint and run record that let an unchanged store be skipped;
- ``publish``: the staging folder, its atomic swap, the failed run kept, recovery;
- ``failure``: why a store failed, as data (kind, problems), and its one line;
- ``store``: ``run_dealer`` (one store, start to end) and ``run_task`` (a batch worker's).
"""
