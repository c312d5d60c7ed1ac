"""Canonical table schemas: column names, Japanese header aliases and pandera models.

Every other module refers to columns through these models (``Cards.card_id`` is the string
``"card_id"``), so a column is spelled once.  The validated frames hold strings for text and ids
and plain ``int`` for counts.
"""

from __future__ import annotations

from pipeline._pandera import Series, pa

PUBLIC_COMMENT = "パブリックコメント"
FEEDBACK_KINDS: tuple[str, ...] = ("感想", "重要な理由", "追加すべき視点", "質問", "その他", PUBLIC_COMMENT)
"""The known comment kinds (DESIGN.md contract, plus public comments on a plan draft), in report order.  A kind
outside this list (困りごと, 要望 …) is kept as written."""
WORKSHOP_KINDS: tuple[str, ...] = FEEDBACK_KINDS[:5]
"""The kinds of a workshop's feedback sheet (always listed in the comment counts, 0 included)."""

KIND_ALIASES: dict[str, str] = {
    "感想": "感想",
    "気づき": "感想",
    "感想・気づき": "感想",
    "重要な理由": "重要な理由",
    "理由": "重要な理由",
    "重要な事業だと考えた理由": "重要な理由",
    "追加すべき視点": "追加すべき視点",
    "視点": "追加すべき視点",
    "新たな視点": "追加すべき視点",
    "質問": "質問",
    "その他": "その他",
    "impression": "感想",
    "reason": "重要な理由",
    "perspective": "追加すべき視点",
    "question": "質問",
    "other": "その他",
    "パブリックコメント": PUBLIC_COMMENT,
    "パブリック・コメント": PUBLIC_COMMENT,
    "パブコメ": PUBLIC_COMMENT,
    "意見募集": PUBLIC_COMMENT,
    "public comment": PUBLIC_COMMENT,
    "public_comment": PUBLIC_COMMENT,
}
"""Spellings of a comment kind that transcribers use, mapped to the canonical kind."""

ID_SEPARATORS = r"[|、,，;；/／\s]+"
"""Separators accepted between several ids in one cell (``measure_ids``)."""


class Measures(pa.DataFrameModel):
    """The policy table (体系表): one row per draft measure (施策案)."""

    pillar_id: Series[str]
    pillar_name: Series[str]
    measure_id: Series[str] = pa.Field(unique=True)
    measure_name: Series[str]
    description: Series[str]
    keywords: Series[str]

    class Config:
        strict = True


class Cards(pa.DataFrameModel):
    """One programme/project (事業) card per row; ``measure_ids`` is ``|``-joined."""

    card_id: Series[str] = pa.Field(unique=True)
    department: Series[str]
    title: Series[str]
    body: Series[str]
    measure_ids: Series[str]
    group: Series[str]
    row: Series[int]

    class Config:
        strict = False


class Feedback(pa.DataFrameModel):
    """One comment per row.  ``section`` (該当箇所), ``reply`` (the city's answer, never analysed) and
    ``question`` (the survey column it answers) are "" when the input has none; attribute columns (年代, 地区
    …) follow under their own headers."""

    comment_id: Series[str] = pa.Field(unique=True)
    text: Series[str]
    kind: Series[str] = pa.Field(str_length={"min_value": 1})
    card_id: Series[str]
    group: Series[str]
    section: Series[str]
    reply: Series[str]
    question: Series[str]
    row: Series[int]

    class Config:
        strict = False


class Votes(pa.DataFrameModel):
    """Lego-block votes: ``blocks`` placed on ``card_id`` in ``round`` by ``voter``."""

    card_id: Series[str]
    round: Series[int] = pa.Field(ge=1)
    blocks: Series[int] = pa.Field(ge=0)
    voter: Series[str]
    group: Series[str]
    row: Series[int]

    class Config:
        strict = True


class Rejects(pa.DataFrameModel):
    """Every refused input row: file, 1-based spreadsheet row (header = 1), column and reason."""

    file: Series[str]
    row: Series[int]
    column: Series[str]
    reason: Series[str]
    value: Series[str]

    class Config:
        strict = True
        coerce = True


class Items(pa.DataFrameModel):
    """Cards and comments as one table of texts to analyse (after normalisation); then the comments'
    ``section``, ``reply`` and ``question`` ("" for cards) and the attribute columns of the inputs."""

    item_id: Series[str] = pa.Field(unique=True)
    source: Series[str] = pa.Field(isin=["card", "feedback"])
    kind: Series[str]
    group: Series[str]
    card_id: Series[str]
    raw_text: Series[str]
    text: Series[str]
    section: Series[str]
    reply: Series[str]
    question: Series[str]


class Tagged(pa.DataFrameModel):
    """The tagged items table: the contract columns of DESIGN.md, in this order."""

    item_id: Series[str] = pa.Field(unique=True)
    source: Series[str] = pa.Field(isin=["card", "feedback"])
    kind: Series[str]
    text: Series[str]
    themes: Series[str]
    measures: Series[str]
    cluster: Series[str]
    new_perspective: Series[int] = pa.Field(isin=[0, 1])

    class Config:
        strict = False


# ---------------------------------------------------------------------------------------------
# Output tables (pipeline.run.outputs names each table's schema; the writer validates before writing)
# ---------------------------------------------------------------------------------------------


class Evidence(pa.DataFrameModel):
    """Evidence: why an item has a theme (spans are ``start-end`` in the normalised text)."""

    item_id: Series[str]
    theme: Series[str]
    terms: Series[str]
    spans: Series[str]
    source: Series[str]
    score: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        coerce = True


class Coverage(pa.DataFrameModel):
    """Coverage: what supports each measure."""

    pillar_id: Series[str]
    measure_id: Series[str] = pa.Field(unique=True)
    measure_name: Series[str]
    cards: Series[int] = pa.Field(ge=0)
    card_ids: Series[str]
    comments: Series[int] = pa.Field(ge=0)
    comment_ids: Series[str]
    votes_round_1: Series[int] = pa.Field(ge=0)
    votes_round_2: Series[int] = pa.Field(ge=0)
    themes: Series[str]
    suggested_card_ids: Series[str]
    """Cards with no 施策ID whose content fits this measure (a suggestion, not a staff link)."""
    status: Series[str] = pa.Field(isin=["カード・コメントあり", "カードのみ", "コメントのみ", "紐づけ案のカードのみ",
                                         "裏付けなし"])

    class Config:
        strict = True


class SuggestedLink(pa.DataFrameModel):
    """Suggested link: a card whose content fits another measure better than the declared one."""

    card_id: Series[str]
    title: Series[str]
    declared: Series[str]
    declared_score: Series[float]
    suggested: Series[str]
    suggested_name: Series[str]
    score: Series[float]
    evidence: Series[str]

    class Config:
        strict = True
        coerce = True


class Cluster(pa.DataFrameModel):
    """Clusters: one row per cluster (``K…`` of all items, ``U…`` of the unexplained ones)."""

    scope: Series[str] = pa.Field(isin=["all", "unexplained"])
    cluster: Series[str]
    size: Series[int] = pa.Field(ge=1)
    label: Series[str]
    top_terms: Series[str]
    representative_id: Series[str]
    representative_text: Series[str]
    item_ids: Series[str]

    class Config:
        strict = True
        coerce = True


class NetworkNode(pa.DataFrameModel):
    term: Series[str]
    items: Series[int] = pa.Field(ge=0)
    community: Series[int] = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = True


class NetworkEdge(pa.DataFrameModel):
    term_1: Series[str]
    term_2: Series[str]
    jaccard: Series[float] = pa.Field(ge=0, le=1)
    cooccurrences: Series[int] = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = True


class Perspective(pa.DataFrameModel):
    """A suggested new perspective (新たな視点(案)): one topic, its comments, how it was labelled."""

    perspective_id: Series[str] = pa.Field(unique=True, str_matches=r"^V\d{2,}$")
    label: Series[str] = pa.Field(str_length={"min_value": 1})
    theme_label: Series[str]
    pillar_id: Series[str]
    support: Series[int] = pa.Field(ge=1)
    item_ids: Series[str]
    best_measure_id: Series[str]
    best_measure_score: Series[float]
    status: Series[str] = pa.Field(isin=["new", "recurring", "accepted"])
    recurring_in: Series[str]
    main_theme: Series[str]
    seed: Series[str]
    label_source: Series[str]
    phrase_share: Series[float] = pa.Field(ge=0, le=1)
    cohesion: Series[float] = pa.Field(ge=0, le=1.0001)
    representative_id: Series[str]
    representative_text: Series[str]
    comments: Series[int] = pa.Field(ge=0)
    cards: Series[int] = pa.Field(ge=0)
    groups: Series[int] = pa.Field(ge=0)
    votes: Series[int] = pa.Field(ge=0)
    quotes: Series[str]

    class Config:
        strict = True
        coerce = True


class PerspectiveDecision(pa.DataFrameModel):
    """How one card or comment counts for the perspectives."""

    item_id: Series[str] = pa.Field(unique=True)
    decision: Series[str] = pa.Field(isin=["計画書の記述", "空の回答", "担当課が紐づけ", "施策案にない分野", "追加すべき視点",
                                           "テーマでカバー", "文言でカバー", "説明なし"])
    theme: Series[str]
    perspective_id: Series[str]
    best_measure_id: Series[str]
    best_measure_score: Series[float]
    threshold: Series[float]

    class Config:
        strict = True
        coerce = True


def columns(model: type[pa.DataFrameModel]) -> list[str]:
    """The column names of a schema, in order."""
    return list(model.to_schema().columns)


TAGGED_COLUMNS: list[str] = columns(Tagged)
REJECT_COLUMNS: list[str] = columns(Rejects)

# Header aliases per input kind.  Keys are canonical columns; values are the headers (after NFKC,
# trimming and lower-casing) that transcribers use for them.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "feedback": {
        Feedback.comment_id: ("comment_id", "id", "番号", "no", "no.", "意見id", "コメントid"),
        Feedback.text: ("text", "意見", "内容", "コメント", "意見内容", "本文"),
        Feedback.kind: ("kind", "種別", "区分", "分類"),
        Feedback.card_id: ("card_id", "カードid", "カード", "カード番号"),
        Feedback.group: ("group", "グループ", "班", "テーブル"),
    },
    "cards": {
        Cards.card_id: ("card_id", "id", "カードid", "カード番号", "番号"),
        Cards.department: ("department", "部署", "担当課", "所属", "課名"),
        Cards.title: ("title", "事業名", "タイトル", "事業"),
        Cards.body: ("body", "内容", "事業内容", "概要"),
        Cards.measure_ids: ("measure_ids", "measure_id", "施策id", "施策", "施策案id"),
        Cards.group: ("group", "グループ", "班", "テーブル"),
    },
    "votes": {
        Votes.card_id: ("card_id", "カードid", "カード", "カード番号"),
        Votes.round: ("round", "回", "投票回", "ラウンド"),
        Votes.blocks: ("blocks", "票数", "ブロック数", "ブロック"),
        Votes.voter: ("voter", "投票者", "参加者"),
        Votes.group: ("group", "グループ", "班", "テーブル"),
    },
    "measures": {
        Measures.pillar_id: ("pillar_id", "柱id", "柱", "基本方針id"),
        Measures.pillar_name: ("pillar_name", "基本方針", "柱名"),
        Measures.measure_id: ("measure_id", "施策id", "施策案id"),
        Measures.measure_name: ("measure_name", "施策案", "施策名", "施策"),
        Measures.description: ("description", "説明", "内容"),
        Measures.keywords: ("keywords", "キーワード"),
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "feedback": (Feedback.text,),
    "cards": (Cards.card_id,),
    "votes": (Votes.card_id, Votes.round),
    "measures": (Measures.pillar_id, Measures.measure_id, Measures.measure_name),
}

LABELS: dict[str, str] = {
    "card_id": "カードID", "title": "事業名", "department": "部署", "measure_ids": "施策ID",
    "total": "合計", "shift": "増減(票)", "share_shift": "増減(ポイント)",
    "pillar_id": "柱", "pillar_name": "基本方針", "measure_id": "施策ID", "measure_name": "施策案",
    "cards": "カード数", "card_ids": "カード", "kind": "種別", "comments": "コメント数",
    "rank": "順位", "term": "語", "items": "出現件数", "file": "ファイル", "row": "行", "column": "列",
    "reason": "理由", "value": "値", "item_id": "ID", "text": "本文", "source": "出典",
    "rows_in": "入力行", "rows_ok": "取込行", "rows_rejected": "除外行", "encoding": "文字コード",
    "blank_rows_skipped": "空行", "theme": "テーマ", "themes": "テーマ", "measures": "施策案",
    "definition": "定義", "comment_ids": "コメント", "votes_round_1": "票(1回目)", "votes_round_2": "票(2回目)",
    "status": "状態", "declared": "現在の紐づけ", "declared_score": "現在の一致度", "suggested": "提案",
    "suggested_name": "提案先の施策案", "score": "一致度", "evidence": "根拠", "best_measure": "最も近い施策案",
    "best_score": "一致度", "カード": "カード",
    "perspective_id": "ID", "label": "ラベル", "support": "支持(件数)", "item_ids": "根拠ID", "best_measure_id": "最も近い施策案",
    "best_measure_score": "一致度", "recurring_in": "以前の会議", "main_theme": "テーマ", "seed": "きっかけ",
    "groups": "グループ数", "votes": "票", "cluster": "クラスタ", "size": "件数", "top_terms": "特徴語",
    "representative_id": "代表ID", "representative_text": "代表的な原文", "term_1": "語1", "term_2": "語2",
    "jaccard": "共起の強さ",
    "cooccurrences": "共起件数", "change": "変更", "section": "該当箇所", "reply": "市の考え方", "question": "設問",
    "attribute": "属性", "theme_label": "抜けている視点（テーマ）", "cohesion": "まとまり(0〜1)", "group": "班",
    "label_source": "ラベルの取り方", "phrase_share": "語句を含む割合", "decision": "判定", "threshold": "しきい値",
    "suggested_card_ids": "紐づけ案のカード", "notice": "内容", "description": "説明", "keywords": "キーワード",
    "perspective": "視点", "meeting_id": "会議", "word": "見出し語", "left": "左の文脈", "right": "右の文脈",
    "comment_id": "ID", "body": "内容", "round": "回", "blocks": "票数", "voter": "投票者",
}
"""The project's one table of Japanese column labels: report and workbook headers, and the label beside a column's
name in messages (「必須の列 text（本文）がありません」, ``kyosei validate``'s column mapping)."""

VALUES: dict[str, dict[str, str]] = {
    "source": {"card": "カード", "feedback": "コメント"},
    "status": {"new": "新規", "recurring": "以前にも", "accepted": "採用"},
    "kind": {"measures": "施策一覧", "cards": "カード", "feedback": "コメント", "votes": "投票"},
}
"""Values the analysis stores in English, as the report shows them (CSV files keep the stored values)."""


def label_for(column: str) -> str:
    """Japanese header for a column (``round_2`` → ``2回目``, ``share_1`` → ``1回目(%)``)."""
    if column.startswith("round_"):
        return f"{column[6:]}回目"
    if column.startswith("share_") and column != "share_shift":
        return f"{column[6:]}回目(%)"
    return LABELS.get(column, column)
