"""How far comparing stored vectors in-process (workers/semantic.py) goes: the cost of one
request's comparison at 10k, 100k and 1M vectors of 1536 dimensions (text-embedding-3-small).

For each size: the matrix's memory; stacking it from the stored float32 bytes and normalising
(what `integrations.store.embeddings.scope_vectors` does on every request); the cosine of one
question with every row and the best 20 (`similarities`, `fuse`). With `--database URL`, also
the read of 10,000 vectors of one scope through `scope_vectors` (SQLAlchemy, the real query).

    python bench/embedding_scale.py [--sizes 10000,100000,1000000] [--database URL]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DIMS = 1536


def _best(seconds: list[float]) -> str:
    return f"{min(seconds) * 1000:.1f} ms"


def in_memory(size: int, rng: np.random.Generator) -> dict[str, str]:
    matrix = rng.standard_normal((size, DIMS), dtype=np.float32)
    blobs = [row.tobytes() for row in matrix[: min(size, 100_000)]]
    query = rng.standard_normal(DIMS, dtype=np.float32)
    query /= np.linalg.norm(query)
    stack = []
    for _ in range(3 if size <= 100_000 else 1):
        started = time.perf_counter()
        rows = np.vstack([np.frombuffer(b, dtype="<f4") for b in blobs])
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        stack.append((time.perf_counter() - started) * size / len(blobs))
    del blobs
    compare = []
    for _ in range(5):
        started = time.perf_counter()
        cosines = matrix @ query
        top = np.argpartition(-cosines, 20)[:20]
        top = top[np.argsort(-cosines[top])]
        compare.append(time.perf_counter() - started)
    return {
        "vectors": f"{size:,}",
        "matrix": f"{matrix.nbytes / 2**20:,.0f} MiB",
        "stack from bytes + normalise": _best(stack),
        "cosine + best 20": _best(compare),
    }


def from_database(url: str, size: int) -> str:
    """Seconds to read `size` vectors of one scope back through `scope_vectors`."""
    from sqlalchemy import insert, text

    from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
    from integrations.store.embeddings import pack, scope_vectors
    from integrations.store.search_index import ANSWERS
    from integrations.store.search_models import Embedding, SearchDocument

    upgrade(url)
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    rng = np.random.default_rng(1)
    with transaction(sessions) as session:
        for start in range(0, size, 2000):
            ids = range(start + 1, min(size, start + 2000) + 1)
            docs = [
                {"corpus": ANSWERS, "source_id": i, "scope": "account:bench", "request_id": i,
                 "length": 10, "digest": f"{i:040d}"}
                for i in ids
            ]  # fmt: skip
            session.execute(insert(SearchDocument), docs)
            vectors = [
                {"corpus": ANSWERS, "source_id": i, "model": "m", "digest": f"{i:040d}",
                 "vector": pack(rng.standard_normal(DIMS, dtype=np.float32))}
                for i in ids
            ]  # fmt: skip
            session.execute(insert(Embedding), vectors)
    if engine.dialect.name == "postgresql":  # as autovacuum would: without statistics the
        with engine.connect() as conn:  # planner nests loops over 10,000 x 10,000 rows (12 s)
            conn.execute(text("ANALYZE search_documents"))
            conn.execute(text("ANALYZE embeddings"))
            conn.commit()
    times = []
    for _ in range(3):
        with transaction(sessions) as session:
            started = time.perf_counter()
            found = scope_vectors(session, ANSWERS, "account:bench", "m")
            times.append(time.perf_counter() - started)
        assert len(found.ids) == size
    engine.dispose()
    return _best(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--database", default=None, help="an empty database to fill")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = [in_memory(int(size), rng) for size in args.sizes.split(",")]
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(row.values()) + " |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory of the run: {peak:.1f} GiB")
    if args.database:
        print(f"scope_vectors, 10,000 vectors of one scope: {from_database(args.database, 10_000)}")


if __name__ == "__main__":
    main()
