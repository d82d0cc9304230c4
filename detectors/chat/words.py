"""What chat messages say, one table per concept, English and Chinese side by side (and other
rooms' laughter, hellos and goodbyes beside them).

The audience signal (``audience``) sorts every chat message into talk, a reaction, a greeting
or goodbye, or a vote; the tables here are what it recognises, and ``DEFAULT_REACTIONS``,
``DEFAULT_GREETINGS`` and ``DEFAULT_VOTES`` the regular expressions built from them (the
defaults of ``chat.reactions``, ``chat.greetings`` and ``chat.votes``). Each is matched
case-insensitively against the message after ``fold``: Unicode NFKC, so the fullwidth
characters Chinese input methods type (``？？？``, ``！！！``, ``１１１``, ``ｗｗｗ``) read as
their ASCII forms.

The order the audience checks them in is part of the meaning: a greeting or goodbye (the whole
message) first, then a reaction (anywhere in it), then a vote (the whole message). So ``88``
(goodbye) and ``666`` (a reaction) are never votes, and a vote rule needs no exceptions.
"""
from __future__ import annotations

import unicodedata

# ---- reactions: anywhere in a message ---------------------------------------------------------

REACTIONS = {
    # Whole Latin tokens: English chat (stretched ones too: noooo, yesss, no wayyy), laughter as
    # Latin-script rooms type it (haha, hehe; Spanish jaja, jeje; Brazilian kkkk, rsrs; French
    # mdr), and the pinyin shorthands of Chinese rooms (awsl "I'm dead (of cuteness)", xswl
    # "laughing to death", yyds "the greatest", tql "too strong", nb "awesome", woc "whoa", hhh
    # laughter).
    "tokens": ("lul", "lol", r"lmf?ao+", "rofl", "kekw", "omegalul", r"pog\w*", r"omf?g+", "wtf+", "wow", "hype",
               r"clip\s*(?:it|that)", r"no+\s*wa+y+", r"holy\s+(?:shit|cow|moly|crap)", "no{3,}", r"ye{2,}s+|yes{3,}",
               "gg", "xd+",
               r"a?(?:ha){2,}h?", r"(?:he){2,}h?", r"(?:ja){2,}j?", r"(?:je){2,}", "k{3,}", r"(?:rs){2,}", "mdr",
               "awsl", "xswl", "yyds", "tql", "nb", "woc", "h{3,}"),
    # Anywhere: laughter (哈哈, 233333, 555 also Thai laughter), awe and shock (666, 牛, 卧槽, 绝了,
    # 离谱, 好家伙, 高能), tears (泪目, 哭了, 555 sobbing, 呜呜), screams (啊啊啊), www, !!!, ???,
    # emoji and Bilibili's bracketed emotes ([doge], [笑哭]).
    "anywhere": (
        "666+", r"^\s*6{1,2}\s*$",               # 6 is "slick" in Chinese chat: a run of sixes is never a vote
        "888+", r"(?<!\d)5{3,}", r"(?<!\d)23{3,}",
        "哈{2,}", "[呵嘿嘻]{3,}", r"草+(?!\w)", "卧槽", "我靠", r"牛(?:[逼批b啊哇牛了]|(?!\w))",
        "绝了", "笑死", "离谱", "好家伙", "妙啊", "太强", "高能", "名场面", "爷青回",
        "泪目", "破防", "哭了", "感动", "呜{2,}", "啊{3,}",
        "w{3,}", "!{3,}", r"\?{3,}", "[\u110f\u1112]{2,}",   # ㅋㅋㅋ, ㅎㅎ: Korean laughter (as fold makes them)
        r"[\U0001F300-\U0001FAFF❤♥]", r"\[[^\W\d]\w{0,11}\]",
    ),
}

# ---- greetings and goodbyes: the whole message -----------------------------------------------

# People arriving. "X好" (主播好, 大家好, 各位好) is made from ``ADDRESSES``.
GREETINGS = {
    "en": ("hi+", "hey+", "hello+", "hiya", "yo+", "sup", "howdy", r"good\s+(?:morning|afternoon|evening)", "gm",
           r"welcome(?:\s+back)?"),
    "zh": ("你好", "您好", "[早晚]上好", "[中下]午好", "早安", "早", "哈喽", "嗨", "来了", "签到", "打卡", "报[到道]"),
    # Other rooms' hellos, read as the English ones are (a word or two may follow): Spanish,
    # Portuguese, French, German, Italian, Japanese, Korean.
    "other": ("hola", r"buen[oa]s", "oi+", "ol[aá]", r"bo[am]\s+(?:dia|tarde|noite)", "bonjour", "bonsoir", "salut",
              "hallo", "servus", "moin", "ciao", "こんにちは", "こんばんは", "おはよう", "안녕", "안녕하세요"),
}
# People leaving. "88" is "bye bye" (bā bā) in Chinese; "886" "bye bye, off I go".
GOODBYES = {
    "en": (r"bye+(?:\s*bye+)?", "cya", r"see\s+(?:you|ya)", "later", "night", r"good\s+night", "gn",
           r"gg+(?:s|\s*wp)?", "o7"),
    "zh": ("晚安", "拜拜", "拜", "再见", "下播", "88", "886", "[明下]天见", "下次见", "溜了", "撤了", "告辞", "辛苦了"),
    "other": (r"adi[oó]s", "cha[ou]", "tchau", r"hasta\s+(?:luego|mañana|pronto)", r"au\s+revoir", r"bonne\s+nuit",
              "tsch[üu]ss", r"gute\s+nacht", "おやすみ", "またね", r"잘\s*자", r"안녕히\s*(?:가세요|계세요)"),
}
# Whom a Chinese hello or goodbye is said to, before or after it ("主播晚上好", "晚安大家"); "我"
# may open one too ("我来了").
ADDRESSES = ("主播", "大家", "各位", "家人们", "宝宝们", "兄弟们", "姐妹们", "老铁们", "朋友们", "up主", "老师", "你们?", "您")
# Particles a Chinese hello or goodbye may end in ("来了来了啊", "晚安呀").
PARTICLES = ("啊", "呀", "哦", "噢", "了", "哟", "吖", "鸭", "啦")

# ---- votes: the whole message -----------------------------------------------------------------

# The host's requested reply: "想要的扣1" (type 1 if you want it), "打2", "刷1", "选A", "投1", "+1".
REPLY_VERBS = "扣打刷选投+"
# A number a vote may be: one or two digits, or one digit typed over and over (111, 2222).
VOTE_NUMBER = r"(?:\d\d?|" + "|".join(f"{digit}+" for digit in "0123456789") + ")"
# A poll's letter option, alone (A, b); after a reply verb any letter is one (扣A).
VOTE_LETTERS = "a-d"


def _any(pieces) -> str:
    return "(?:" + "|".join(pieces) + ")"


def _latin(pieces) -> str:
    """Whole Latin tokens: not inside a longer run of letters or digits, whatever script is
    around them ("lol哈哈" holds "lol"; ``\\b`` would not see it, CJK being word characters)."""
    return r"(?<![a-z0-9_])" + _any(pieces) + r"(?![a-z0-9_])"


DEFAULT_REACTIONS = _latin(REACTIONS["tokens"]) + "|" + "|".join(REACTIONS["anywhere"])

_ADDRESS = _any(ADDRESSES)
_ZH_SAYING = _any((*GREETINGS["zh"], *GOODBYES["zh"], _ADDRESS + "好"))
# A whole message that only greets or takes leave: an English one (or another room's: "hola a
# todos") with at most a word or two more ("hi all", "hello from Berlin", "bye everyone"); a
# Chinese one with whom it is said to and particles around it, or said twice ("主播晚上好呀",
# "来了来了", "我来了", "晚安大家").
DEFAULT_GREETINGS = (
    rf"^\W*(?:{_any((*GREETINGS['en'], *GOODBYES['en'], *GREETINGS['other'], *GOODBYES['other']))}"
    rf"(?:\s+(?:from\s+)?[\w']+){{0,2}}"
    rf"|(?:(?:{_ADDRESS}|我)\W*)*{_ZH_SAYING}(?:\W*(?:{_ZH_SAYING}|{_ADDRESS}|{_any(PARTICLES)}))*)\W*$"
)

_REPLY = rf"[{REPLY_VERBS}]\s*(?:{VOTE_NUMBER}|[a-z])"
_VOTE = rf"(?:{_REPLY}|{VOTE_NUMBER}|[{VOTE_LETTERS}])"
# A whole message that carries no words, only a choice or a count: a vote number or letter, the
# host's requested reply, several of them (``扣1扣1``, ``1 1 1``), or a run of + or dots.
DEFAULT_VOTES = rf"^\s*{_VOTE}(?:\s*{_REPLY}|\s+{_VOTE})*\s*$|^\s*(?:\++|\.+|。+)\s*$"


def fold(text: str) -> str:
    """The text the tables are matched against: NFKC (fullwidth ？！１ｗ as ?!1w); ASCII as is."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)
