"""A worker forks (RQ's scheduler) while its job threads run the sentence encoder.

Seen in CI: after a Redis restart the worker forked a new scheduler while jobs were encoding,
and every job waiting on the encoder stalled until the test gave up. OpenBLAS's fork handler
stops its thread pool under a matrix product in flight; `one_math_thread` leaves it no pool.
"""

from __future__ import annotations

import textwrap

from tests.harness import python_script

SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    from integrations.local_embeddings import LocalEmbedder
    from workers.process import one_math_thread

    if sys.argv[1] == "configured":
        one_math_thread()  # as `run_worker` does before anything else
    encoder = LocalEmbedder()
    encoder.warm_up()
    done = [0]

    def encode(k):
        n = 0
        while True:
            n += 1  # a new text each time: the encoder's cache would answer a repeat
            encoder.embed([f"order {k}-{n} has not shipped, can you check the warehouse?"])
            done[0] += 1

    for k in range(4):
        threading.Thread(target=encode, args=(k,), daemon=True).start()
    for fork in range(10):
        time.sleep(0.05)
        child = os.fork()
        if child == 0:  # the scheduler's place: it does nothing here
            time.sleep(0.1)
            os._exit(0)
        os.waitpid(child, 0)
        before = done[0]
        deadline = time.monotonic() + 10
        while done[0] == before and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == before:
            print(f"stalled after fork {fork}", flush=True)
            os._exit(3)
    print(f"encoded {done[0]}", flush=True)
    os._exit(0)
    """
)


def test_encoding_goes_on_while_the_worker_forks() -> None:
    assert "encoded" in python_script(SCRIPT, "configured", timeout=240)
