"""Function words beyond English in what expertise compares (SPEC §5.5 suggestions): Spanish,
Portuguese, French, German and Italian ones say nothing about a subject, so a question finds
who answered its subject; migration 0018 re-indexes older terms. Retrieval keeps them (its
rule of two shared terms counts on them: bench/RESULTS.md, session 12)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from integrations.store.models import Draft, Evidence
from integrations.store.search_index import ANSWERS, EXPERTISE
from integrations.store.search_models import SearchStats
from integrations.store.search_terms import stemmed, tokens
from tests.harness import SHARED, World
from tests.test_expertise import NOW, colleague, learn, open_request
from tests.test_search_cjk import answered, index_as_before_stamps, write_as_before
from tests.test_search_index import counts_agree, indexed
from workers.suggest import suggest_colleagues

SPANISH = "Exportar los datos de las facturas para nuestro equipo"


def compared(text: str) -> list[str]:
    return tokens(stemmed(text))


def test_function_words_of_five_languages_are_dropped_for_expertise() -> None:
    assert compared(SPANISH) == ["exportar", "dato", "factura", "equipo"]
    assert compared("Exportar os dados das faturas para a nossa equipe") == [
        "exportar", "dado", "fatura", "equipe"]  # fmt: skip
    assert compared("Exporter les données des factures pour notre équipe") == [
        "exporter", "donné", "factur", "équipe"]  # fmt: skip
    assert compared("Die Daten der Rechnungen für unser Team exportieren") == [
        "daten", "rechnungen", "exportieren"]  # fmt: skip
    assert compared("Esportare i dati delle fatture per il nostro team") == [
        "esportare", "dati", "fatture"]  # fmt: skip
    assert "los" in tokens(SPANISH)  # retrieval's terms keep them


def test_a_spanish_suggestion_names_the_subject_not_its_grammar(world: World) -> None:
    lucia = colleague(world, "U0LUCIA")
    learn(world.deps, lucia, "¿Cómo exportamos las facturas de este mes?", times=3, channel=SHARED)
    learn(world.deps, lucia, "Que los usuarios no pueden entrar para nada", times=3, channel=SHARED)
    request_id = open_request(world.deps, text="No podemos exportar las facturas para el cierre")
    [person] = suggest_colleagues(world.deps, request_id=request_id, now=NOW).people
    assert person.reason.startswith("answered 3 similar questions about facturas"), person.reason


def test_migration_0018_reindexes_what_older_code_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0017")
    engine = create_db_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)  # indexed below, as before 0019
    with transaction(sessions) as session:
        session.add(answered(1, "account:001A", SPANISH, "Informes > Exportar."))
        session.add(Evidence(source_key="history:1", user_id="U0LUCIA", kind="history",
                             question=SPANISH, answer="Informes > Exportar."))  # fmt: skip
    with transaction(sessions) as session:
        index_as_before_stamps(session)
    old = [w for w in re.findall(r"\w+", SPANISH.lower()) if len(w) > 1]  # before 0018
    with transaction(sessions) as session:
        draft_id = session.scalars(select(Draft.id)).one()
        evidence_id = session.scalars(select(Evidence.id)).one()
        write_as_before(session, ANSWERS, draft_id, old)
        write_as_before(session, EXPERTISE, evidence_id, old)
        assert "los" in indexed(session, EXPERTISE)[evidence_id]
        counts_agree(session)
    engine.dispose()

    upgrade(url)
    engine = create_db_engine(url)
    with transaction(session_factory(engine)) as session:
        assert indexed(session, ANSWERS)[draft_id] == set(tokens(SPANISH))  # as it was
        assert indexed(session, EXPERTISE)[evidence_id] == set(
            tokens(stemmed(f"{SPANISH}\nInformes > Exportar."))
        )
        counts_agree(session)
        stamps = session.scalars(select(SearchStats.stamp)).all()
        assert stamps and None not in stamps  # 0019: every scope stamped (vector_cache.py)
    engine.dispose()
