"""Errors a user can cause and fix. The CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A problem with what the user gave us (a file, a flag, a log), not a bug in peakclip.

    The message is a single line that names the problem; it is shown to the user as is.
    """


class MediaError(UserError):
    """The input is missing, unreadable or not a media file ffmpeg can open."""


class ChatError(UserError):
    """The chat log is not in any format peakclip reads."""


def open_input(path: str, what: str, error: type[UserError]):
    """Open a file the user named, for reading bytes. A missing file, a folder or an unreadable
    file is one line naming ``what`` it should have been ("chat log", "transcript")."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise error(f"{what} is a directory, not a file: {path}") from None
    except OSError as err:
        raise error(f"cannot read {what} {path}: {err.strerror or err}") from None
