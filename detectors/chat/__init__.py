"""Chat logs: read the files chat tools save, and turn them into an audience-activity series.

Each format lives in its own module with two functions:
  ``sniff(head: str) -> bool``  does the start of the file look like this format?
  ``parse(text_lines) -> Iterator[Message | Skipped]``  one item per message or per bad record.
A bad record is skipped and counted, never fatal; a file that is no chat log at all raises ChatError.
"""
from __future__ import annotations

from detectors.chat.log import ChatLog, Message, Skipped, read_chat
from detectors.chat.activity import chat_activity

__all__ = ["ChatLog", "Message", "Skipped", "read_chat", "chat_activity"]
