"""Summarise a py-spy profile of the award server (folded stacks, `py-spy record --format raw`).

    .venv/bin/python bench/profile_report.py bench/out/<run>/award-1-profile.folded [--top 25]

Prints, as shares of all on-CPU samples:
- an exclusive breakdown by phase of the request (each sample counted once),
- inclusive time of the award path's steps (a sample counts for every step on its stack),
- self time by library (the innermost frame's package: asyncpg, tortoise, pydantic, …),
- the hottest functions by self time.
`bench/award` writes the folded file when run with BENCH_PROFILE=SECONDS (py-spy installed).
"""

from __future__ import annotations

import argparse
import re
import signal
from collections import Counter
from pathlib import Path

# Steps of the request, matched against "function (file:line)" frames; inclusive.
STEPS: list[tuple[str, str]] = [
    ("HTTP server: uvicorn protocol (parse, ASGI glue)", r"uvicorn/protocols/"),
    ("Starlette app + middleware stack (everything below it)", r"starlette/applications\.py"),
    ("ApiKeyAuthMiddleware (whole, incl. the app it wraps)", r"ApiKeyAuthMiddleware\.__call__"),
    ("  authenticate(): API-key lookup query + checks", r"^authenticate \(loyalty/api_keys"),
    ("  touch_api_key (last_used_at update)", r"touch_api_key"),
    ("award_earning_rule handler (whole)", r"^award_earning_rule "),
    ("  read_json_object (body read + json.loads)", r"^read_json_object "),
    ("  parse_body (pydantic validation)", r"^parse_body "),
    ("  award_rule (domain call, whole)", r"^award_rule "),
    ("    the award SQL round trip (sql.fetch_all)", r"^fetch_all \(loyalty/sql"),
    (
        "    parse_customer_identifier / ids / utcnow",
        r"parse_customer_identifier|new_public_id|^utcnow ",
    ),
    ("  earning_history_entry serializer", r"serializers"),
    ("  document_response (json.dumps + Response)", r"^document_response "),
    ("outbox dispatcher (notify/flush/enqueue)", r"loyalty/outbox/"),
    ("arq / redis client", r"/arq/|/redis/"),
    ("Tortoise client wrappers (any query)", r"tortoise/backends/"),
    ("asyncpg (Python-level frames)", r"asyncpg/"),
    ("aiosqlite / sqlite3", r"aiosqlite/|sqlite3"),
    ("logging", r"logging/"),
    ("ClientDisconnect error handling", r"web/errors\.py"),
    ("asyncio / event loop internals", r"asyncio/"),
]

# Where each sample goes, exclusively: the first phase, in this order, with a matching frame
# anywhere on the stack, or (LEAF:) in the innermost frame only — the framework phases count
# only their own code, not the application code they call.
PHASES: list[tuple[str, str]] = [
    (
        "asyncpg pool release: reset query round trip",
        r"^Connection\.reset |^PoolConnectionHolder\.release|^Pool\.release",
    ),
    (
        "pool acquire (asyncpg + Tortoise wrapper)",
        r"^Pool\.acquire|_acquire_impl|^PoolConnectionHolder\.acquire|^PoolConnectionWrapper\.__aenter__",
    ),
    ("API-key auth query + checks (authenticate)", r"^authenticate \(loyalty/api_keys"),
    ("last_used_at touch", r"^touch_api_key "),
    ("award statement via loyalty.sql (execute, decode rows)", r"^fetch_all \(loyalty/sql"),
    ("SQLite award transaction (_award_sqlite, rest)", r"^_award_sqlite "),
    ("body: read + json.loads (read_json_object)", r"^read_json_object "),
    ("body: pydantic validation (parse_body)", r"^parse_body "),
    ("response: serializer (isoformat_z, dict)", r"serializers"),
    ("response: json.dumps + Response (document_response)", r"^document_response "),
    ("award_rule rest: ids, utcnow, identifier, dataclasses", r"^award_rule |^_award_postgres "),
    ("outbox dispatcher / in-process jobs", r"loyalty/outbox/|loyalty/sync/"),
    (
        "DB driver execute, caller frames lost by the sampler",
        r"^Connection\.|^AsyncpgDBClient|^translate_exceptions|^SqliteClient",
    ),
    ("aiosqlite worker thread (sqlite3 C code)", r"_connection_worker_thread"),
    (
        "response write to the socket (uvicorn RequestResponseCycle.send)",
        r"^RequestResponseCycle\.send ",
    ),
    ("handler rest (award_earning_rule)", r"^award_earning_rule "),
    (
        "event loop with no Python frame (uvloop, httptools/asyncpg C)",
        r"LEAF:^(Runner\.run|asyncio_run|Server\.run|run) ",
    ),
    ("ApiKeyAuthMiddleware own code (headers, state)", r"LEAF:web/auth/api_key\.py"),
    ("Starlette own code (routing, middleware, request/response)", r"LEAF:starlette/"),
    ("uvicorn own code (httptools callbacks, ASGI glue)", r"LEAF:uvicorn/"),
    ("asyncio tasks/futures (Python part)", r"LEAF:asyncio/"),
]

LIBRARIES: list[tuple[str, str]] = [
    ("asyncpg", r"asyncpg/"),
    ("tortoise", r"tortoise/"),
    ("pypika", r"pypika"),
    ("pydantic", r"pydantic"),
    ("starlette", r"starlette/"),
    ("uvicorn", r"uvicorn/"),
    ("aiosqlite", r"aiosqlite/"),
    ("sqlite3", r"sqlite3/"),
    ("arq/redis", r"/arq/|/redis/"),
    ("json (stdlib)", r"json/"),
    ("logging (stdlib)", r"logging/"),
    ("asyncio (stdlib)", r"asyncio/"),
    ("threading/concurrent (stdlib)", r"threading\.py|concurrent/"),
    ("datetime/decimal/uuid/secrets", r"datetime|decimal|uuid|secrets|hashlib"),
    ("app: web/", r"\(web/"),
    ("app: loyalty/", r"\(loyalty/"),
    ("uvloop (native)", r"uvloop"),
    ("httptools (native)", r"httptools"),
    ("libpython / other native", r"\.so|libpython|python3\.\d+\)"),
]


def load(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            frames = frames[1:]
        samples.append((frames, int(count)))
    return samples


def main() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` is fine
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folded", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    samples = load(args.folded)
    total = sum(count for _, count in samples)
    if not total:
        raise SystemExit("no samples")
    print(f"{args.folded}: {total} samples")

    print("\nExclusive share of on-CPU samples, by phase (first match in the order listed):")
    phases: Counter[str] = Counter()
    compiled = [
        (label, re.compile(pattern.removeprefix("LEAF:")), pattern.startswith("LEAF:"))
        for label, pattern in PHASES
    ]
    for frames, count in samples:
        for label, regex, leaf_only in compiled:
            if any(regex.search(f) for f in (frames[-1:] if leaf_only else frames)):
                phases[label] += count
                break
        else:
            phases["other"] += count
    for label, _ in [*PHASES, ("other", "")]:
        if phases[label]:
            print(f"  {phases[label] / total * 100:5.1f}%  {label}")

    print("\nInclusive share of on-CPU samples, by step:")
    for label, pattern in STEPS:
        regex = re.compile(pattern)
        hit = sum(count for frames, count in samples if any(regex.search(f) for f in frames))
        print(f"  {hit / total * 100:5.1f}%  {label}")

    print("\nSelf time by library (innermost frame):")
    libraries: Counter[str] = Counter()
    for frames, count in samples:
        leaf = frames[-1] if frames else "(no Python frame)"
        for name, pattern in LIBRARIES:
            if re.search(pattern, leaf):
                libraries[name] += count
                break
        else:
            libraries["other: " + re.sub(r" \(.*", "", leaf)[:40]] += count
    for name, count in libraries.most_common(args.top):
        print(f"  {count / total * 100:5.1f}%  {name}")

    print(f"\nTop {args.top} functions by self time:")
    leaves: Counter[str] = Counter()
    for frames, count in samples:
        leaves[re.sub(r":\d+\)$", ")", frames[-1]) if frames else "(none)"] += count
    for frame, count in leaves.most_common(args.top):
        print(f"  {count / total * 100:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
