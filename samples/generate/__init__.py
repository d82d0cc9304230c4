"""Synthesise live streams with planted highlights and distractors, their chat logs, and the truth.

Seeded: the same arguments give the same files. ``generate`` writes into OUT_DIR:
  stream.mp4   H.264/AAC, fixed 2 s GOP like a live encoder
  chat.json    the chat in TwitchDownloader JSON (a Chinese room: chat.xml, Bilibili danmaku XML, or
               chat.jsonl, a Douyin listener's webcast messages)
  truth.json   the planted highlights and distractors (windows and kinds)
  events.jsonl with ``commerce``: the live-commerce events (product switches, carts, orders) in the
               generic JSON Lines format

What real streams do, and the generator imitates:
- a host talks (voiced, pitched speech with pauses) over a calm picture; the microphone level
  drifts over minutes; the audience grows or shrinks between the stages of the broadcast;
- highlights of three kinds: ``crowd`` (the room roars, the picture gets busy, many people type),
  ``chat`` (a crowd-pleasing moment with modest sound: many people type, some motion), and
  ``action`` (loud fast action with only a small chat); chat reacts 3-10 s after the moment;
- each kind planted in one of several independent ways (``WAYS``; ``"chat:price-drop"`` picks one),
  so detection tuned on one way of making a moment can be scored on another: a roar or applause
  or a chant; a burst of reactions, a slow wave of ordinary buying talk or a wave of emoji; a
  roar with objects flying, a rumbling fast pan, or strobing cuts with shots;
- the picture is drawn, or real camera footage (``footage``: recordings played back and forth, cut and panned);
  the host's voice is synthetic, or a real speaker (``speech``: a recording's sound, looped);
- the chat is an English room, or a Chinese one (``room="zh"``: a Bilibili stream's danmaku, its
  reactions 哈哈哈, 666, 233333, ？？？, its hellos 来了, 主播好 and goodbyes 晚安, 88; or with
  ``chat_format="douyin"`` the same chat as a Douyin room listener's log of webcast messages);
- distractors that one signal alone mistakes for a highlight: ``music`` (an ad or music break:
  loud, tonal, a still picture, quiet chat), ``shout`` (the host shouting alone), ``bots`` (a bot
  flood), ``giveaway`` (a flood of ``!enter`` commands), ``votes`` (the host asks for a number,
  "type 1 if you want it" or a poll: a flood of 1, 11, 1111, +1, in a Chinese room 扣1), ``spam``
  (one viewer pasting a line), ``camera`` (a camera switch) and ``cuts`` (a product montage: scene
  cuts and motion with nothing else happening);
- a live-commerce stream (``commerce``): the host presents 6-10 items one after another, 60-150 s
  each; each item but 1-3 that sell nothing has a price reveal (a ``chat:price-drop`` highlight
  naming its ``item``) with a burst of carts and orders for that item 2-15 s after it, and a few
  stray orders later while it is on show; truth lists the ``products`` and each one's orders.
  With ``rivals``, the window of each item that sells also holds, where it fits, a loud crowd or
  action moment unrelated to the item (``rival_of`` names it): louder than the price reveal,
  and no burst of buying follows it.

Usage:
  python -m peakclip.samples.generate OUT_DIR [--seed N] [--duration S] [--highlights N] [--size WxH]
                                     [--bitrate RATE] [--distractors LIST] [--room en|zh [--chat-format bilibili|douyin]]
                                     [--edges] [--commerce [--rivals]]
                                     [--footage FILE ...] [--speech FILE]
  python -m peakclip.samples.generate --suite DIR [--split tune|heldout|votes|commerce|bitrate] [--count N]
                                                       the evaluation set (DIR/stream-01 ...)

The modules, in the order a stream is made: ``moments`` (where the highlights and distractors lie,
how busy the audience is), ``commerce`` (a shop stream's items, price reveals and sales),
``picture``, ``sound`` and ``room`` (what the chat says, and its log formats), ``stream`` (one
stream's files: ``generate``), ``suite`` (the evaluation set's splits), ``cli``.
"""
from peakclip.samples.generate.moments import SampleError
from peakclip.samples.generate.stream import generate
from peakclip.samples.generate.suite import generate_suite, real_footage

__all__ = ["SampleError", "generate", "generate_suite", "real_footage"]
