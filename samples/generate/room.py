"""A sample stream's chat: what people type in an English or a Chinese room, how they react to
each planted moment, and the log formats it is saved in (TwitchDownloader JSON, Bilibili
danmaku XML, a Douyin listener's webcast messages)."""
from __future__ import annotations

import zlib
from xml.sax.saxutils import escape

import numpy as np

from peakclip.samples.generate.moments import active, audience_at, viewer_names, windows

REACTIONS = ["LUL", "KEKW", "PogChamp", "OMG", "666", "哈哈哈", "!!!", "no way", "WOW", "Pog", "clip it"]
EMOTES = {"LUL", "KEKW", "PogChamp", "Pog"}
HELLOS = ["hi", "hello", "hey chat", "hi all", "hello from Berlin", "hey everyone", "大家好", "yo", "hiii", "good evening"]
BYES = ["bye", "gg", "GG WP", "see you tomorrow", "bye everyone", "o7", "晚安", "cya", "gn chat", "bye bye"]
BUYING = ["want", "+1", "how much now?", "buying two", "link pls", "sold out?", "in cart", "still in stock?",
          "ordered", "what colour is left", "me too", "that price tho", "take my money", "got one", "买了", "上链接"]
APPLAUSE = ["👏👏👏", "bravo", "WOW", "insane", "🔥🔥", "clap clap", "unreal"]
CHANT = ["LETS GO", "LETS GOOO", "GO GO GO", "加油", "加油加油"]
EMOJI = ["😂😂", "哈哈哈哈", "www", "🔥🔥🔥", "😮", "👏👏", "草", "😂", "🤣🤣", "💀"]
TALK = ["hi", "hello from Berlin", "what game is this", "how much is it", "nice", "ok", "is shipping free?",
        "first time here", "love the stream", "what size is that", "does it come in blue", "back again"]
# A poll, or the host asking "type 1 if you want it": people answer with a number.
VOTES = ["1", "2", "1", "11", "2", "1", "111", "+1", "1", "2"]
VOTERS = (50, 80)                # people who answer (times the audience), each 1-3 times

# What people type in each room: the English lists above, and a Chinese room's (a Bilibili stream,
# its chat in danmaku XML). Each Chinese list is as long as its English one and says the same
# kind of thing at each place (a reaction where the English has one, a hello, a vote, talk), so
# a seed makes the same moments, people and times in either room, and the same chat signal.
ROOMS = {
    "en": {"talk": TALK, "reactions": REACTIONS, "hellos": HELLOS, "byes": BYES, "buying": BUYING,
           "applause": APPLAUSE, "chant": CHANT, "emoji": EMOJI, "votes": VOTES,
           "spam": "BUY NOW BUY NOW", "bots": ("Follow the shop for the giveaway!", "cheap followers at example"),
           "giveaway": "!enter"},
    "zh": {"talk": ["主播好", "晚上好", "这是什么游戏", "多少钱", "不错", "好的", "包邮吗？", "第一次来", "喜欢这个直播间",
                    "这个什么尺码", "有蓝色的吗", "又来了"],
           "reactions": ["哈哈哈", "666", "卧槽", "？？？", "233333", "牛", "awsl", "草", "绝了", "哈哈哈哈哈", "名场面"],
           "hellos": ["来了", "签到", "主播好", "大家好", "晚上好", "主播晚上好", "来了来了", "打卡", "我来了", "哈喽"],
           "byes": ["晚安", "拜拜", "下播了", "88", "主播晚安", "拜拜主播", "886", "明天见", "主播辛苦了", "再见"],
           "buying": ["想要", "扣1", "现在多少钱？", "拍两件", "上链接", "卖完了吗？", "加购了", "还有货吗？", "已拍",
                      "还剩什么颜色", "我也要", "这价格可以", "冲了", "抢到了", "买了", "链接呢"],
           "applause": ["👏👏👏", "精彩", "卧槽", "厉害", "🔥🔥", "鼓掌鼓掌", "太厉害了"],
           "chant": ["冲冲冲", "加油", "加油加油", "冲啊", "好耶"],
           "emoji": ["哈哈哈哈", "233333", "？？？", "[笑哭]", "草", "awsl", "😂😂", "xswl", "hhhh", "[doge]"],
           "votes": ["1", "11", "扣1", "1111", "111", "扣1", "1", "11111", "扣11", "１"],   # "想要的扣1"
           "spam": "加V看福利 加V看福利", "bots": ("关注主播参加抽奖！", "低价涨粉 私信我"),
           "giveaway": "！抽奖"},    # a command typed with a Chinese input method's fullwidth ！
}
CHAT_FILES = {"en": "chat.json", "zh": "chat.xml"}   # TwitchDownloader JSON; Bilibili danmaku XML
# How a Chinese room's chat may be saved instead of danmaku XML: a Douyin room listener's log,
# webcast messages a line (``douyin_jsonl``), in wall-clock time (truth's ``stream_start``).
CHAT_FORMATS = {"bilibili": "chat.xml", "douyin": "chat.jsonl"}   # named as the chat reader names them


def reaction_messages(rng: np.random.Generator, moment: dict, delay: float, people: list[str],
                      room: str = "en") -> list[tuple]:
    """How the audience reacts to a planted moment, by the way it was planted: a quick burst of
    reactions (most ways), a slow wave of ordinary buying talk (price-drop), a wave of emoji
    (emoji-wave), or a chant typed again and again (chant); in the ``room``'s language."""
    way, start, length = moment.get("way"), moment["start"], moment["end"] - moment["start"]
    say = ROOMS[room]
    if way == "price-drop":
        return [(start + delay / 2 + float(rng.triangular(0, 0.4 * length, length + 8)), who,
                 str(rng.choice(say["buying"]))) for who in people]
    if way == "emoji-wave":
        return [(start + delay + float(rng.uniform(0, 10)), who, str(rng.choice(say["emoji"]))) for who in people]
    if way == "chant":
        return [(start + delay / 2 + float(rng.uniform(0, length + 6)), who, str(rng.choice(say["chant"])))
                for who in people for _ in range(int(rng.integers(1, 4)))]
    texts = say["applause"] if way == "applause" else say["reactions"]
    return [(start + delay + float(rng.gamma(2.0, 1.5)), who, str(rng.choice(texts))) for who in people]


def chat(rng: np.random.Generator, truth: dict, viewers: int = 150, room: str = "en") -> list[tuple]:
    """(time in seconds, user, text) messages: background talk scaled by the audience, reactions,
    floods, in the ``room``'s language (``ROOMS``). A small streamer (few ``viewers``) has a slower
    chat and smaller reactions."""
    duration = truth["duration"]
    say = ROOMS[room]
    quiet = (150 / viewers) ** 0.5
    users = viewer_names(viewers)
    messages = []
    t = 0.0
    while True:
        t += float(rng.exponential(2.0 * quiet / audience_at(truth, t)))
        if t >= duration:
            break
        event = active(t, windows(truth, "music"))
        if event and rng.random() < 0.7:
            continue  # people go quiet during an ad break
        messages.append((t, users[rng.integers(viewers)], str(rng.choice(say["talk"]))))
    for h in truth["highlights"]:
        delay = float(rng.uniform(3, 10))
        scale = audience_at(truth, h["start"])
        size = {"crowd": (25, 40), "chat": (30, 45), "action": (6, 10)}[h["kind"]]
        count = min(viewers, int(rng.integers(*size) * (scale if h["kind"] != "action" else 1)))
        messages += reaction_messages(rng, h, delay, [users[u] for u in rng.choice(viewers, size=count, replace=False)],
                                      room)
    for d in truth["distractors"]:
        span = d["end"] - d["start"]
        if d["kind"] == "spam":
            spammer = users[rng.integers(viewers)]
            messages += [(d["start"] + k * span / 40, spammer, say["spam"]) for k in range(40)]
        elif d["kind"] == "bots":
            messages += [(d["start"] + k * span / 50, "Nightbot", say["bots"][0]) for k in range(50)]
            messages += [(d["start"] + k * span / 50, "shopbot_9000", say["bots"][1]) for k in range(50)]
        elif d["kind"] in ("intro", "outro"):
            # People arriving say hello; people leaving say goodbye: more of them than react later.
            words = say["hellos"] if d["kind"] == "intro" else say["byes"]
            window = (0.0, d["end"] + 10) if d["kind"] == "intro" else (d["start"] - 5, duration)
            for u in rng.choice(viewers, size=min(viewers, int(rng.integers(40, 60))), replace=False):
                messages.append((float(rng.uniform(*window)), users[u], str(rng.choice(words))))
        elif d["kind"] == "giveaway":
            for u in rng.choice(viewers, size=min(viewers, int(rng.integers(35, 50))), replace=False):
                messages.append((d["start"] + float(rng.uniform(0, span)), users[u], say["giveaway"]))
        elif d["kind"] == "votes":
            # The host asks for a number ("type 1 if you want it", a poll): many answer, some
            # again and again, none of them reacting to anything.
            voters = min(viewers, int(rng.integers(*VOTERS) * audience_at(truth, d["start"])))
            for u in rng.choice(viewers, size=voters, replace=False):
                for _ in range(int(rng.integers(1, 4))):
                    messages.append((d["start"] + float(rng.uniform(0, span)), users[u], str(rng.choice(say["votes"]))))
    return sorted((m for m in messages if m[0] < duration), key=lambda m: m[0])


def twitchdownloader_json(messages: list[tuple], duration: float) -> dict:
    comments = []
    for i, (t, user, text) in enumerate(messages):
        comments.append({
            "_id": f"c{i:06d}", "content_offset_seconds": round(t, 3), "content_type": "video",
            "commenter": {"display_name": user, "_id": f"u-{user}", "name": user.lower()},
            "message": {"body": text, "bits_spent": 0,
                        "fragments": [{"text": text, "emoticon": {"emoticon_id": "1"} if text in EMOTES else None}],
                        "user_badges": [], "user_color": None, "emoticons": []},
        })
    return {"FileInfo": {"Version": {"Major": 1, "Minor": 2, "Patch": 2}},
            "streamer": {"name": "peakclip_sample", "id": 1},
            "video": {"title": "peakclip sample stream", "id": "1", "start": 0, "end": int(duration), "length": int(duration)},
            "comments": comments}


SENT_AT = 1_763_900_000   # the UNIX time a sample stream starts, for logs that note when each message was sent
ROOM_ID = "7311993800000000001"   # the Douyin room a sample's webcast messages name


def douyin_jsonl(messages: list[tuple]) -> list[dict]:
    """A Douyin room listener's log: each message a ``WebcastChatMessage`` as protobuf's JSON
    mapping writes it (64-bit numbers as strings, ``common.createTime`` in UNIX milliseconds from
    ``SENT_AT``), and before each person's first message the ``WebcastMemberMessage`` of their
    coming into the room (2-12 s earlier, never before the start; entering weighs nothing, so the
    chat signal is the danmaku room's). Ids are CRC32s of the names, as stable as Douyin's."""
    def user(name: str) -> dict:
        uid = zlib.crc32(name.encode())
        return {"id": str(70_000_000_000 + uid), "shortId": str(uid), "nickName": name,
                "secUid": f"MS4wLjABAAAA{uid:08x}", "displayId": f"dy{uid}"}

    def record(method: str, t: float, msg_id: int, name: str, **fields) -> tuple[float, int, dict]:
        common = {"method": method, "msgId": str(7_400_000_000_000_000_000 + msg_id), "roomId": ROOM_ID,
                  "createTime": str(int(round((SENT_AT + t) * 1000)))}
        return t, msg_id, {"common": common, "user": user(name), **fields}

    records, seen = [], set()
    for index, (t, name, text) in enumerate(messages):
        if name not in seen:
            seen.add(name)
            early = 2.0 + (zlib.crc32(name.encode()) % 1000) / 100.0
            records.append(record("WebcastMemberMessage", max(0.0, t - early), 2 * index, name,
                                  memberCount=str(len(seen)), action="1"))
        records.append(record("WebcastChatMessage", t, 2 * index + 1, name, content=text))
    return [body for _, _, body in sorted(records, key=lambda r: (r[0], r[1]))]


def danmaku_xml(messages: list[tuple]) -> str:
    """Bilibili danmaku XML: ``<d p="offset,mode,size,colour,sent,pool,sender hash,id">text</d>``,
    the offset in seconds, the sender a CRC32 of the user's name as Bilibili hashes its user ids."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             "<i><chatserver>chat.bilibili.com</chatserver><chatid>0</chatid><mission>0</mission>"
             f"<maxlimit>{max(1000, len(messages))}</maxlimit><state>0</state><real_name>0</real_name><source>k-v</source>"]
    for i, (t, user, text) in enumerate(messages):
        sender = format(zlib.crc32(user.encode()), "x")
        lines.append(f'<d p="{t:.5f},1,25,16777215,{SENT_AT + int(t)},0,{sender},{i + 1}">{escape(text)}</d>')
    return "\n".join(lines + ["</i>"]) + "\n"
