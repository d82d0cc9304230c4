"""Which folders make up the import package ``peakclip`` (everything else is in pyproject.toml).

The repository keeps its top-level folders (detectors/, pipeline/, workers/, samples/), and
installed they are one package: ``peakclip.detectors`` is detectors/, ``peakclip.pipeline`` is
pipeline/, and so on, so nothing called ``pipeline`` or ``workers`` lands in site-packages beside
the other distributions of those names. The subpackages are found in the folders, so a new one
needs no entry here.
"""
from setuptools import find_packages, setup

FOLDERS = ("detectors", "pipeline", "workers", "samples")

packages = ["peakclip"]
for folder in FOLDERS:
    packages += [f"peakclip.{folder}"] + [f"peakclip.{folder}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir={"peakclip": "peakclip", **{f"peakclip.{f}": f for f in FOLDERS}})
