"""Errors a user can cause and fix. The CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A problem with what the user gave us (a file, a flag, a log), not a bug in peakclip.

    The message is a single line that names the problem; it is shown to the user as is.
    """


class MediaError(UserError):
    """The input is missing, unreadable or not a media file ffmpeg can open."""


class ChatError(UserError):
    """The chat log is not in any format peakclip reads."""
