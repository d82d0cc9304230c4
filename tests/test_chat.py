"""Chat logs: every format read from fixtures written from its documented structure."""
import csv
import gzip
import io
import json

import numpy as np
import pytest
from conftest import real_media

from peakclip.detectors.chat import FORMATS, Audience, ChatConfig, Message, Skipped, detect_format, read_chat
from peakclip.detectors.chat.records import parse_amount
from peakclip.detectors.errors import ChatError

HOP = 0.5
START = 1_763_900_000.0  # the recording's start, UNIX seconds (2025-11-23T12:13:20Z)


def messages_of(path, **config):
    """Parse with the detected format; returns (format, messages, skipped) for exact checks."""
    cfg = ChatConfig(**config)
    fmt = cfg.format or detect_format(str(path))
    from peakclip.detectors.chat.records import open_text
    with open_text(str(path)) as text:
        items = list(FORMATS[fmt][1](text))
    return fmt, [i for i in items if isinstance(i, Message)], [i for i in items if isinstance(i, Skipped)]


# ---- fixtures, one per format, written from each tool's documented layout ----------------------

def twitchdownloader(tmp_path, gz=False):
    def comment(t, uid, name, body, emote=False, bits=0):
        return {"_id": f"id{t}", "created_at": "2025-11-23T12:13:20Z", "channel_id": "1", "content_type": "video",
                "content_id": "9", "content_offset_seconds": t, "source": "chat", "state": "published",
                "commenter": {"display_name": name.title(), "_id": uid, "name": name, "type": "user", "bio": None,
                              "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "logo": ""},
                "message": {"body": body, "bits_spent": bits,
                            "fragments": [{"text": body, "emoticon": {"emoticon_id": "425618", "emoticon_set_id": ""} if emote else None}],
                            "is_action": False, "user_badges": [], "user_color": "#FF0000",
                            "user_notice_params": {"msg_id": None}, "emoticons": []}}
    doc = {"FileInfo": {"Version": {"Major": 1, "Minor": 2, "Patch": 2}, "CreatedAt": "x", "UpdatedAt": "x"},
           "streamer": {"name": "shop", "id": 1}, "video": {"title": "t", "id": "9", "start": 0, "end": 60, "length": 60},
           "comments": [comment(1.5, "11", "ann", "hi"), comment(2.0, "22", "bob", "LUL", emote=True),
                        {"content_offset_seconds": "soon"}, comment(3.25, "11", "ann", "cheer100 nice", bits=100)],
           "embeddedData": None}
    path = tmp_path / ("chat.json.gz" if gz else "chat.json")
    data = json.dumps(doc).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def ytdlp(tmp_path):
    def line(offset, renderer, body, live=False):
        action = {"addChatItemAction": {"item": body, "clientId": "c"}}
        if live:
            return {"replayChatItemAction": {"actions": [action]}, "videoOffsetTimeMsec": str(offset), "isLive": True}
        return {"replayChatItemAction": {"actions": [action], "videoOffsetTimeMsec": str(offset)}}
    text = {"liveChatTextMessageRenderer": {"message": {"runs": [{"text": "so good "}, {"emoji": {"emojiId": "x", "shortcuts": [":fire:"]}}]},
                                            "authorName": {"simpleText": "Ann"}, "authorExternalChannelId": "UC_ann",
                                            "id": "m1", "timestampUsec": "1763900016490000", "timestampText": {"simpleText": "0:16"}}}
    paid = {"liveChatPaidMessageRenderer": {"message": {"runs": [{"text": "take my money"}]}, "authorName": {"simpleText": "Bob"},
                                            "authorExternalChannelId": "UC_bob", "purchaseAmountText": {"simpleText": "$5.00"},
                                            "id": "m2", "timestampUsec": "1"}}
    member = {"liveChatMembershipItemRenderer": {"authorName": {"simpleText": "Cat"}, "authorExternalChannelId": "UC_cat", "id": "m3"}}
    ticker = {"liveChatTickerPaidMessageItemRenderer": {"id": "t"}}
    lines = [json.dumps(line(16490, "t", text)), json.dumps(line(20000, "p", paid, live=True)),
             json.dumps(line(31000, "m", member)), json.dumps(line(32000, "x", ticker)),
             '{"replayChatItemAction": {"actions": [', json.dumps({"other": 1})]
    path = tmp_path / "stream.live_chat.json"
    path.write_text("\n".join(lines) + "\n")
    return path


def chatdownloader(tmp_path):
    items = [
        {"timestamp": 1763900010000000, "time_in_seconds": 10.0, "time_text": "0:10", "message": "hello", "message_id": "a",
         "message_type": "text_message", "author": {"name": "Ann", "id": "UC_ann", "display_name": "Ann", "images": [], "badges": []}},
        {"timestamp": 1763900012500000, "time_in_seconds": 12.5, "message": "for you", "message_type": "paid_message",
         "money": {"amount": 4.99, "currency": "USD", "text": "$4.99"}, "author": {"name": "Bob", "id": "UC_bob"}},
        {"timestamp": 1763900013000000, "message_type": "ban_user", "action_type": "ban"},
        {"timestamp": 1763900014000000, "time_in_seconds": 14.0, "message": "no author", "message_type": "text_message"},
    ]
    path = tmp_path / "chat-downloader.json"
    path.write_text(json.dumps(items, indent=2))
    return path


def irc(tmp_path):
    def privmsg(ms, uid, nick, text, extra=""):
        return (f"@badge-info=;badges=;color=#1E90FF;display-name={nick.title()};emotes={extra};first-msg=0;flags=;"
                f"id=uuid-{ms};mod=0;room-id=1;subscriber=0;tmi-sent-ts={ms};turbo=0;user-id={uid};user-type= "
                f":{nick}!{nick}@{nick}.tmi.twitch.tv PRIVMSG #shop :{text}")
    lines = [":tmi.twitch.tv 001 justinfan :Welcome, GLHF!", "PING :tmi.twitch.tv",
             privmsg(int(START * 1000) + 5000, "11", "ann", "Kappa hi", "25:0-4"),
             privmsg(int(START * 1000) + 7250, "22", "bob", "what"),
             "@badge-info=;display-name=Cat :cat!cat@cat.tmi.twitch.tv PRIVMSG #shop :no time tag",
             ":nightbot!nightbot@nightbot.tmi.twitch.tv JOIN #shop"]
    path = tmp_path / "irc.log"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def textlog(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("[0:00:10] ann: hello there\n[0:01:05] bob: LUL\nthis line is junk\n[1:02:03] Cat Lady: late: very\n")
    return path


def bilibili(tmp_path, truncate=False):
    body = ('<?xml version="1.0" encoding="UTF-8"?><i><chatserver>chat.bilibili.com</chatserver><chatid>1</chatid>'
            '<d p="12.5,1,25,16777215,1763900012,0,ab12cd34,1001">哈哈哈哈</d>'
            '<d p="13.0,1,25,16777215,1763900013,0,ef56gh78,1002">好看</d>'
            '<d p="oops,1,25,16777215,1763900014,0,ab12cd34,1003">bad</d>'
            '<d p="20.25,5,25,16777215,1763900020,0,ab12cd34,1004">再来</d></i>')
    if truncate:
        body = body[:body.index("1004") + 10]
    path = tmp_path / "danmaku.xml"
    path.write_text(body, encoding="utf-8")
    return path


def douyin(tmp_path):
    """A Douyin room listener's log: webcast messages a line, as protobuf's JSON mapping writes them
    (saermart/DouyinLiveWebFetcher's douyin.proto, jwwsjlm/douyinLive's messages: 64-bit numbers as
    strings, ``common.createTime`` in UNIX milliseconds), bare or in ``{"method", "payload"}``."""
    ms = int(START * 1000)

    def common(method, at, msg_id):
        return {"method": method, "msgId": str(7_400_000_000_000_000_000 + msg_id), "roomId": "7311993800000000001",
                "createTime": str(ms + at)}

    def user(uid, nick):
        return {"id": uid, "shortId": "1" + uid, "nickName": nick, "gender": 2, "secUid": f"MS4wLjABAAAA{uid}",
                "displayId": f"dy{uid}", "AvatarThumb": {"urlList": ["https://p3.douyinpic.com/a.jpeg"]}}

    def message(method, at, msg_id, uid, nick, **fields):
        return {"common": common(method, at, msg_id), "user": user(uid, nick), **fields}

    gift = {"id": "463", "name": "小心心", "diamondCount": 1, "combo": True, "type": 4}
    rose = {"id": "5655", "name": "玫瑰", "diamond_count": 10}
    rows = [
        message("WebcastMemberMessage", 500, 1, "111", "小明", memberCount="1201", action="1"),
        message("WebcastChatMessage", 2000, 2, "111", "小明", content="主播好", eventTime=str(int(START) + 2)),
        message("WebcastChatMessage", 4500, 3, "222", "阿花", content="哈哈哈[捂脸]"),
        message("WebcastEmojiChatMessage", 5000, 4, "333", "老王", emojiId="1", defaultContent="[赞]"),
        message("WebcastLikeMessage", 5500, 5, "111", "小明", count="3", total="9801"),
        # a combo of 小心心: 1, then 3 in all (delivered twice), then its closing message repeating the 3
        message("WebcastGiftMessage", 6000, 6, "222", "阿花", giftId="463", groupId="1733", repeatCount="1",
                comboCount="1", gift=gift),
        message("WebcastGiftMessage", 6800, 7, "222", "阿花", giftId="463", groupId="1733", repeatCount="3",
                comboCount="3", gift=gift),
        message("WebcastGiftMessage", 6800, 7, "222", "阿花", giftId="463", groupId="1733", repeatCount="3",
                comboCount="3", gift=gift),
        message("WebcastGiftMessage", 7000, 8, "222", "阿花", giftId="463", groupId="1733", repeatCount="3",
                repeatEnd=1, gift=gift),
        message("WebcastSocialMessage", 8000, 9, "333", "老王", action="1", followCount="5120"),
        message("WebcastSocialMessage", 8200, 10, "111", "小明", action="3", shareType="1"),   # a share
        message("WebcastFansclubMessage", 8500, 11, "444", "小李", type=2, content="小李 加入了粉丝团"),
        {"common": common("WebcastRoomUserSeqMessage", 9000, 12), "total": "1300", "totalUser": "5400"},
        # a listener that wraps each message and keeps the .proto's names
        {"method": "WebcastGiftMessage", "msg_id": 7400000000000000013,
         "payload": {"common": {"method": "WebcastGiftMessage", "create_time": str(ms + 9500)},
                     "user": {"uid": 555, "nickname": "大刘"}, "gift_id": 5655, "repeat_count": "2", "gift": rose}},
        message("WebcastChatMessage", 0, 14, "666", "无时", content="no time") | {"common": {"method": "WebcastChatMessage"}},
        {"common": common("WebcastChatMessage", 10000, 15), "content": "no sender"},
    ]
    path = tmp_path / "douyin.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n{\"common\": {\"meth",
                    encoding="utf-8")
    return path


def taobao(tmp_path):
    """Taobao live comments as a listener saves the comment API's responses (``mtop.taobao.iliad.
    comment.query.latest``: ``data.comments[]`` of ``publisherNick``, ``publisherId``, ``content``),
    as a JSON array, one response each."""
    ms = int(START * 1000)

    def comment(at, uid, nick, text):
        return {"commentId": str(90000 + at), "content": text, "publisherId": uid, "publisherNick": nick,
                "timestamp": str(ms + at), "renders": {"fanLevel": "2"}}

    responses = [{"api": "mtop.taobao.iliad.comment.query.latest", "ret": ["SUCCESS::调用成功"],
                  "data": {"comments": [comment(3000, "2201", "淘友甲", "上链接"), comment(3400, "2202", "淘友乙", "扣1")],
                           "delay": "6000"}},
                 {"api": "mtop.taobao.iliad.comment.query.latest",
                  "data": {"comments": [comment(7000, "2201", "淘友甲", "已拍"), {"content": "no time", "publisherNick": "x"}]}}]
    path = tmp_path / "taobao.json"
    path.write_text(json.dumps(responses, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def jsonl(tmp_path):
    rows = [{"t": 1.0, "user": "ann", "text": "hi"}, {"t": 2.0, "user": "bob", "type": "cart"},
            {"ts": "2025-11-23T12:13:25Z", "user": "cat", "type": "order", "amount": 19.9},
            {"t": 4.0, "user": "dan", "type": "teleport"}, {"user": "eve", "text": "no time"}]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + '{"t": 9.0, "user": "fr')
    return path


def csvlog(tmp_path):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["t", "user", "text", "type", "amount"])
    writer.writerows([[1.0, "ann", "hi", "", ""], [2.5, "bob", "", "like", ""], [3.0, "cat", "", "order", "25,50"],
                      ["x", "dan", "bad time", "", ""]])
    path = tmp_path / "events.csv"
    path.write_text(out.getvalue())
    return path


# ---- exact parsing per format ---------------------------------------------------------------

def test_twitchdownloader(tmp_path):
    for gz in (False, True):
        fmt, msgs, skipped = messages_of(twitchdownloader(tmp_path, gz))
        assert fmt == "twitchdownloader"
        assert [(m.t, m.user, m.name, m.text) for m in msgs] == [
            (1.5, "11", "ann", "hi"), (2.0, "22", "bob", "LUL"), (3.25, "11", "ann", "cheer100 nice")]
        assert msgs[1].emotes == 1 and msgs[2].kind == "paid" and msgs[2].amount == 1.0
        assert [s.line for s in skipped] == [3]


def test_ytdlp_live_chat(tmp_path):
    fmt, msgs, skipped = messages_of(ytdlp(tmp_path))
    assert fmt == "yt-dlp"
    assert [(m.t, m.user, m.kind) for m in msgs] == [(16.49, "UC_ann", "message"), (20.0, "UC_bob", "paid"),
                                                     (31.0, "UC_cat", "member")]
    assert msgs[0].text == "so good :fire:" and msgs[0].emotes == 1
    assert msgs[1].amount == 5.0 and msgs[1].name == "Bob"
    assert [s.line for s in skipped] == [5, 6]   # a cut-off line, a line with no offset


def test_chat_downloader(tmp_path):
    fmt, msgs, skipped = messages_of(chatdownloader(tmp_path))
    assert fmt == "chat-downloader"
    assert [(m.t, m.user, m.kind, m.amount) for m in msgs] == [(10.0, "UC_ann", "message", 0.0),
                                                               (12.5, "UC_bob", "paid", 4.99)]
    assert [s.line for s in skipped] == [4]   # the ban is ignored, the author-less message skipped


def test_twitch_irc_needs_the_stream_start(tmp_path):
    path = irc(tmp_path)
    fmt, msgs, skipped = messages_of(path)
    assert fmt == "twitch-irc"
    assert [(m.user, m.name, m.text, m.emotes) for m in msgs] == [("11", "Ann", "Kappa hi", 1), ("22", "Bob", "what", 0)]
    assert len(skipped) == 1
    with pytest.raises(ChatError, match="--stream-start"):
        read_chat(str(path), ChatConfig(), HOP, 60.0)
    log = read_chat(str(path), ChatConfig(stream_start="2025-11-23T12:13:20Z"), HOP, 60.0)
    assert log.messages == 2 and log.skipped == 1
    assert log.series().values[10] == pytest.approx(ChatConfig().reaction_boost)  # Ann's emote at 5.0 s
    log = read_chat(str(path), ChatConfig(stream_start=str(int(START))), HOP, 60.0)
    assert log.messages == 2


def test_text_logger_offsets_and_time_of_day(tmp_path):
    path = textlog(tmp_path)
    fmt, msgs, skipped = messages_of(path)
    assert fmt == "chat-text"
    assert [(m.t, m.user, m.text) for m in msgs] == [(10, "ann", "hello there"), (65, "bob", "LUL"),
                                                     (3723, "Cat Lady", "late: very")]
    assert [s.line for s in skipped] == [3]
    # With a start time the clock is read as time of day: 12:13:20 start -> [0:00:10] is the next day? no:
    # a time 12 h before the start wraps to the following day.
    log = read_chat(str(path), ChatConfig(stream_start="2025-11-23T00:00:05Z"), HOP, 4000.0)
    assert log.messages == 3 and log.series().values[10] > 0   # 00:00:10 is 5 s in


def test_bilibili_danmaku_and_truncation(tmp_path):
    fmt, msgs, skipped = messages_of(bilibili(tmp_path))
    assert fmt == "bilibili"
    assert [(m.t, m.user, m.text) for m in msgs] == [(12.5, "ab12cd34", "哈哈哈哈"), (13.0, "ef56gh78", "好看"),
                                                     (20.25, "ab12cd34", "再来")]
    assert [s.line for s in skipped] == [3]
    _, msgs, skipped = messages_of(bilibili(tmp_path, truncate=True))
    assert len(msgs) == 2 and "breaks off" in skipped[-1].reason


def test_a_growing_douyin_log_is_followed_a_piece_at_a_time(tmp_path):
    """A Douyin room listener writing one message a line while the stream is on air: each look
    reads only what was added, a gift combo whose messages fall in two looks is paid once, and
    the result is the whole log's. A log written as a JSON array is read whole each time."""
    from peakclip.detectors.chat.log import ChatFollower

    text = douyin(tmp_path).read_bytes()
    text = text[:text.rfind(b"\n") + 1]                                   # its cut-off last line left out
    config = ChatConfig(stream_start="2025-11-23T12:13:20Z")
    growing = tmp_path / "live-room.jsonl"
    follower = ChatFollower(str(growing), config, HOP)
    combo = text.index(b'"repeatCount": "3"')                            # between the combo's 1 and its 3
    for cut in (300, combo, combo + 40, len(text)):
        growing.write_bytes(text[:cut])
        log = follower.read(60.0)
    whole = read_chat(str(growing), config, HOP, 60.0)
    assert not follower.whole and (follower.offset, follower.lines) == (len(text), text.count(b"\n"))
    assert np.array_equal(log.series().values, whole.series().values)
    assert np.allclose(log.audience.paid, whole.audience.paid) and log.audience.paid.sum() == pytest.approx(2.3)
    assert (log.messages, log.skipped) == (whole.messages, whole.skipped) == (10, 2)
    array = tmp_path / "room.json"
    array.write_text(json.dumps([json.loads(line) for line in text.decode().splitlines()[:5]]), encoding="utf-8")
    follower = ChatFollower(str(array), config, HOP)
    assert follower.read(60.0).messages == 5 and follower.whole


def test_real_bilibili_danmaku_file():
    log = read_chat(real_media("bilibili-danmaku-comment.xml"), ChatConfig(), HOP)
    assert log.format == "bilibili" and log.messages + log.skipped == 1386 and log.messages > 1300
    assert log.users > 100


def test_douyin_webcast_messages(tmp_path):
    fmt, msgs, skipped = messages_of(douyin(tmp_path))
    assert fmt == "douyin"
    assert [(round(m.t - START, 3), m.user, m.name, m.kind, m.text) for m in msgs] == [
        (0.5, "111", "小明", "enter", ""), (2.0, "111", "小明", "message", "主播好"),
        (4.5, "222", "阿花", "message", "哈哈哈[捂脸]"), (5.0, "333", "老王", "message", "[赞]"),
        (5.5, "111", "小明", "like", ""), (6.0, "222", "阿花", "gift", ""), (6.8, "222", "阿花", "gift", ""),
        (8.0, "333", "老王", "follow", ""), (8.5, "444", "小李", "member", ""), (9.5, "555", "大刘", "gift", "")]
    assert all(m.clock == "epoch" for m in msgs) and msgs[3].emotes == 1
    # the combo's gifts are paid once each (1 and 2 more 小心心 at 1 coin; 2 roses at 10), 10 coins a yuan
    assert [m.amount for m in msgs if m.kind == "gift"] == pytest.approx([0.1, 0.2, 2.0])
    assert [s.line for s in skipped] == [15, 16, 17]   # no time, no sender, a cut-off last line


def test_douyin_log_needs_the_stream_start_and_entering_weighs_nothing(tmp_path):
    path = douyin(tmp_path)
    with pytest.raises(ChatError, match="--stream-start"):
        read_chat(str(path), ChatConfig(), HOP, 60.0)
    log = read_chat(str(path), ChatConfig(stream_start="2025-11-23T12:13:20Z"), HOP, 60.0)
    assert log.messages == 10 and log.skipped == 3
    assert log.summary()["kinds"] == {"enter": 1, "follow": 1, "gift": 3, "like": 1, "member": 1, "message": 3}
    assert log.audience.paid[12] == pytest.approx(0.1) and log.audience.paid[19] == pytest.approx(2.0)
    values = log.series().values
    assert values[1] == 0 and values[4] == pytest.approx(ChatConfig().greeting_weight)   # entered, then 主播好
    # 哈哈哈[捂脸] and a [赞] sticker are reactions beside 小明's hello; his like then outweighs it
    assert values[10] == pytest.approx(2 * ChatConfig().reaction_boost + ChatConfig().greeting_weight)
    assert values[11] == pytest.approx(2 * ChatConfig().reaction_boost + ChatConfig().weight_like)


def test_douyin_log_as_a_json_array_and_cut_off(tmp_path):
    rows = [json.loads(line) for line in douyin(tmp_path).read_text(encoding="utf-8").splitlines()[:14]]
    path = tmp_path / "douyin.json"
    text = json.dumps(rows, ensure_ascii=False, indent=2)
    path.write_text(text, encoding="utf-8")
    fmt, msgs, skipped = messages_of(path)
    assert fmt == "douyin" and len(msgs) == 10 and skipped == []
    path.write_text(text[:text.index('"WebcastRoomUserSeqMessage"')], encoding="utf-8")
    _, msgs, skipped = messages_of(path)
    assert len(msgs) == 9 and [s.line for s in skipped] == [13]   # every message before the cut


def test_taobao_live_comments(tmp_path):
    fmt, msgs, skipped = messages_of(taobao(tmp_path))
    assert fmt == "douyin"
    assert [(round(m.t - START, 3), m.user, m.name, m.text) for m in msgs] == [
        (3.0, "2201", "淘友甲", "上链接"), (3.4, "2202", "淘友乙", "扣1"), (7.0, "2201", "淘友甲", "已拍")]
    assert [s.line for s in skipped] == [2]
    log = read_chat(str(taobao(tmp_path)), ChatConfig(stream_start=str(int(START))), HOP, 60.0)
    assert log.messages == 3 and log.summary()["dropped"]["votes"] == 1   # 扣1 answers the host, reacts to nothing
    # a listener that writes each comment on a line of its own
    comments = [c for r in json.loads(taobao(tmp_path).read_text(encoding="utf-8")) for c in r["data"]["comments"]]
    lines = tmp_path / "taobao.jsonl"
    lines.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in comments) + "\n[1, 2]\n", encoding="utf-8")
    fmt, msgs, skipped = messages_of(lines)
    assert fmt == "douyin" and [m.text for m in msgs] == ["上链接", "扣1", "已拍"]
    assert [(s.line, s.reason) for s in skipped] == [(4, "missing or bad field 'timestamp'"), (5, "not a JSON object")]


def test_generic_jsonl_and_csv(tmp_path):
    fmt, msgs, skipped = messages_of(jsonl(tmp_path))
    assert fmt == "jsonl"
    assert [(m.user, m.kind) for m in msgs] == [("ann", "message"), ("bob", "cart"), ("cat", "order")]
    assert msgs[2].clock == "epoch" and msgs[2].amount == 19.9
    assert [s.line for s in skipped] == [4, 5, 6]
    log = read_chat(str(jsonl(tmp_path)), ChatConfig(stream_start="2025-11-23T12:13:20Z"), HOP, 60.0)
    assert log.messages == 3 and log.audience.orders[10] == 1 and log.audience.paid[10] == pytest.approx(19.9)

    fmt, msgs, skipped = messages_of(csvlog(tmp_path))
    assert fmt == "csv"
    assert [(m.t, m.user, m.kind, m.amount) for m in msgs] == [(1.0, "ann", "message", 0.0), (2.5, "bob", "like", 0.0),
                                                               (3.0, "cat", "order", 25.5)]
    assert len(skipped) == 1


def test_forced_format_and_offset(tmp_path):
    path = csvlog(tmp_path)
    log = read_chat(str(path), ChatConfig(format="csv", offset=10.0), HOP, 60.0)
    assert log.messages == 3 and log.series().values[22] > 0 and log.series().values[2] == 0
    with pytest.raises(ChatError, match="unknown chat format"):
        read_chat(str(path), ChatConfig(format="morse"), HOP, 60.0)


def test_messy_files_skip_and_count(tmp_path):
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"t": 1, "user": "ann", "text": "caf\xe9"}\n'
                     b'{"t": -3, "user": "bob"}\n{"t": 500, "user": "cat"}\n{"t": 2, "user": "dan"}\n{"t": 3, "us')
    log = read_chat(str(path), ChatConfig(), HOP, 60.0)
    assert (log.messages, log.skipped, log.before, log.after) == (2, 1, 1, 1)
    assert log.summary()["outside"] == {"before": 1, "after": 1}
    outside, skipped = log.warnings()
    assert "2 records fall outside the recording" in outside and "1 before" in outside and "1 after" in outside
    assert "skipped 1" in skipped and "line 5" in skipped


def test_empty_log_and_a_log_entirely_outside_the_recording(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    log = read_chat(str(empty), ChatConfig(), HOP, 60.0)
    assert log.format == "empty" and log.messages == 0 and not log.series().values.any()
    assert log.warnings() == ["chat: the log is empty: the chat signal is flat"]
    late = tmp_path / "late.jsonl"
    late.write_text("".join(f'{{"t": {3600 + i}, "user": "u{i}", "text": "hi"}}\n' for i in range(10)))
    log = read_chat(str(late), ChatConfig(), HOP, 60.0)
    assert (log.messages, log.after) == (0, 10) and "none of the log's 10 records" in log.warnings()[0]
    shifted = read_chat(str(late), ChatConfig(offset=-3590.0), HOP, 60.0)   # --chat-offset puts it right
    assert shifted.messages == 10 and shifted.warnings() == []


def test_not_a_chat_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list: eggs, milk\n")
    with pytest.raises(ChatError, match="not a chat log"):
        read_chat(str(path), ChatConfig(), HOP)
    with pytest.raises(ChatError, match="not found"):
        read_chat(str(tmp_path / "missing.json"), ChatConfig(), HOP)
    with pytest.raises(ChatError, match="directory"):
        read_chat(str(tmp_path), ChatConfig(), HOP)


def test_parse_amount():
    assert [parse_amount(x) for x in ("$5.00", "¥1,000", "€2,50", "1.234,56 €", "", "free")] == [5.0, 1000.0, 2.5, 1234.56, 0.0, 0.0]


# ---- the audience signal ------------------------------------------------------------------

def audience_series(events, duration=200.0, **config):
    audience = Audience(HOP, ChatConfig(**config))
    for t, user, text, kind in events:
        audience.add(Message(t=t, user=user, name=user, text=text, kind=kind))
    return audience.series(int(duration / HOP)).values


def test_one_spammer_counts_once_and_people_count_each():
    spam = audience_series([(10 + i * 0.2, "spammer", "BUY NOW", "message") for i in range(50)])
    crowd = audience_series([(10, f"u{i}", "nice", "message") for i in range(5)])
    assert spam.max() == pytest.approx(1.0) and crowd.max() == pytest.approx(5.0)
    window = int(ChatConfig().window / HOP)
    assert crowd[20:20 + window].tolist() == [5.0] * window and crowd[20 + window] == 0


def test_bot_and_giveaway_floods_do_not_outscore_a_real_reaction():
    reaction = [(50 + i * 0.3, f"fan{i}", "LUL", "message") for i in range(12)]          # 12 messages
    bots = [(100 + i * 0.1, "Nightbot", "Join the giveaway!", "message") for i in range(60)]
    unknown_bot = [(100 + i * 0.1, "promo_bot_77", "cheap followers at ...", "message") for i in range(60)]
    giveaway = [(150 + i * 0.1, f"viewer{i}", "!enter", "message") for i in range(40)]  # 40 messages
    values = audience_series(reaction + bots + unknown_bot + giveaway)
    real = values[100:120].max()
    assert real > 5 * values[195:240].max()     # the bot floods
    assert real > 5 * max(values[295:340].max(), 0.1)  # the giveaway command flood
    audience = Audience(HOP, ChatConfig())
    for t, u, text, kind in bots + giveaway:
        audience.add(Message(t=t, user=u, name=u, text=text, kind=kind))
    assert audience.counts == {"commands": 40, "bots": 60, "votes": 0, "reactions": 0, "greetings": 0}


def test_people_arriving_and_leaving_are_not_a_reaction():
    # A stream opens with a burst of hellos and closes with byes and gg's: more people than the
    # real reaction in the middle, and none of it a highlight.
    hellos = [(5 + i * 0.2, f"a{i}", text, "message") for i, text in
              enumerate(["hi", "hello from Berlin", "hey chat!", "大家好", "hi all", "yo"] * 4)]
    reaction = [(100 + i * 0.3, f"fan{i}", text, "message") for i, text in enumerate(["LUL", "no way", "哈哈哈哈"] * 4)]
    byes = [(190 + i * 0.2, f"b{i}", text, "message") for i, text in
            enumerate(["bye", "gg", "GG WP", "see you tomorrow guys", "晚安", "o7"] * 4)]
    values = audience_series(hellos + reaction + byes, duration=200.0)
    real = values[200:230].max()
    assert real > 2 * values[0:60].max() and real > 2 * values[370:].max()
    # a question that opens with "hi" is talk, not a greeting
    talk = audience_series([(10, f"u{i}", "hi how much is the blue one", "message") for i in range(4)])
    assert talk.max() == pytest.approx(4.0)


def test_reactions_and_commerce_weigh_more_than_talk():
    talk = audience_series([(10, f"u{i}", "what is the price", "message") for i in range(4)])
    react = audience_series([(10, f"u{i}", "哈哈哈", "message") for i in range(4)])
    orders = audience_series([(10, f"u{i}", "", "order") for i in range(4)])
    assert talk.max() < react.max() < orders.max()


# What each message is to the audience, in English and Chinese rooms (Bilibili danmaku, Twitch).
CLASSIFIED = {
    "votes": ["1", "2", "11", "111", "1111", "1111111", "22", "12", "0", "扣1", "扣2", "扣11", "扣1111", "扣 1",
              "扣1扣1", "打1", "刷1", "选A", "投2", "+1", "+2", "1 1 1", "A", "b", "１１１", "扣１", "＋１", "+++",
              "...", "。。。", "扣6"],
    "reactions": ["666", "6666", "66", "6", "233333", "2333", "555", "888", "？？？", "???", "!!!", "！！！",
                  "哈哈哈", "哈哈哈哈哈", "卧槽", "牛", "牛逼", "太牛了", "awsl", "草", "草草草", "xswl", "yyds", "hhhh",
                  "绝了", "笑死", "前方高能", "泪目", "啊啊啊啊", "呜呜呜", "[doge]", "[笑哭]", "😂😂", "❤️",
                  "lol", "LUL", "KEKW", "no way", "ｗｗｗ", "lol哈哈", "gg了", "1111!!!", "1？？？",
                  "haha", "hahaha", "HAHAHAHA", "ahahah", "hehe", "jajaja", "jejeje", "kkkkk", "rsrsrs", "mdr",
                  "ㅋㅋㅋ", "ㅎㅎ", "haha that price", "lmfao", "LMAOOO", "wtf", "omfg", "holy shit", "noooo",
                  "yesss", "yeees", "no wayyy", "nooo way"],
    "greetings": ["来了", "签到", "主播好", "大家好", "晚上好", "主播晚上好呀", "来了来了", "我来了", "打卡", "各位好",
                  "hi", "hello from Berlin", "hi all",
                  "晚安", "拜拜", "下播", "下播了", "88", "886", "主播晚安", "晚安主播", "晚安大家", "明天见", "主播辛苦了",
                  "bye", "gg", "GG WP", "see you tomorrow",
                  "hola", "Hola a todos", "buenas noches", "oi", "oiii gente", "olá", "boa noite", "bonjour",
                  "bonsoir à tous", "salut", "hallo", "moin", "ciao", "こんばんは", "안녕하세요", "adiós", "chau", "tchau",
                  "hasta mañana", "au revoir", "bonne nuit", "tschüss", "gute nacht", "おやすみ", "またね", "잘 자"],
    "talk": ["123", "520", "2024", "又来了", "草莓多少钱", "牛仔裤有蓝色吗", "这个多少钱", "好", "大家好我是新来的",
             "1 more please", "+1 to that", "hi how much is the blue one", "what game is this",
             "hah", "kk", "ja", "the bahamas", "hehexd?", "rs 500", "no", "yes", "yes please", "is it noon?",
             "holy water", "nowhere", "hola cuanto cuesta el azul", "boa", "oil", "salute", "chaos",
             "bonjour how much is shipping to france"],
}


@pytest.mark.parametrize("kind,text", [(kind, text) for kind, texts in CLASSIFIED.items() for text in texts])
def test_what_each_message_is_in_english_and_chinese_rooms(kind, text):
    """Votes carry no words: digits (but runs of 6, the Chinese "slick", and 2333/555/888 laughter,
    sobbing and cheers are reactions; 88 is a goodbye), the host's requested reply (扣1, +1). A
    number with more to it (520, 2024) is talk."""
    audience = Audience(HOP, ChatConfig())
    assert audience.classify(Message(t=0, user="u", name="u", text=text)) == kind


def test_a_texts_class_is_remembered_but_marked_emotes_still_make_a_reaction():
    from peakclip.detectors.chat.audience import SAID_CACHE

    audience = Audience(HOP, ChatConfig())
    said = lambda text, emotes=0: audience.classify(Message(t=0, user="u", name="u", text=text, emotes=emotes))  # noqa: E731
    assert [said("1"), said("1", emotes=1), said("1"), said("hi", emotes=1), said("!join", emotes=1)] == [
        "votes", "reactions", "votes", "greetings", "commands"]
    for i in range(SAID_CACHE + 10):
        said(f"message {i}")
    assert len(audience.said) <= SAID_CACHE and said("1") == "votes"


def test_a_vote_flood_does_not_outscore_a_real_reaction_and_is_counted():
    """The host's "想要的扣1": twice as many people typing 1, 11, 扣1 as react to a real moment;
    the votes are kept out of the signal and counted, as commands are."""
    reaction = [(50 + i * 0.3, f"fan{i}", text, "message") for i, text in enumerate(["哈哈哈", "666", "？？？", "卧槽"] * 5)]
    votes = [(150 + i * 0.1, f"viewer{i}", text, "message") for i, text in enumerate(["1", "11", "扣1", "1111", "+1"] * 8)]
    values = audience_series(reaction + votes)
    assert values[100:130].max() > 5 * max(values[295:340].max(), 0.1)
    audience = Audience(HOP, ChatConfig())
    for t, u, text, kind in votes:
        audience.add(Message(t=t, user=u, name=u, text=text, kind=kind))
    assert audience.counts["votes"] == 40 and not audience.last
    # drop_votes off: a vote is ordinary talk again
    assert audience_series(votes, drop_votes=False)[300:340].max() == pytest.approx(40.0)


def test_votes_are_reported_beside_commands_and_bots(tmp_path):
    body = "".join(f'<d p="{10 + i},1,25,16777215,1763900012,0,u{i:04x},{i}">{text}</d>'
                   for i, text in enumerate(["1", "扣1", "1111", "666", "!join", "来了", "哈哈哈"]))
    path = tmp_path / "danmaku.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?><i><chatserver>chat.bilibili.com</chatserver>{body}</i>',
                    encoding="utf-8")
    log = read_chat(str(path), ChatConfig(), HOP, 60.0)
    assert log.messages == 7 and log.summary()["dropped"] == {"commands": 1, "bots": 0, "votes": 3}
    assert log.users == 3   # 666, 来了 and 哈哈哈


def test_out_of_order_records_do_not_break_the_count():
    values = audience_series([(20, "a", "x", "message"), (10, "a", "y", "message"), (10, "b", "z", "message")])
    assert values.min() >= 0 and values.max() == pytest.approx(1.0) and values[20] == 1 and values[40] == 1


def test_a_growing_log_read_piece_by_piece_equals_reading_it_whole(tmp_path):
    """What a live watch does: read the lines added since the last look, a line cut in the middle
    of being written waits for the next look, and the result is the whole log's."""
    from peakclip.detectors.chat.log import ChatFollower

    rows = [json.dumps({"t": i * 0.7, "user": f"u{i % 13}", "text": "LUL" if i % 5 == 0 else "hi"}) for i in range(300)]
    rows[40] = '{"t": broken'
    text = "".join(r + "\n" for r in rows).encode()
    growing = tmp_path / "live.jsonl"
    follower = ChatFollower(str(growing), ChatConfig(), HOP)
    for cut in (1000, 1001, 5000, 9000, len(text) - 7, len(text)):   # mid-line cuts among them
        growing.write_bytes(text[:cut])
        log = follower.read(300 * 0.7)
    whole = read_chat(str(growing), ChatConfig(), HOP, 300 * 0.7)
    assert np.array_equal(log.series().values, whole.series().values)
    assert (log.messages, log.skipped) == (whole.messages, whole.skipped) == (299, 1)
    assert [s.line for s in log.skipped_lines] == [41]
    assert (follower.offset, follower.lines) == (len(text), 300)   # read a piece at a time, each byte once
