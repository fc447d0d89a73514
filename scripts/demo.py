"""The whole of oneexam in one run, on this machine.

Starts oneexam (SQLite) and four simulated department systems, loads the reference catalogue,
schedules an electrician and a welder session, registers 200 candidates with a mix of held
certificates, records results, finalises, waits for every webhook and decision, and prints
what happened. Exits non-zero if anything did not go as expected, so it doubles as a smoke test.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.rules.idnumber import check_character  # noqa: E402

REFERENCE = ROOT / "app" / "catalogue" / "reference"
ONEEXAM = [sys.executable, "-m", "app.cli"]
ZONE = "Asia/Shanghai"
LEAD = timedelta(seconds=10)
"""How far ahead the sessions start: registration closes then, results open then."""
STARTS_AT = datetime.now(UTC) + LEAD
EXAM_DAY = STARTS_AT.astimezone(ZoneInfo(ZONE)).date()
REJECT_SHARE = 0.1
console = Console(width=110)
failures: list[str] = []


def expect(condition: bool, what: str) -> None:
    mark = "[green]✓[/green]" if condition else "[red]✗[/red]"
    console.print(f"  {mark} {what}")
    if not condition:
        failures.append(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_start(starts_at: datetime) -> None:
    """Results and absences are taken from the start of the sitting on: wait for it."""
    console.print(
        f"waiting for the sessions to start at {starts_at.astimezone(ZoneInfo(ZONE)):%H:%M:%S}"
    )
    deadline = time.monotonic() + (starts_at - datetime.now(UTC)).total_seconds() + 30
    while datetime.now(UTC) <= starts_at:
        if time.monotonic() > deadline:
            raise SystemExit("the clock did not reach the start of the sessions")
        time.sleep(0.1)


def person(rng: random.Random, n: int, age: int | None = None) -> str:
    if age is None:
        born = date(rng.randint(1970, 2000), rng.randint(1, 12), rng.randint(1, 28))
    else:
        born = EXAM_DAY.replace(year=EXAM_DAY.year - age) - timedelta(days=30)
    body = f"{rng.choice(['110105', '310104', '440305', '510107'])}{born:%Y%m%d}{n % 1000:03d}"
    return body + check_character(body)


NAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "平",
    "刚",
]


def candidates(rng: random.Random) -> list[dict[str, Any]]:
    """200 people: 100 electricians, 100 welders, with a mix of what they already hold."""
    valid = (EXAM_DAY + timedelta(days=900)).isoformat()
    yesterday = (EXAM_DAY - timedelta(days=1)).isoformat()
    people = []
    for n in range(200):
        name = rng.choice(NAMES) + rng.choice(GIVEN)
        roll = rng.random()
        if n < 100:
            if roll < 0.6:
                kind, targets, held, age = (
                    "electrician, new",
                    ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"],
                    [],
                    None,
                )
            elif roll < 0.85:
                kind, targets, age = (
                    "electrician holding MEM-LV",
                    ["MOHURD-ELEC", "MOHRSS-ELEC-L4"],
                    None,
                )
                held = [{"certificate": "MEM-LV", "number": f"T{n:06d}LV", "valid_until": valid}]
            elif roll < 0.95:
                kind, targets, held, age = "electrician aged 17", ["MOHRSS-ELEC-L5"], [], 17
            else:
                kind, targets, age = (
                    "electrician holding MOHURD-ELEC",
                    ["MEM-LV", "MOHRSS-ELEC-L5"],
                    None,
                )
                held = [
                    {"certificate": "MOHURD-ELEC", "number": f"JZ{n:06d}", "valid_until": valid}
                ]
        else:
            if roll < 0.5:
                kind, targets, held, age = (
                    "welder, new",
                    ["MEM-WELD", "MOHURD-WELD", "SAMR-WELD", "MOHRSS-WELD-L5"],
                    [],
                    None,
                )
            elif roll < 0.8:
                kind, targets, age = (
                    "welder holding MEM-WELD",
                    ["MOHURD-WELD", "SAMR-WELD", "MOHRSS-WELD-L4"],
                    None,
                )
                held = [{"certificate": "MEM-WELD", "number": f"T{n:06d}HJ", "valid_until": valid}]
            elif roll < 0.9:
                kind, targets, age = "welder whose MEM-WELD expired yesterday", ["SAMR-WELD"], None
                held = [
                    {"certificate": "MEM-WELD", "number": f"T{n:06d}HJ", "valid_until": yesterday}
                ]
            else:
                kind, targets, held, age = "welder, skill level only", ["MOHRSS-WELD-L5"], [], None
        people.append(
            {
                "kind": kind,
                "id_number": person(rng, n, age),
                "name": name,
                "targets": targets,
                "held": held,
            }
        )
    return people


def scores(
    rng: random.Random, registration: dict[str, Any], scoring: dict[str, str]
) -> list[dict[str, Any]]:
    rows = []
    for section in registration["required_sections"]:
        if scoring[section] == "pass_fail":
            rows.append(
                {
                    "registration_id": registration["id"],
                    "section": section,
                    "passed": rng.random() < 0.93,
                }
            )
        else:
            score = min(100.0, max(30.0, round(rng.gauss(79, 9), 1)))
            rows.append({"registration_id": registration["id"], "section": section, "score": score})
    return rows


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.admin_key = "oek_" + secrets.token_urlsafe(32)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ONEEXAM_")}
        self.env.update(
            {
                "ONEEXAM_DATABASE_URL": f"sqlite:///{workdir}/oneexam.db",
                "ONEEXAM_ADMIN_KEY": self.admin_key,
                "ONEEXAM_PORT": str(self.port),
                "ONEEXAM_LOG_LEVEL": "WARNING",
                "ONEEXAM_DELIVERY_POLL_INTERVAL": "0.2",
                "ONEEXAM_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                "PYTHONPATH": str(ROOT),
            }
        )
        self.http = httpx.Client(base_url=self.api, timeout=60)
        self.admin = {"Authorization": f"Bearer {self.admin_key}"}

    def start(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = (self.workdir / log).open("wb")
        proc = subprocess.Popen(
            [*ONEEXAM, *args], env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.http.close()

    def wait_ready(self, url: str, what: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{what} did not start; see {self.workdir}")

    def all(self, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 500}
        while True:
            page = self.call("GET", path, headers, params=params)
            items += page["items"]
            if not page["next_cursor"]:
                return items
            params["cursor"] = page["next_cursor"]

    def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        r = self.http.request(method, path, headers=headers, **kwargs)
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path} -> {r.status_code}: {r.text[:400]}")
        return r.json() if r.content else None


def main() -> int:
    rng = random.Random(20261130)
    workdir = Path(tempfile.mkdtemp(prefix="oneexam-demo-"))
    demo = Demo(workdir)
    console.rule("[bold]oneexam demo: one exam, many certificates")
    console.print(f"working in {workdir}")
    try:
        subprocess.run(
            [*ONEEXAM, "migrate"], env=demo.env, cwd=ROOT, check=True, capture_output=True
        )
        demo.start("serve", log="oneexam.log")
        demo.wait_ready(f"{demo.api}/readyz", "oneexam")
        console.print(f"oneexam serving on {demo.api} (SQLite, delivery worker embedded)")
        run(demo, rng)
    finally:
        demo.stop()
    if failures:
        console.print(
            f"[red bold]{len(failures)} expectation(s) failed[/red bold]; logs in {workdir}"
        )
        return 1
    console.print("[green bold]every expectation held[/green bold]")
    return 0


def run(demo: Demo, rng: random.Random) -> None:
    # Departments point at their simulated systems; each gets a key to post decisions with.
    ports = {}
    sim_departments = []
    for dept in json.loads((REFERENCE / "departments.json").read_text(encoding="utf-8")):
        ports[dept["code"]] = free_port()
        dept["webhook_url"] = f"http://127.0.0.1:{ports[dept['code']]}/webhooks/oneexam"
        created = demo.call("POST", "/v1/departments", demo.admin, json=dept)
        key = demo.call(
            "POST", "/v1/api-keys", demo.admin, json={"role": "department", "subject": dept["code"]}
        )
        sim_departments.append(
            {
                "code": dept["code"],
                "secret": created["signing_secret"],
                "api_key": key["key"],
                "port": ports[dept["code"]],
            }
        )
    config = demo.workdir / "departments.json"
    config.write_text(
        json.dumps({"api": demo.api, "reject_share": REJECT_SHARE, "departments": sim_departments})
    )
    demo.start("simulate-departments", "--config", str(config), log="departments.log")
    for code, port in ports.items():
        demo.wait_ready(f"http://127.0.0.1:{port}/", f"the {code} simulator")
    console.print(
        "four simulated departments listening: " + ", ".join(f"{c} :{p}" for c, p in ports.items())
    )

    catalogue = json.loads((REFERENCE / "electrician-welder.json").read_text(encoding="utf-8"))
    version = demo.call("PUT", "/v1/catalogue", demo.admin, json=catalogue)["version"]
    scoring = {s["code"]: s["scoring"] for s in catalogue["sections"]}
    demo.call(
        "POST",
        "/v1/centres",
        demo.admin,
        json={"code": "BJ01", "name": "北京市职业技能鉴定中心", "region": "北京"},
    )
    centre = {
        "Authorization": f"Bearer {demo.call('POST', '/v1/api-keys', demo.admin, json={'role': 'centre', 'subject': 'BJ01'})['key']}"
    }

    global STARTS_AT, EXAM_DAY
    STARTS_AT = datetime.now(UTC).replace(microsecond=0) + LEAD
    EXAM_DAY = STARTS_AT.astimezone(ZoneInfo(ZONE)).date()

    def schedule(certificates: list[str]) -> dict[str, Any]:
        local = STARTS_AT.astimezone(ZoneInfo(ZONE))
        body = {
            "certificates": certificates,
            "starts_at": local.isoformat(),
            "ends_at": (local + timedelta(hours=9)).isoformat(),
            "capacity": 150,
            "venue": "实操考场",
        }
        return demo.call("POST", "/v1/sessions", centre, json=body)  # type: ignore[no-any-return]

    electric = schedule(["MEM-LV", "MEM-HV", "MOHURD-ELEC", "MOHRSS-ELEC-L5", "MOHRSS-ELEC-L4"])
    welding = schedule(["MEM-WELD", "MOHURD-WELD", "SAMR-WELD", "MOHRSS-WELD-L5", "MOHRSS-WELD-L4"])
    console.print(
        f"catalogue version {version}; sessions {electric['id']} (electricians) and {welding['id']} (welders) on {EXAM_DAY}"
    )

    people = candidates(rng)
    registrations: dict[str, dict[str, Any]] = {}
    for session, group in ((electric, people[:100]), (welding, people[100:])):
        rows = [
            {
                "candidate": {"id_number": p["id_number"], "name": p["name"]},
                "targets": p["targets"],
                "held": p["held"],
            }
            for p in group
        ]
        items = demo.call(
            "POST",
            f"/v1/sessions/{session['id']}/registrations:batch",
            centre,
            json={"registrations": rows},
        )["items"]
        for p, item in zip(group, items, strict=True):
            expect_ok = item["status"] == 201
            if not expect_ok:
                failures.append(f"{p['kind']} was refused: {item['problem']}")
            else:
                registrations[item["registration"]["id"]] = {**item["registration"], "person": p}
    console.rule("registration")
    kinds = Counter(r["person"]["kind"] for r in registrations.values())
    exempt = sum(1 for r in registrations.values() if r["exemptions"])
    ignored = sum(1 for r in registrations.values() if r["ignored_held"])
    expect(
        len(registrations) == 200,
        f"200 candidates registered ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))})",
    )
    expect(
        exempt > 0 and ignored > 0,
        f"{exempt} registrations with exemptions; {ignored} with an expired certificate ignored",
    )

    wait_for_start(STARTS_AT)
    absent = [rid for rid, r in registrations.items() if r["person"]["kind"] == "welder, new"][:2]
    for rid in absent:
        demo.call("POST", f"/v1/registrations/{rid}/absence", centre)
    for session in (electric, welding):
        rows = [
            row
            for rid, r in registrations.items()
            if r["session_id"] == session["id"] and rid not in absent
            for row in scores(rng, r, scoring)
        ]
        demo.call("POST", f"/v1/sessions/{session['id']}/results", centre, json={"results": rows})
    summaries = [demo.call("POST", f"/v1/sessions/{electric['id']}/finalise", centre)]
    summaries.append(release_late(demo, centre, welding))
    total_requests = sum(s["issuance_requests"] for s in summaries)
    console.rule("finalisation")
    for name, s in zip(("electricians", "welders"), summaries, strict=True):
        console.print(
            f"{name}: {s['registrations']} registered, {s['absent']} absent, {s['qualified']} certificates qualified, "
            f"{s['not_qualified']} not, {s['issuance_requests']} issuance requests"
        )
    expect(summaries[1]["absent"] == 2, "absent candidates are evaluated as absent")

    console.rule("delivery and decisions")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        requests = demo.all("/v1/issuance-requests", demo.admin)
        if len(requests) == total_requests and all(
            r["status"] in ("issued", "rejected") for r in requests
        ):
            break
        time.sleep(0.5)
    statuses = Counter(r["status"] for r in requests)
    expect(
        all(r["status"] in ("issued", "rejected") for r in requests),
        f"every one of {total_requests} requests delivered and decided ({dict(statuses)})",
    )

    table = Table(title="per department")
    for column in (
        "department",
        "requested",
        "delivered",
        "issued",
        "rejected",
        "webhooks received",
        "duplicates",
        "bad signatures",
    ):
        table.add_column(column, justify="right" if column != "department" else "left")
    per = {d["code"]: Counter() for d in sim_departments}
    for r in requests:
        per[r["department"]]["requested"] += 1
        per[r["department"]]["delivered"] += r["status"] in ("delivered", "issued", "rejected")
        per[r["department"]][r["status"]] += 1
    sim_stats = {
        code: httpx.get(f"http://127.0.0.1:{port}/", timeout=5).json()
        for code, port in ports.items()
    }
    for code, c in per.items():
        table.add_row(
            code,
            str(c["requested"]),
            str(c["delivered"]),
            str(c["issued"]),
            str(c["rejected"]),
            str(sim_stats[code]["received"]),
            str(sim_stats[code]["duplicates"]),
            str(sim_stats[code]["bad_signatures"]),
        )
    console.print(table)
    expect(
        all(c["delivered"] == c["requested"] for c in per.values()),
        "each department received every request addressed to it",
    )
    rejected = statuses["rejected"]
    expect(
        0 < rejected < total_requests * 0.3,
        f"the departments rejected {rejected} ({rejected / max(total_requests, 1):.0%}; configured share {REJECT_SHARE:.0%})",
    )

    # A forged webhook is refused by the department's verification.
    forged = httpx.post(
        f"http://127.0.0.1:{ports['mem']}/webhooks/oneexam",
        content=b'{"type":"issuance.requested"}',
        headers={
            "webhook-id": "msg_forged",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,Zm9yZ2Vk",
        },
    )
    expect(
        forged.status_code == 401, "a webhook with a forged signature is refused by the department"
    )
    audit = demo.call("GET", "/v1/audit-log/verification", demo.admin)
    expect(audit["intact"], f"the audit log's hash chain verifies ({audit['entries']} entries)")

    console.rule("three candidates' paths")
    show_paths(demo, centre, registrations, requests)

    show_resit(demo, centre, registrations)

    show_record_counts(demo, centre, registrations, requests)


def show_record_counts(
    demo: Demo,
    centre: dict[str, str],
    registrations: dict[str, Any],
    requests: list[dict[str, Any]],
) -> None:
    """An issued certificate counts as held later, without being declared. The holder chosen does
    not hold MOHURD-ELEC already: a certificate already held is refused as a target."""
    issued = {(r["registration_id"], r["certificate"]) for r in requests if r["status"] == "issued"}
    holder = next(
        (
            r
            for r in requests
            if (r["registration_id"], "MEM-LV") in issued
            and (r["registration_id"], "MOHURD-ELEC") not in issued
        ),
        None,
    )
    if holder is None:
        expect(False, "someone was issued MEM-LV without MOHURD-ELEC, to plan a later sitting for")
        return
    person_ = registrations[holder["registration_id"]]["person"]
    later = demo.call(
        "POST",
        "/v1/plans",
        centre,
        json={
            "certificates": ["MOHURD-ELEC", "MOHRSS-ELEC-L4"],
            "id_number": person_["id_number"],
            "on": str(EXAM_DAY + timedelta(days=60)),
        },
    )
    basis = [e["basis"]["certificate"] for e in later["exemptions"]]
    refused = [
        f"{t['certificate']} refused: {', '.join(r['code'] for r in t['reasons'])}"
        for t in later["targets"]
        if not t["eligible"]
    ]
    expect(
        "MEM-LV" in basis and not refused,
        f"{person_['name']}'s issued MEM-LV exempts training and opens level 4 in a later plan, "
        f"undeclared {'; '.join(refused)}".rstrip(),
    )


def release_late(demo: Demo, centre: dict[str, str], welding: dict[str, Any]) -> Any:
    """Release the welders' certificates except SAMR-WELD (its test piece is inspected later),
    then SAMR-WELD; the summary of the whole session comes last."""
    url = f"/v1/sessions/{welding['id']}/finalise"
    others = [c for c in welding["certificates"] if c != "SAMR-WELD"]
    first = demo.call("POST", url, centre, json={"certificates": others})
    waiting = {
        o["status"]
        for o in demo.all(f"/v1/sessions/{welding['id']}/outcomes", centre)
        if o["certificate"] == "SAMR-WELD"
    }
    expect(
        first["status"] == "partially_finalised" and waiting <= {"pending"},
        "welders released for every department but SAMR first: SAMR-WELD outcomes pending",
    )
    demo.call("POST", url, centre, json={"certificates": ["SAMR-WELD"]})
    return demo.call("POST", url, centre)


def show_resit(demo: Demo, centre: dict[str, str], registrations: dict[str, Any]) -> None:
    """A candidate not qualified for MEM-LV keeps the sections they passed for a year."""
    for rid, r in registrations.items():
        if "MEM-LV" not in r["targets"]:
            continue
        outcome = next(
            o
            for o in demo.call("GET", f"/v1/registrations/{rid}", centre)["outcomes"]
            if o["certificate"] == "MEM-LV"
        )
        if outcome["status"] != "not_qualified":
            continue
        later = demo.call(
            "POST",
            "/v1/plans",
            centre,
            json={
                "certificates": ["MEM-LV"],
                "id_number": r["person"]["id_number"],
                "on": str(EXAM_DAY + timedelta(days=90)),
            },
        )
        carried = [c["section"] for c in later["carried"]]
        if not carried:
            continue  # they passed nothing at MEM-LV's mark
        expect(
            not set(carried) & set(later["required_sections"]),
            f"{r['person']['name']} resits MEM-LV three months later: carries {', '.join(carried)}, "
            f"sits {', '.join(later['required_sections'])}",
        )
        return
    expect(False, "a candidate not qualified for MEM-LV carries what they passed to a resit")


def show_paths(
    demo: Demo,
    centre: dict[str, str],
    registrations: dict[str, dict[str, Any]],
    requests: list[dict[str, Any]],
) -> None:
    by_registration: dict[str, list[dict[str, Any]]] = {}
    for r in requests:
        by_registration.setdefault(r["registration_id"], []).append(r)
    picks = []
    for kind in (
        "electrician holding MEM-LV",
        "electrician, new",
        "welder whose MEM-WELD expired yesterday",
    ):
        chosen = [rid for rid, r in registrations.items() if r["person"]["kind"] == kind]
        mixed = [
            rid
            for rid in chosen
            if 0 < len(by_registration.get(rid, [])) < len(registrations[rid]["targets"])
        ]
        picks.append((mixed or chosen)[0])
    for rid in picks:
        detail = demo.call("GET", f"/v1/registrations/{rid}", centre)
        p = registrations[rid]["person"]
        table = Table(
            title=f"{p['name']} ({detail['candidate']['id_number']}): {p['kind']}", show_lines=False
        )
        table.add_column("certificate")
        table.add_column("outcome")
        table.add_column("detail")
        for o in detail["outcomes"]:
            request = next(
                (r for r in by_registration.get(rid, []) if r["certificate"] == o["certificate"]),
                None,
            )
            if o["status"] == "qualified" and request is not None:
                got = (
                    demo.call("GET", f"/v1/issuance-requests/{request['id']}", centre)["decision"]
                    or {}
                )
                note = (
                    f"issued {got.get('certificate_number')}"
                    if got.get("decision") == "issued"
                    else f"rejected: {got.get('reason')}"
                )
            else:
                note = "; ".join(
                    f"{f['section']} {f['score'] if f['score'] is not None else f['passed']} < {f['pass_score']}"
                    if f["pass_score"] is not None
                    else f"{f['section']} not passed"
                    for f in o["failures"]
                )
            table.add_row(o["certificate"], o["status"], note)
        console.print(table)
        console.print(f"  sat: {', '.join(detail['required_sections'])}")
        for e in detail["exemptions"]:
            console.print(
                f"  exempt: {e['section']} for {e['target']} (basis {e['basis']['certificate']} {e['basis']['number']})"
            )
        for i in detail["ignored_held"]:
            why = f"{i['reason']['code']}: {i['reason']['message']}"
            console.print(f"  ignored: {i['certificate']} {i['number']} ({why})")


if __name__ == "__main__":
    sys.exit(main())
