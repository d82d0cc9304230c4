"""Where bytes go to and come from: files written atomically (a temporary name beside the final
one, then a rename, so a reader never sees half a file) and JSON read with one-line errors.

It lives at the lowest floor because writers and readers at every level above need it: the
manifest and the renders (pipeline.output), the promotion state, the executors.
"""
from __future__ import annotations

import io
import json
import os
import uuid

from peakclip.detectors.errors import UserError
from peakclip.detectors.objects import is_object, open_object


def read_json(path: str, missing: str) -> dict:
    """A JSON object from ``path``, a file or an object (``s3://bucket/key``: a queued job's
    manifest in a bucket); a missing file or bad JSON is a one-line UserError (a missing object
    one in the object store's words)."""
    try:
        with (io.TextIOWrapper(open_object(path), encoding="utf-8") if is_object(path)
              else open(path, encoding="utf-8")) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise UserError(missing) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return data


def partial_name(path: str) -> str:
    """A unique hidden name beside ``path`` to write to before renaming onto it."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def write_atomic(path: str, text: str) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = partial_name(path)
    try:
        with open(partial, "x", encoding="utf-8") as out:   # the usual permissions (umask), unlike mkstemp's 0600
            out.write(text)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


def write_json_atomic(path: str, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
