"""Chinese and Japanese in the history search (SPEC §5.4 retrieval, §5.5 suggestions): they
are written without spaces, so the search reads them as two-character pieces, for what is
indexed and what is asked alike; migration 0016 re-indexes what older code wrote."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from integrations.store.models import (
    Draft,
    DraftStatus,
    Evidence,
    Request,
    RequestMessage,
    RequestState,
)
from integrations.store.search_index import ANSWERS, EXPERTISE, reindex
from integrations.store.search_models import Embedding, SearchDocument, SearchPosting, SearchStats
from integrations.store.search_terms import stemmed, tokens
from tests.harness import CUSTOMER, ORG, SHARED, World
from tests.test_feedback import answer
from tests.test_search_index import counts_agree, indexed
from tests.test_suggest import people_blocks
from workers.backfill import backfill
from workers.retrieval import Scope, retrieve

EXPERT = "U0MEI"
ASKED = "导出报表一直失败，提示超时，怎么处理？"
REWORDED = "我们的报表导出失败了，总是超时"


def test_chinese_and_japanese_are_read_as_two_character_pieces() -> None:
    assert tokens("导出失败") == ["导出", "出失", "失败"]
    assert tokens("SSO登录失败") == ["sso", "登录", "录失", "失败"]
    assert tokens("签名密钥 webhook") == ["签名", "名密", "密钥", "webhook"]
    # Japanese: hiragana (endings, particles) separate as spaces do
    assert tokens("請求書をコピー") == ["請求", "求書", "コピ", "ピー"]
    # English as before, and stop words go before stemming ("this" is not "thi")
    assert tokens("How do we rotate the webhook secret?") == ["rotate", "webhook", "secret"]
    assert tokens(stemmed("Does this fail? These exports")) == ["fail", "export"]


def test_a_chinese_question_finds_a_chinese_answer_by_its_words(world: World) -> None:
    answer(world, ASKED, "请在“报表 → 导出”里选择较小的日期范围，或改用异步导出。")
    world.customer_says(REWORDED)
    world.initech_says(REWORDED)  # another account: nothing of the first may be found
    world.drain()
    with transaction(world.deps.sessions) as session:
        answered, ours, theirs = session.scalars(select(Request).order_by(Request.id)).all()
        for request, expected in ((ours, [answered.id]), (theirs, [])):
            grounding = retrieve(
                session,
                Scope(str(request.account_key)),
                request.text,
                exclude_request=request.id,
                knowledge_dir=None,
                examples=3,
            )
            assert [e.request_id for e in grounding.examples] == expected
        assert ours.account_key == answered.account_key != theirs.account_key


def teach_in_chinese(world: World) -> None:
    """Mei answered three Chinese questions about report exports last month; backfill it."""
    world.emu.add_user(EXPERT, team_id=ORG, name="mei", real_name="Mei", tz="Asia/Shanghai")
    start = datetime.now(UTC) - timedelta(days=30)
    for i, question in enumerate(
        [ASKED, "报表导出到 Excel 时超时失败", "大报表导出总是超时，有什么办法？"]
    ):
        at = (start + timedelta(days=i)).timestamp()
        parent = world.emu.post_as_user(SHARED, CUSTOMER, question, ts=f"{at:.6f}")
        world.emu.post_as_user(
            SHARED,
            EXPERT,
            "缩小日期范围，或者用异步导出，完成后会发邮件给你们。",
            thread_ts=parent["ts"],
            ts=f"{at + 60:.6f}",
        )
    assert backfill(world.deps, days=45, channel=SHARED).learned == 3


def test_a_chinese_question_suggests_its_answerer(world: World) -> None:
    teach_in_chinese(world)
    world.customer_says(REWORDED)
    world.drain()
    [first, *_] = people_blocks(world.cards()[0])
    assert first["accessory"]["value"] == EXPERT
    assert re.match(rf"<@{EXPERT}> · answered [23] similar questions about ", first["text"]["text"])


def _old_terms(text: str) -> list[str]:
    """What the tokenizer before migration 0016 read: every `\\w+` run one word."""
    return [t for t in re.findall(r"\w+", text.lower()) if len(t) > 1]


def write_as_before(session: Session, corpus: str, source_id: int, words: list[str]) -> None:
    """Put one document back as older code indexed it (`words`, its tokenizer's terms): its
    postings, length and counts."""
    document = session.get_one(SearchDocument, (corpus, source_id))
    session.execute(
        update(SearchStats)
        .where(SearchStats.corpus == corpus, SearchStats.scope == document.scope)
        .values(length=SearchStats.length - document.length + len(words))
    )
    session.execute(
        delete(SearchPosting).where(
            SearchPosting.corpus == corpus, SearchPosting.source_id == source_id
        )
    )
    for word in set(words):
        session.add(
            SearchPosting(
                corpus=corpus,
                source_id=source_id,
                term=word,
                scope=document.scope,
                tf=words.count(word),
                length=len(words),
            )
        )
    document.length, document.digest = len(words), "0" * 40


def answered(n: int, account: str, question: str, reply: str) -> Request:
    ts = f"{1_700_000_000 + n}.000100"
    return Request(
        team_id="T0ORG",
        channel_id="C0SHARED",
        ts=ts,
        thread_ts=ts,
        user_id="U0CUSTOMER",
        account_key=account,
        state=RequestState.ANSWERED,
        messages=[RequestMessage(channel_id="C0SHARED", ts=ts, user_id="U0C", text=question)],
        drafts=[
            Draft(
                text=reply,
                source="offline",
                status=DraftStatus.APPROVED,
                posted_text=reply,
                posted_ts=f"{1_700_000_000 + n}.000200",
                details={},
            )
        ],
    )


def index_as_before_stamps(session: Session) -> None:
    """Index every answer and answered question as the code before migration 0019 did,
    without the scopes' stamps (their column is not there yet)."""
    drafts = session.scalars(select(Draft.id)).all()
    evidence = session.scalars(select(Evidence.id)).all()
    reindex(session.connection(), drafts=drafts, evidence=evidence, stamp=False)


def test_migration_0016_reindexes_what_older_code_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0015")
    engine = create_db_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)  # indexed below, as before 0017
    english = "How do we rotate the webhook signing secret?"
    with transaction(sessions) as session:
        session.add(answered(1, "account:001A", ASKED, "用异步导出。"))
        session.add(answered(2, "account:001A", english, "Settings > Webhooks > Rotate."))
        session.add(Evidence(source_key="history:1", user_id=EXPERT, kind="history",
                             question=ASKED, answer="用异步导出。"))  # fmt: skip
    with transaction(sessions) as session:
        index_as_before_stamps(session)
    with transaction(sessions) as session:
        chinese_draft, english_draft = session.scalars(select(Draft.id).order_by(Draft.id))
        evidence_id = session.scalars(select(Evidence.id)).one()
        english_digest = session.get_one(SearchDocument, (ANSWERS, english_draft)).digest
        write_as_before(session, ANSWERS, chinese_draft, _old_terms(ASKED))
        write_as_before(session, EXPERTISE, evidence_id, _old_terms(f"{ASKED}\n用异步导出。"))
        session.add(Embedding(corpus=ANSWERS, source_id=english_draft, model="m",
                              digest=english_digest, vector=b"\0" * 8))  # fmt: skip
    with transaction(sessions) as session:
        assert indexed(session, ANSWERS)[chinese_draft] == set(_old_terms(ASKED))
        counts_agree(session)
    engine.dispose()

    upgrade(url)
    engine = create_db_engine(url)
    with transaction(session_factory(engine)) as session:
        assert indexed(session, ANSWERS)[chinese_draft] == set(tokens(ASKED))
        assert indexed(session, EXPERTISE)[evidence_id] == set(
            tokens(stemmed(f"{ASKED}\n用异步导出。"))
        )
        counts_agree(session)
        # what the new terms read alike is not rewritten: its digest and its vector stay
        assert session.get_one(SearchDocument, (ANSWERS, english_draft)).digest == english_digest
        assert session.scalars(select(Embedding.source_id)).all() == [english_draft]
    engine.dispose()
