"""Chat logs: detect the format, read it as a stream, and turn it into the audience signal.

One module per format (``twitchdownloader``, ``chatdownloader``, ``ytdlp``, ``twitchirc``,
``bilibili``, ``douyin``, ``generic``), each with ``sniff(head) -> bool`` and ``parse(text) -> Iterator[Message
| Skipped]``; ``log.FORMATS`` is the registry. ``audience`` turns messages into the ``chat`` series,
telling reactions, greetings and goodbyes, and votes from talk by the tables in ``words`` (English
and Chinese); ``products`` keeps live commerce per item (what the host presented when, what sold of each).
"""
from peakclip.detectors.chat.audience import Audience, ChatConfig
from peakclip.detectors.chat.log import FORMATS, ChatLog, detect_format, read_chat
from peakclip.detectors.chat.products import ProductBook, ProductWindow
from peakclip.detectors.chat.records import Message, Skipped

__all__ = ["Audience", "ChatConfig", "ChatLog", "FORMATS", "Message", "ProductBook", "ProductWindow", "Skipped",
           "detect_format", "read_chat"]
