"""Pipeline: series -> fused score -> ranked spans -> tagged clips -> rendered files + manifest.

Its rooms, in the order data flows through them (each imports only the ones before it):
``analysis`` (chunk plan, one chunk's raw series, assembly) -> ``ranking`` (fuse, cuts, select,
broadcast stages, tiers, rank) -> ``output`` (render, captions, report, exports, manifest) ->
``promotion`` (feedback, pools, re-render) -> ``executors`` (in-process run, live watch,
evaluation). ``config`` and ``options`` are read by all of them. Imports ``detectors`` (below
it) and never ``workers`` (above it).
"""
