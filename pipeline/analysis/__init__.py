"""Analysis: a recording and its chat -> raw series of the whole stream on one time grid.

``plan`` (probe, chunks) -> ``chunk`` (each chunk's raw features) -> ``assemble`` (merged by time);
``analyze`` runs the three in this process.
"""
