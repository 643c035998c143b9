"""Python helpers for bench/award (the bash driver): databases, seeding, readiness, checks and
the summary. Run as `python bench/helpers.py COMMAND …`; every command prints to stdout what
the driver needs and exits non-zero on failure.

    createdb NAME / dropdb NAME        throwaway PostgreSQL databases (BENCH_PG_ADMIN_URL)
    checkpoint DSN                     CHECKPOINT before a measured run
    pg-statements reset|report DSN [OUT]  this database's pg_stat_statements (BENCH_PG_STATEMENTS)
    redis-flush URL                    empty the bench's own Redis database
    seed N                             shop, tiers, rule, N customers, API key → JSON on stdout
    baseline-table DSN                 (re)create the baseline app's table
    free-port                          an unused TCP port on 127.0.0.1
    wait-ready URL SECONDS [PID…]      poll URL until it answers 200 (fails if a PID dies)
    wrk-result FILE LABEL              next customer number; progress line on stderr
    proxy-paths FILE COUNT             COUNT signed app-proxy paths to /proxy/customer
    check LABEL WRK_JSON…              correctness of a run's database against wrk's counts
    cpu-snap FILE db=NAME ROLE=PID…    CPU ticks per part of the setup, for cpu-report
    cpu-report BEFORE AFTER WRK_S OUT  cores each part used between two snapshots
    record OUT_DIR KEY NAME=VALUE…     merge a run's figures into OUT_DIR/results.json
    log-errors LOG…                    server/worker log errors (ClientDisconnect aside)
    summary OUT_DIR                    render OUT_DIR/results.json as the printed summary
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHOP_DOMAIN = "bench.myshopify.com"
RULE_PUBLIC_ID = "rule_bench_social"
RULE_POINTS = 100
# Customer n (1…N) has Shopify id ID_BASE + n; the wrk script builds "8%012d".
ID_BASE = 8_000_000_000_000
TIERS = [  # (public_id, name, points_required, multiplier)
    ("tier_bench_bronze", "Bronze", 0, Decimal("1.00")),
    ("tier_bench_silver", "Silver", 500, Decimal("1.25")),
    ("tier_bench_gold", "Gold", 2000, Decimal("1.50")),
]
# Seeded state as a function of n, in SQL both dialects understand: the tier is n % 3 and the
# lifetime points sit inside that tier (about a fifth of bronze customers cross into silver
# with a 100-point award, so the tier-upgrade branch is exercised too).
SEED_TIER_INDEX_SQL = "(n % 3)"
SEED_LIFETIME_SQL = (
    "CASE n % 3 WHEN 0 THEN (n * 37) % 500 WHEN 1 THEN 500 + (n * 37) % 1500 "
    "ELSE 2000 + (n * 37) % 1000 END"
)


def admin_url() -> str:
    return os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/test")


# --------------------------------------------------------------------------------- databases


async def _admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url().replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"refusing database name {name!r}")
    return name


def cmd_createdb(name: str) -> None:
    asyncio.run(_admin(f"CREATE DATABASE {_ident(name)}"))


def cmd_dropdb(name: str) -> None:
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)"))


def cmd_checkpoint(dsn: str) -> None:
    """Flush dirty pages before a measured run, so no run pays for the previous one's writes."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    asyncio.run(run())


# Where PostgreSQL's time goes, per statement, for this database only (the server is shared):
# `reset` before a measured run, `report` after it. Needs pg_stat_statements in the server's
# shared_preload_libraries; the extension is created in the throwaway database.
_STATEMENTS_SQL = """
SELECT calls, rows, round((total_exec_time + total_plan_time)::numeric, 1) AS total_ms,
       round(total_plan_time::numeric, 1) AS plan_ms,
       shared_blks_hit + shared_blks_read + local_blks_hit AS blocks,
       regexp_replace(left(query, 200), '\\s+', ' ', 'g') AS query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time + total_plan_time DESC LIMIT 15
"""
_TABLES_SQL = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan, idx_scan
FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname
"""


def cmd_pg_statements(action: str, dsn: str, out: str = "") -> None:
    import asyncpg

    async def run() -> str:
        conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
        try:
            if action == "reset":
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                await conn.execute(
                    "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()), 0)"
                )
                await conn.execute("SELECT pg_stat_reset()")  # this database's table counters
                return ""
            rows = await conn.fetch(_STATEMENTS_SQL)
            tables = await conn.fetch(_TABLES_SQL)
        finally:
            await conn.close()
        total = sum(float(r["total_ms"]) for r in rows) or 1.0
        lines = ["  PostgreSQL time by statement (pg_stat_statements, this database):"]
        lines.append(f"  {'calls':>8} {'rows':>9} {'ms':>10} {'plan ms':>9} {'%':>5}  statement")
        for r in rows:
            lines.append(
                f"  {r['calls']:>8} {r['rows']:>9} {float(r['total_ms']):>10.1f} "
                f"{float(r['plan_ms']):>9.1f} {100 * float(r['total_ms']) / total:>5.1f}  "
                f"{r['query'][:110]}"
            )
        lines.append("  tables (inserts, updates of which HOT, deletes, seq/index scans):")
        for t in tables:
            lines.append(
                f"    {t['relname']:<24} ins {t['n_tup_ins']:>8} upd {t['n_tup_upd']:>8} "
                f"hot {t['n_tup_hot_upd']:>8} del {t['n_tup_del']:>8} "
                f"seq {t['seq_scan']:>6} idx {t['idx_scan']:>9}"
            )
        return "\n".join(lines)

    text = asyncio.run(run())
    if text:
        Path(out).write_text(text + "\n")
        print(text, file=sys.stderr)


def cmd_redis_flush(url: str) -> None:
    """Empty the bench's own Redis database (BENCH_REDIS_URL, db 13 by default)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.flushdb()
    client.close()


def cmd_baseline_table(dsn: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(
                """
                DROP TABLE IF EXISTS bench_baseline;
                CREATE TABLE bench_baseline (
                    id bigserial PRIMARY KEY,
                    customer_identifier varchar(255) NOT NULL UNIQUE,
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                """
            )
        finally:
            await conn.close()

    asyncio.run(run())


# ------------------------------------------------------------------------------------ seeding


async def _seed(customers: int) -> dict[str, Any]:
    from loyalty.db import close_db, connection, dialect, init_db
    from loyalty.models import ApiKeyScope, EarningRule, RuleCategory, Shop, VipTier
    from loyalty.settings import Settings
    from loyalty.shops.api_keys import issue_api_key

    settings = Settings.from_env()
    await init_db(settings.database_url)
    try:
        shop = await Shop.create(domain=SHOP_DOMAIN, name="Bench Store", points_expiry_days=365)
        tier_ids = []
        for public_id, name, required, multiplier in TIERS:
            tier = await VipTier.create(
                public_id=public_id,
                shop=shop,
                name=name,
                points_required=required,
                points_multiplier=multiplier,
            )
            tier_ids.append(tier.id)
        await EarningRule.create(
            public_id=RULE_PUBLIC_ID,
            shop=shop,
            name="Follow us on Instagram",
            action="follow_on_instagram",
            category=RuleCategory.SOCIAL,
            points=RULE_POINTS,
            is_active=True,
            approval_time_days=0,
        )
        # Set-based: one INSERT … SELECT over a number series, not one ORM call per row.
        if dialect() == "postgres":
            series = f"SELECT generate_series(1, {int(customers)}) AS n"
        else:
            series = (
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
                f"WHERE n < {int(customers)}) SELECT n FROM seq"
            )
        tier_case = "CASE {idx} WHEN 0 THEN {0} WHEN 1 THEN {1} ELSE {2} END".format(
            *tier_ids, idx=SEED_TIER_INDEX_SQL
        )
        started = time.monotonic()
        conn = connection()
        await conn.execute_script(
            f"""
            INSERT INTO customer (
                shop_id, shopify_customer_id, email, email_key, first_name, last_name, tags,
                is_excluded, points_balance, pending_points, lifetime_points, redeemed_points,
                vip_tier_id, created_at, updated_at)
            SELECT {shop.id}, {ID_BASE} + n, 'c' || n || '@bench.example',
                   'c' || n || '@bench.example', 'Bench', 'Customer ' || n, '', false,
                   {SEED_LIFETIME_SQL}, 0, {SEED_LIFETIME_SQL}, 0, {tier_case},
                   (SELECT created_at FROM shop WHERE id = {shop.id}),
                   (SELECT created_at FROM shop WHERE id = {shop.id})
            FROM ({series}) AS s
            """
        )
        if dialect() == "postgres":
            # Now, not as an autovacuum pass in the middle of the first measured run.
            await conn.execute_script("VACUUM ANALYZE")
        seeded_in = time.monotonic() - started
        key = await issue_api_key(shop=shop, name="bench/award", scope=ApiKeyScope.FULL)
        return {
            "shop": SHOP_DOMAIN,
            "rule": RULE_PUBLIC_ID,
            "api_key": key.secret,
            "customers": customers,
            "seed_seconds": round(seeded_in, 2),
        }
    finally:
        await close_db()


def cmd_seed(customers: str) -> None:
    print(json.dumps(asyncio.run(_seed(int(customers)))))


# ------------------------------------------------------------------------------ process utils


def cmd_free_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cmd_wait_ready(url: str, seconds: str, *pids: str) -> None:
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit(f"wait-ready polls the local servers only, not {url!r}")
    deadline = time.monotonic() + float(seconds)
    last = "no answer"
    while time.monotonic() < deadline:
        for pid in pids:
            if not _alive(int(pid)):
                raise SystemExit(f"process {pid} exited before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (checked above)
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {seconds}s ({last})")


# ------------------------------------------------------------------------------- CPU accounting
# Cores each part of the setup used during a measured run, from /proc: the web and worker
# process trees, PostgreSQL (this run's database's backends and the server's own background
# processes, not other sessions), Redis, wrk (from the driver's `times`), the kernel (irq,
# softirq, kernel threads), and other processes: other people's work on a shared box, which
# makes the figures noisy.


def _proc_table() -> dict[int, tuple[int, str, int, str]]:
    """pid → (parent pid, command name, utime + stime in clock ticks, command line)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]), cmdline)
    return table


def _tree(table: dict[int, tuple[int, str, int, str]], root: int) -> set[int]:
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, row in table.items() if row[0] == parent]
        members.update(children)
        frontier.extend(children)
    return members & table.keys()


# "postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE" for a client backend
_PG_BACKEND = re.compile(r"^postgres: (?:[^:]+: )?\S+ (\S+) \S+\(\d+\)")


def cmd_cpu_snap(path: str, *roles: str) -> None:
    """Record per-process CPU ticks: `cpu-snap FILE db=NAME web=PID worker=PID …`."""
    table = _proc_table()
    groups: dict[str, dict[int, int]] = {}
    database = None
    for role in roles:
        name, _, value = role.partition("=")
        if name == "db":
            database = value
            continue
        pids = _tree(table, int(value)) if int(value) in table else set()
        groups[name] = {pid: table[pid][2] for pid in pids}
    postgres: dict[int, int] = {}
    for pid, (_, comm, ticks, cmdline) in table.items():
        if comm != "postgres":
            continue
        backend = _PG_BACKEND.match(cmdline)
        if backend is None or backend.group(1) == database:  # ours, or a background process
            postgres[pid] = ticks
    groups["postgres"] = postgres
    groups["redis"] = {pid: row[2] for pid, row in table.items() if row[1] == "redis-server"}
    ours = set().union(*groups.values())
    kernel_threads = {pid for pid, row in table.items() if pid == 2 or row[0] == 2}
    groups["kernel threads"] = {pid: table[pid][2] for pid in kernel_threads}
    groups["other processes"] = {
        pid: row[2] for pid, row in table.items() if pid not in ours and pid not in kernel_threads
    }
    cpu = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    snap = {
        "t": time.monotonic(),
        "groups": {k: {str(p): t for p, t in v.items()} for k, v in groups.items()},
        "names": {
            str(pid): table[pid][3][:80] or table[pid][1] for pid in groups["other processes"]
        },
        "machine_busy": sum(cpu) - cpu[3] - cpu[4],  # all but idle and iowait
        "irq": cpu[5] + cpu[6],  # interrupts and softirqs (loopback networking, block IO)
    }
    Path(path).write_text(json.dumps(snap))


def cmd_cpu_report(before_path: str, after_path: str, wrk_seconds: str, out_path: str) -> None:
    """Cores used by each part between two snapshots (1.00 = one core busy throughout);
    `wrk_seconds` is the CPU time wrk used. Processes that started in the window count in
    full; ones that ended in it are lost (none of ours do). "other processes" is everyone
    else's work on the machine, the measure of how noisy the run was."""
    before = json.loads(Path(before_path).read_text())
    after = json.loads(Path(after_path).read_text())
    hz = os.sysconf("SC_CLK_TCK")
    seconds = after["t"] - before["t"]
    report: dict[str, float] = {}
    for name, pids in after["groups"].items():
        old = before["groups"].get(name, {})
        ticks = sum(max(0, t - old.get(pid, 0)) for pid, t in pids.items())
        report[name] = ticks / hz / seconds
    report["wrk"] = float(wrk_seconds) / seconds
    report["kernel threads"] += (after["irq"] - before["irq"]) / hz / seconds
    report["kernel (irq, threads)"] = report.pop("kernel threads")
    report["other processes"] = report.pop("other processes")
    report["machine"] = (after["machine_busy"] - before["machine_busy"]) / hz / seconds
    Path(out_path).write_text(json.dumps({k: round(v, 2) for k, v in report.items()}))
    print("  cores busy: " + _cores(report), file=sys.stderr)
    old = before["groups"]["other processes"]
    busiest = sorted(
        ((t - old.get(pid, 0), pid) for pid, t in after["groups"]["other processes"].items()),
        reverse=True,
    )[:3]
    if report["other processes"] > NOISY_CORES:
        names = after["names"]
        print(
            "  busiest other processes: "
            + "; ".join(f"{t / hz / seconds:.2f} {names.get(pid, pid)}" for t, pid in busiest),
            file=sys.stderr,
        )


def _cores(report: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in report.items() if k != "machine") + (
        f" (machine {report['machine']:.2f} of {os.cpu_count()})"
    )


# ----------------------------------------------------------------------------------- wrk runs


def parse_wrk(path: str) -> dict[str, Any]:
    text = Path(path).read_text()
    match = re.search(r"^BENCH_RESULT (\{.*\})$", text, re.MULTILINE)
    if not match:
        raise SystemExit(f"no BENCH_RESULT line in {path}:\n{text[-2000:]}")
    result: dict[str, Any] = json.loads(match.group(1))
    seconds = result["duration_us"] / 1e6
    result["seconds"] = seconds
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    result["created_per_s"] = result["created"] / seconds if seconds else 0.0
    socket_errors = result["errors"]
    result["socket_errors"] = sum(socket_errors[k] for k in ("connect", "read", "write", "timeout"))
    return result


def cmd_wrk_result(path: str, label: str) -> None:
    """Print the next free customer number; a one-line progress report goes to stderr."""
    r = parse_wrk(path)
    bad = r["other"] + r["socket_errors"]
    line = (
        f"  {label:<24} {r['created_per_s']:7.0f} ok/s  p50 {r['p50_us'] / 1000:.1f} ms  "
        f"p99 {r['p99_us'] / 1000:.1f} ms  not ok {r['other']}"
    )
    if bad:
        line += f"  <-- {bad} FAILED: {r['statuses']} {r['errors']} {r['first_error']!r}"
    print(line, file=sys.stderr)
    print(r["next_n"])


def cmd_proxy_paths(path: str, count: str) -> None:
    """Write COUNT signed `/proxy/customer` paths, customer n = 1…COUNT logged in, as
    Shopify's app proxy forwards the widget's call (web.demo.app_proxy_signer: the same
    signing the demo storefront uses, checked by the app with shopify_app). The timestamp is
    now: Shopify's signatures are valid for 90 s, so the driver makes them just before a run."""
    from web.demo.app_proxy_signer import signed_params

    secret = os.environ["BENCH_SHOPIFY_SECRET"]
    now = time.time()
    lines = []
    for n in range(1, int(count) + 1):
        params = signed_params(
            [], shop=SHOP_DOMAIN, customer_id=ID_BASE + n, secret=secret, now=now
        )
        lines.append("/proxy/customer?" + urllib.parse.urlencode(params))
    Path(path).write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------- correctness


def _expected_points_sql() -> str:
    cases = " ".join(
        f"WHEN {index} THEN {int((RULE_POINTS * m).quantize(Decimal(1), ROUND_HALF_UP))}"
        for index, (_, _, _, m) in enumerate(TIERS)
    )
    return f"CASE {SEED_TIER_INDEX_SQL} {cases} END"


async def _check(wrk_files: list[str]) -> dict[str, Any]:
    """Compare the database with what wrk saw over every run against it (warm-ups included).

    wrk counts completed responses; requests still in flight when a run stops may have
    committed without wrk seeing the 201. So, soundly: 201s seen ≤ entries ≤ requests issued −
    non-201 responses seen. Each entry must match its customer's seeded tier multiplier, and
    every balance move must equal the entries' points (nothing lost, nothing doubled).
    """
    from loyalty.db import close_db, connection, init_db
    from loyalty.settings import Settings

    runs = [parse_wrk(path) for path in wrk_files]
    seen_201 = sum(r["created"] for r in runs)
    seen_other = sum(r["other"] for r in runs)
    issued = sum(r["issued"] for r in runs)
    upper = issued - seen_other

    await init_db(Settings.from_env().database_url)
    try:
        conn = connection()

        async def one(sql: str) -> Any:
            rows = await conn.execute_query_dict(sql)
            return next(iter(rows[0].values()))

        with_n = f"(SELECT c.*, c.shopify_customer_id - {ID_BASE} AS n FROM customer c) AS cn"
        entries = await one("SELECT count(*) AS v FROM earning_history_entry")
        doubled = await one(
            "SELECT count(*) AS v FROM (SELECT customer_id FROM earning_history_entry "
            "GROUP BY customer_id HAVING count(*) > 1) AS d"
        )
        wrong_points = await one(
            f"SELECT count(*) AS v FROM earning_history_entry e JOIN {with_n} ON cn.id = "
            f"e.customer_id WHERE e.points <> {_expected_points_sql()}"
        )
        lifetime_delta = await one(
            f"SELECT COALESCE(sum(cn.lifetime_points - ({SEED_LIFETIME_SQL})), 0) AS v "
            f"FROM {with_n}"
        )
        balance_mismatch = await one(
            "SELECT count(*) AS v FROM customer WHERE points_balance <> lifetime_points"
        )
        entry_points = await one("SELECT COALESCE(sum(points), 0) AS v FROM earning_history_entry")
        activity = await one("SELECT count(*) AS v FROM activity WHERE kind = 'points_awarded'")
        tier_changes = await one(
            "SELECT count(*) AS v FROM activity WHERE kind = 'vip_tier_changed'"
        )
        intents = await one("SELECT count(*) AS v FROM outbox_intent")
        intents_open = await one(
            "SELECT count(*) AS v FROM outbox_intent WHERE completed_at IS NULL"
        )
    finally:
        await close_db()

    problems = []
    if not seen_201 <= entries <= upper:
        problems.append(f"entries {entries} outside [201s seen {seen_201}, issued−non201 {upper}]")
    if doubled:
        problems.append(f"{doubled} customer(s) have more than one entry")
    if wrong_points:
        problems.append(f"{wrong_points} entr(ies) with points not base × tier multiplier")
    if int(lifetime_delta) != int(entry_points):
        problems.append(f"lifetime points moved by {lifetime_delta}, entries hold {entry_points}")
    if balance_mismatch:
        problems.append(f"{balance_mismatch} customer(s) with balance ≠ lifetime points")
    if activity != entries:
        problems.append(f"{activity} points_awarded activity rows for {entries} entries")
    if seen_other:
        problems.append(f"{seen_other} non-201 response(s) across the runs (warm-ups included)")
    if intents < entries:
        problems.append(f"{intents} side-effect intents for {entries} entries")
    return {
        "ok": not problems,
        "problems": problems,
        "entries": entries,
        "seen_201": seen_201,
        "in_flight_at_stop": entries - seen_201,
        "issued": issued,
        "non_201_seen": seen_other,
        "customers_with_two_entries": doubled,
        "wrong_points": wrong_points,
        "tier_changes": tier_changes,
        "intents": intents,
        "intents_open": intents_open,
    }


def cmd_check(label: str, *wrk_files: str) -> None:
    result = asyncio.run(_check(list(wrk_files)))
    result["label"] = label
    print(json.dumps(result))


# ----------------------------------------------------------------------------------- summary


def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


NOISY_CORES = 0.25  # "other processes" above this: someone else was using the machine


# Below this share of the cores busy, a run was waiting rather than working: the summary says
# how much of the machine it left idle (the figure to explain, issue 18).
SATURATED_SHARE = 0.90


def _cpu_line(
    cpu: dict[str, float] | None, noisy: list[str], label: str, r: dict[str, Any] | None = None
) -> list[str]:
    if not cpu:
        return []
    lines = ["    cores busy: " + _cores(cpu)]
    if r and r["created_per_s"]:
        # CPU per response holds up when other work takes the cores: the steadier figure on a
        # shared machine (throughput follows whatever share of the cores a run was given).
        per = cpu.get("web", 0) / r["created_per_s"] * 1000
        line = f"    CPU per response: web processes {per:.3f} ms"
        if cpu.get("postgres", 0) >= 0.02:
            line += f", PostgreSQL {cpu['postgres'] / r['created_per_s'] * 1000:.3f} ms"
        lines.append(line)
    cores = os.cpu_count() or 1
    if cpu["machine"] < SATURATED_SHARE * cores:
        lines.append(
            f"    the machine was left {cores - cpu['machine']:.2f} of {cores} cores idle "
            f"({(1 - cpu['machine'] / cores) * 100:.0f}%): this run waited rather than worked"
        )
    if cpu.get("other processes", 0) > NOISY_CORES:
        noisy.append(f"{label}: {cpu['other processes']:.2f} cores used by other processes")
    return lines


def _of_ceiling(r: dict[str, Any], ceiling: dict[str, Any] | None) -> str:
    if not ceiling or not ceiling["created_per_s"]:
        return "n/a (no ceiling measured)"
    return f"{r['created_per_s'] / ceiling['created_per_s'] * 100:.1f}%"


def _ceilings(results: dict[str, Any], failures: list[str]) -> dict[int, dict[str, Any]]:
    """The ceiling runs by process count (a failed request in one is a failure of the run)."""
    by_procs: dict[int, dict[str, Any]] = {}
    for run in results.get("ceilings", []):
        procs, r = int(run["processes"]), run["ceiling"]
        by_procs[procs] = r
        bad = r["other"] + r["socket_errors"]
        if bad:
            failures.append(f"ceiling ({procs} proc): {r['statuses']} {r['errors']}")
    return by_procs


def _line(name: str, r: dict[str, Any], unit: str, success: int = 201) -> str:
    bad = r["other"] + r["socket_errors"]
    flag = "" if bad == 0 else f"   <-- {bad} FAILED REQUESTS"
    return (
        f"  {name:<46} {r['created_per_s']:8.0f} {unit}/s   p50 {_ms(r['p50_us']):>6} ms   "
        f"p99 {_ms(r['p99_us']):>6} ms   non-{success} {r['other']}{flag}"
    )


def _proxy_lines(results: dict[str, Any], noisy: list[str], failures: list[str]) -> list[str]:
    """The storefront proxy GET against its ceiling, per process count."""
    out: list[str] = []
    ceilings = {int(c["processes"]): c for c in results.get("proxy_ceilings", [])}
    for trial in results.get("proxy_trials", []):
        procs = int(trial["processes"])
        proxy, ceiling = trial["proxy"], ceilings.get(procs, {})
        out.append(
            f"Storefront proxy, {procs} web process(es): GET /proxy/customer, signed as Shopify's "
            "app proxy signs it, a logged-in customer per request:"
        )
        out.append(_line("proxy   GET /proxy/customer (balance, tier, history)", proxy, "req", 200))
        out.extend(_cpu_line(trial.get("cpu"), noisy, f"proxy ({procs} proc)", proxy))
        if ceiling:
            r = ceiling["ceiling"]
            out.append(_line("ceiling GET /proxy/customer, no database", r, "req", 200))
            out.extend(_cpu_line(ceiling.get("cpu"), noisy, f"proxy ceiling ({procs} proc)", r))
        share = _of_ceiling(proxy, ceiling.get("ceiling"))
        met = (
            bool(ceiling)
            and proxy["created_per_s"] >= 0.5 * ceiling["ceiling"]["created_per_s"]
            and proxy["p99_us"] <= 20_000
        )
        out.append(f"  of the ceiling: {share}")
        out.append(f"  target ≥ 50% of the ceiling, p99 ≤ 20 ms: {'MET' if met else 'NOT MET'}")
        for name, r in (("proxy", proxy), ("proxy ceiling", ceiling.get("ceiling"))):
            if r and (r["other"] or r["socket_errors"]):
                failures.append(
                    f"{name} ({procs} proc): {r['other']} non-200 {r['statuses']} "
                    f"socket errors {r['errors']} first: {r.get('first_error', '')!r}"
                )
        out.append("")
    return out


def _check_lines(name: str, check: dict[str, Any], failures: list[str]) -> list[str]:
    possible = check["issued"] - check["non_201_seen"] - check["seen_201"]
    lines = [
        f"  correctness ({name}, all runs incl. warm-up): "
        f"{'OK' if check['ok'] else 'FAILED'} — {check['entries']} earning-history entries; wrk "
        f"saw {check['seen_201']} × 201 and {check['non_201_seen']} other; "
        f"{check['in_flight_at_stop']} committed while in flight at a run's stop "
        f"(at most {possible} possible)",
        f"    customers with two entries: {check['customers_with_two_entries']}; points ≠ base × "
        f"tier: {check['wrong_points']}; tier upgrades: {check['tier_changes']}; side-effect "
        f"intents: {check['intents']} ({check['intents_open']} not completed yet)",
    ]
    failures.extend(f"correctness ({name}): {problem}" for problem in check["problems"])
    return lines


def render_summary(results: dict[str, Any]) -> str:
    out = []
    cfg = results["config"]
    out.append("=" * 100)
    out.append(
        f"bench/award  {results['started_at']}  host {cfg['host']} ({cfg['cores']} cores)  "
        f"git {cfg['git']}"
    )
    out.append(
        f"wrk -t{cfg['wrk_threads']} -c{cfg['connections']} -d{cfg['duration']}s "
        f"(after a {cfg['warmup']}s warm-up), unique customer per request, "
        f"{cfg['customers']} customers seeded"
    )
    if cfg.get("pg_setup_sql"):
        out.append(f"EXPERIMENT: award database altered with: {cfg['pg_setup_sql']}")
    if cfg.get("sqlite_query"):
        out.append(f"EXPERIMENT: SQLite URL with ?{cfg['sqlite_query']} — not the embedded default")
    if cfg.get("award_app", "web.asgi:create") != "web.asgi:create":
        out.append(
            f"EXPERIMENT: the award server is {cfg['award_app']} with patches "
            f"[{cfg.get('experiments', '')}] — not the app as committed"
        )
    out.append("=" * 100)
    failures: list[str] = []
    noisy: list[str] = []
    ceilings = _ceilings(results, failures)
    for procs, ceiling in sorted(ceilings.items()):
        out.append(f"Ceiling, {procs} process(es): Starlette, no database (bench/ceiling_app.py):")
        out.append(_line("ceiling POST /award → the contract's 201 document", ceiling, "req"))
        cpu = next(c["cpu"] for c in results["ceilings"] if int(c["processes"]) == procs)
        out.extend(_cpu_line(cpu, noisy, f"ceiling ({procs} proc)", ceiling))
        out.append("")
    for trial in results.get("pg_trials", []):
        procs = trial["processes"]
        award, base = trial["award"], trial["baseline"]
        ceiling = ceilings.get(int(procs))
        out.append(f"PostgreSQL + Redis, {procs} web process(es) (+1 arq worker for the award):")
        out.append(_line("award   POST /api/v1/earning-rules/{id}/award", award, "awards"))
        out.extend(_cpu_line(trial.get("award_cpu"), noisy, f"award ({procs} proc)", award))
        out.append(_line("baseline Starlette+asyncpg INSERT … ON CONFLICT", base, "req"))
        out.extend(_cpu_line(trial.get("baseline_cpu"), noisy, f"baseline ({procs} proc)", base))
        ratio = award["created_per_s"] / base["created_per_s"] * 100 if base["created_per_s"] else 0
        trial["ratio"] = ratio
        share = award["created_per_s"] / ceiling["created_per_s"] if ceiling else 0.0
        cpu = trial.get("award_cpu") or {}
        saturated = cpu.get("machine", 0) >= SATURATED_SHARE * (os.cpu_count() or 1)
        target = share >= 0.40 and award["p99_us"] <= 25_000 and saturated
        out.append(
            f"  of the ceiling: award {_of_ceiling(award, ceiling)}, baseline "
            f"{_of_ceiling(base, ceiling)}   award / baseline: {ratio:.1f}%"
        )
        out.append(
            "  target ≥ 40% of the ceiling, p99 ≤ 25 ms, the machine saturated: "
            f"{'MET' if target else 'NOT MET'}"
        )
        for name, r in (("award", award), ("baseline", base)):
            if r["other"] or r["socket_errors"]:
                failures.append(
                    f"{name} ({procs} proc): {r['other']} non-201 {r['statuses']} "
                    f"socket errors {r['errors']} first: {r.get('first_error', '')!r}"
                )
        out.append("")
    out.extend(_proxy_lines(results, noisy, failures))
    pg_check = results.get("pg_check", {}).get("result")
    if pg_check:
        out.extend(_check_lines("PostgreSQL", pg_check, failures))
        out.append("")
    if len(results.get("pg_trials", [])) > 1:
        best = max(results["pg_trials"], key=lambda t: t["award"]["created_per_s"])
        out.append(
            f"Best award throughput with {best['processes']} web process(es) "
            f"({best['award']['created_per_s']:.0f} awards/s)."
        )
        out.append("")
    sqlite = results.get("sqlite")
    if sqlite:
        out.append("SQLite embedded default (`loyalty serve`, 1 process, jobs in-process):")
        out.append(
            _line("award   POST /api/v1/earning-rules/{id}/award", sqlite["award"], "awards")
        )
        out.extend(_cpu_line(sqlite.get("cpu"), noisy, "sqlite", sqlite["award"]))
        r = sqlite["award"]
        met = r["created_per_s"] >= 1500 and r["p99_us"] <= 50_000
        out.append(f"  of the 1-process ceiling: {_of_ceiling(r, ceilings.get(1))}")
        out.append(f"  target ≥ 1,500 awards/s, p99 ≤ 50 ms: {'MET' if met else 'NOT MET'}")
        if sqlite.get("check"):
            out.extend(_check_lines("SQLite", sqlite["check"], failures))
        r = sqlite["award"]
        if r["other"] or r["socket_errors"]:
            failures.append(
                f"sqlite: {r['other']} non-201 {r['statuses']} socket errors {r['errors']} "
                f"first: {r.get('first_error', '')!r}"
            )
        out.append("")
    if noisy:
        out.append(
            "NOTE: the machine was busy with other work during measured runs, so these figures "
            "are noisy:"
        )
        out.extend(f"  {line}" for line in noisy)
        out.append("")
    if failures:
        out.append("!" * 100)
        out.append("!!! THIS RUN HAD ERRORS — the figures above are not valid:")
        out.extend(f"!!!   {failure}" for failure in failures)
        out.append("!" * 100)
    else:
        out.append("No failed requests; every response was a success (201 award, 200 proxy GET).")
    results["failed"] = bool(failures)
    return "\n".join(out)


def cmd_summary(out_dir: str) -> None:
    path = Path(out_dir) / "results.json"
    results = json.loads(path.read_text())
    text = render_summary(results)
    path.write_text(json.dumps(results, indent=2))
    print(text)
    if results["failed"]:
        raise SystemExit(1)


# -------------------------------------------------------------------------- results assembly


def cmd_record(out_dir: str, key: str, *pairs: str) -> None:
    """Merge into OUT_DIR/results.json: `record DIR pg_trials processes=2 award=@file …`.
    A value `@file` is a wrk output parsed with parse_wrk; `%file` is a JSON file."""
    path = Path(out_dir) / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    item: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if value.startswith("@"):
            item[name] = parse_wrk(value[1:])
        elif value.startswith("%"):
            item[name] = json.loads(Path(value[1:]).read_text())
        else:
            try:
                item[name] = json.loads(value)
            except json.JSONDecodeError:
                item[name] = value
    if key in ("pg_trials", "ceilings", "proxy_trials", "proxy_ceilings"):
        results.setdefault(key, []).append(item)
    else:
        results[key] = {**results.get(key, {}), **item}
    path.write_text(json.dumps(results, indent=2))


def cmd_log_errors(*paths: str) -> None:
    """Report server/worker log errors, except the ClientDisconnect tracebacks that wrk's stop
    causes (requests in flight when the load generator closes its connections)."""
    disconnects, other = 0, []  # disconnects: tracebacks ending in ClientDisconnect
    for path in paths:
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        disconnects += len(re.findall(r"^starlette\.requests\.ClientDisconnect", text, re.M))
        blocks = re.split(r"\n(?=\S)", text)
        for index, block in enumerate(blocks):
            if not re.search(r"Traceback|ERROR|CRITICAL", block):
                continue
            if "ClientDisconnect" in block or (
                index + 1 < len(blocks)
                and "ClientDisconnect" in blocks[index + 1]
                and "Traceback" not in block
            ):
                continue
            other.append(f"{Path(path).name}: {block.strip()[:1500]}")
    if disconnects:
        print(
            f"  (logs: {disconnects} ClientDisconnect tracebacks from wrk closing connections "
            "at the end of a run)",
            file=sys.stderr,
        )
    if other:
        print(
            f"WARNING: {len(other)} error(s) in the server/worker logs; the first ones:",
            file=sys.stderr,
        )
        for block in other[:3]:
            print(block, file=sys.stderr)


COMMANDS: dict[str, Callable[..., None]] = {
    "cpu-snap": cmd_cpu_snap,
    "cpu-report": cmd_cpu_report,
    "log-errors": cmd_log_errors,
    "createdb": cmd_createdb,
    "dropdb": cmd_dropdb,
    "baseline-table": cmd_baseline_table,
    "checkpoint": cmd_checkpoint,
    "pg-statements": cmd_pg_statements,
    "redis-flush": cmd_redis_flush,
    "seed": cmd_seed,
    "free-port": cmd_free_port,
    "wait-ready": cmd_wait_ready,
    "wrk-result": cmd_wrk_result,
    "proxy-paths": cmd_proxy_paths,
    "check": cmd_check,
    "record": cmd_record,
    "summary": cmd_summary,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
