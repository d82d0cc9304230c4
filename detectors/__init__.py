"""Detectors: turn media and chat logs into time series on a shared bin grid.

Every detector here is a plain function with one contract: given a source (and a time range),
return a :class:`detectors.series.Series` of *raw* per-bin features. Normalisation, fusion and
ranking happen later, in ``pipeline/``, over the whole stream. Nothing in this package knows about
Celery, HTTP or the CLI.
"""
