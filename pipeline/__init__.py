"""Pipeline: series -> fused score -> ranked spans -> tagged clips -> rendered files + manifest.

Imports ``detectors`` (below it) and never ``workers`` (above it).
"""
