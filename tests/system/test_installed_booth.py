"""The installed booth under real systemd (PID 1 in a container), driven through its unit and
its control socket: READY, STATUS, a whole call, the watchdog, stop and kill mid-call, the
credential, a bad config, provisioning again and uninstalling.

The tests run in file order on one booted container (they share the installed booth); each
prints what it measured (run with ``-s`` to see it).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from typing import Any

import pytest

from tests.system.conftest import API_KEY, REPO, Container

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]

STOP_TIMEOUT = 20.0  # TimeoutStopSec= in systemd/booth.service
#: systemd's journal message id of "Started UNIT" (the start job is done: READY came).
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"
_IDLE_STATUS: list[str] = []


def report(what: str, value: str) -> None:
    print(f"\n[system] {what}: {value}", flush=True)


def usec(entry: dict[str, Any]) -> int:
    return int(entry["__REALTIME_TIMESTAMP"])


def words(status_text: str) -> str:
    """STATUS= without the call's running clock ("In call with Alex, 00:05")."""
    return re.sub(r"\d\d:\d\d", "", status_text)


def live_call(box: Container) -> dict[str, Any]:
    """Start a test call through the socket; the status once the persona is on the line."""
    box.sh("booth call test")
    status: dict[str, Any] = box.until(
        "the test call to be up",
        lambda: (s := box.status())["state"] in ("listening", "talking") and s["call_id"] and s,
    )
    return status


def server_end(box: Container, call_id: str) -> dict[str, Any] | None:
    """The devserver's record of the call's end (it logs to stderr: fields are in MESSAGE)."""
    for entry in box.journal("-u", "booth-devserver"):
        message = str(entry.get("MESSAGE", ""))
        if "call ended:" in message and f"CALL_ID={call_id}" in message:
            return entry
    return None


def end_reason(entry: dict[str, Any]) -> str:
    match = re.search(r"call ended: (\S+)", str(entry["MESSAGE"]))
    assert match is not None
    return match.group(1)


def restarted_once(box: Container, before: dict[str, str], since: float) -> float:
    """Wait for systemd to have restarted the booth (a new main PID, active again: READY);
    seconds since ``since``. Exactly one restart."""
    box.until(
        "systemd to restart the booth",
        lambda: (
            (p := box.show("booth", "ActiveState", "MainPID"))["ActiveState"] == "active"
            and p["MainPID"] not in ("0", before["MainPID"])
        ),
        within=90,
    )
    back = time.monotonic() - since
    assert int(box.show("booth", "NRestarts")["NRestarts"]) == int(before["NRestarts"]) + 1
    return back


def test_start_is_active_only_after_ready(container: Container) -> None:
    box = container
    report("container booted (provisioning included) in", f"{box.booted_in:.1f} s")
    started = time.monotonic()
    box.sh("systemctl start booth")
    took = time.monotonic() - started
    props = box.show(
        "booth",
        "Type",
        "ActiveState",
        "StatusText",
        "MainPID",
        "InvocationID",
        "ExecMainStartTimestampMonotonic",
        "ActiveEnterTimestampMonotonic",
    )
    assert props["Type"] == "notify" and props["ActiveState"] == "active"
    # When `systemctl start` returned, the daemon was all there: its socket answers, idle.
    status = box.status()
    assert status["state"] == "idle" and status["pid"] == int(props["MainPID"])
    assert props["StatusText"] == status["status"] != ""
    _IDLE_STATUS.append(status["status"])
    # systemd called it started only after what the daemon does before READY was done.
    entries = box.journal(f"_SYSTEMD_INVOCATION_ID={props['InvocationID']}", "+",
                          f"INVOCATION_ID={props['InvocationID']}")  # fmt: skip
    order = [e.get("EVENT") or e.get("MESSAGE_ID") for e in entries]
    assert order.index("control_socket") < order.index(UNIT_STARTED), order
    ready_after = (
        int(props["ActiveEnterTimestampMonotonic"]) - int(props["ExecMainStartTimestampMonotonic"])
    ) / 1e6
    report("READY (active) after exec", f"{ready_after:.2f} s; systemctl start took {took:.2f} s")
    # Only the booth's own records: nothing on stdout/stderr (library noise, warnings).
    own = [e for e in entries if e.get("_PID") == props["MainPID"]]
    assert own and all(e.get("_TRANSPORT") == "journal" and e.get("LOGGER") for e in own), [
        e.get("MESSAGE") for e in own if not e.get("LOGGER")
    ]


def test_a_whole_call_status_follows_the_states(container: Container) -> None:
    box = container
    live = live_call(box)
    call_id = live["call_id"]
    texts = {"idle": _IDLE_STATUS[0]}
    texts["listening"] = box.until(
        "STATUS= to say the call is up",
        lambda: (
            words(t := box.show("booth", "StatusText")["StatusText"])
            == words(box.status()["status"])
            and words(t)
        ),
    )
    assert box.sh("booth press").startswith("talking")
    texts["talking"] = words(box.show("booth", "StatusText")["StatusText"])
    assert texts["talking"] == words(box.status()["status"])
    time.sleep(2.0)  # the rep talks for two seconds (the mic FIFO carries syllables)
    assert box.sh("booth press --release").startswith("listening")
    box.sh("booth press --double")
    texts["scoring"] = box.until(
        "the call to be scored",
        lambda: (s := box.status())["state"] == "scoring" and s["status"],
        within=30,
    )
    summary = box.until(
        "the call's summary with a score",
        lambda: (
            (s := box.status()["last_summary"])
            and s["CALL_ID"] == call_id
            and s["SCORE"] is not None
            and s
        ),
        within=60,
    )
    report("STATUS= by state", json.dumps(texts))
    assert len(set(texts.values())) == len(texts), texts  # each state says something else
    assert summary["END_REASON"] == "double_press" and summary["FRAMES_SENT"] > 0
    story = box.journal("-u", "booth", f"CALL_ID={call_id}")
    events = [e.get("EVENT") for e in story]
    assert events.count("call_summary") == 1, events
    for wanted in ("call_started", "control", "end_call", "score"):
        assert wanted in events, events
    report("the call's story in the journal", " → ".join(str(e) for e in events))
    # The service heard the rep: the call record has the rep's turn.
    record = json.loads(
        box.sh(
            f"{REPO}/.venv/bin/python -c "
            + shlex.quote(
                "import httpx, sys; print(httpx.get(sys.argv[1], headers={'Authorization': "
                "'Bearer ' + open('/etc/booth-test/api_key').read().strip()}).text)"
            )
            + f" http://127.0.0.1:8765/api/external/v1/calls/{call_id}"
        )
    )
    assert record["status"] == "scored"
    assert any(turn["role"] == "agent" for turn in record["transcript"]), record["transcript"]


def test_the_key_comes_only_from_the_credentials_directory(container: Container) -> None:
    box = container
    pid = box.show("booth", "MainPID")["MainPID"]
    # The daemon sees it only in $CREDENTIALS_DIRECTORY (systemd's LoadCredential=).
    environ = box.sh(f"tr '\\0' '\\n' < /proc/{pid}/environ")
    creds = re.search(r"^CREDENTIALS_DIRECTORY=(.+)$", environ, re.M)
    assert creds is not None and API_KEY not in environ
    assert box.sh(f"cat {creds.group(1)}/api_key").strip() == API_KEY
    assert API_KEY not in box.sh(f"tr '\\0' ' ' < /proc/{pid}/cmdline")
    assert API_KEY not in box.sh("systemctl show booth")
    assert API_KEY not in box.sh("journalctl -o export --no-pager", timeout=60)
    # On disk: the root-only source file, and the devserver's own list of accepted keys.
    hits = box.sh(
        f"grep -rlsF {shlex.quote(API_KEY)} /etc /opt/booth /run /var/log /var/lib || true",
        timeout=120,
    ).split()
    assert sorted(hits) == sorted(
        ["/etc/booth/api_key", "/etc/booth-test/api_key", f"{creds.group(1)}/api_key"]
    ), hits
    assert box.sh("stat -c '%a %U' /etc/booth/api_key").strip() == "600 root"


def test_doctor_asks_the_running_daemon_for_its_devices(container: Container) -> None:
    box = container
    pid = box.show("booth", "MainPID")["MainPID"]
    code, out, err = box.run("booth doctor --json")
    rows = {row["name"]: row for row in json.loads(out)}
    for name in ("mic", "speaker", "gpio"):
        assert "checked by the running daemon" in rows[name]["detail"], rows[name]
        assert rows[name]["status"] == "pass", rows[name]
    assert "boothmic" in rows["mic"]["detail"] and "MockFactory" in rows["gpio"]["detail"]
    assert rows["interpreter"]["status"] == "pass"
    assert "/usr/bin/python3" in rows["interpreter"]["detail"]
    assert code == 0, out + err
    assert box.show("booth", "MainPID")["MainPID"] == pid  # nothing was stopped for it
    report("doctor, from the daemon", "; ".join(rows[n]["detail"] for n in ("mic", "speaker")))


def test_stop_mid_call_ends_it_on_the_service(container: Container) -> None:
    box = container
    call_id = live_call(box)["call_id"]
    invocation = box.show("booth", "InvocationID")["InvocationID"]
    box.sh("systemctl stop booth", timeout=STOP_TIMEOUT + 10)
    props = box.show("booth", "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    # It stopped by itself (exit 0), not killed at the TimeoutStopSec deadline.
    assert props["Result"] == "success" and props["ExecMainStatus"] == "0", props
    end = server_end(box, call_id)
    assert end is not None and end_reason(end) == "client_requested"
    # From systemd's "Stopping booth.service" (the stop job began: SIGTERM) to the service's
    # own record of the call's end, both in this machine's journal.
    job = [
        e
        for e in box.journal("UNIT=booth.service", "JOB_TYPE=stop")
        if e.get("INVOCATION_ID") == invocation
    ]
    [stopping] = [e for e in job if str(e["MESSAGE"]).startswith("Stopping")]
    [stopped] = [e for e in job if str(e["MESSAGE"]).startswith("Stopped")]
    seconds = (usec(end) - usec(stopping)) / 1e6
    report(
        "systemctl stop → the service ended the call",
        f"{seconds:.3f} s (client_requested); the daemon was gone after "
        f"{(usec(stopped) - usec(stopping)) / 1e6:.2f} s (TimeoutStopSec=20s)",
    )
    assert seconds < STOP_TIMEOUT
    box.sh("systemctl start booth")


def test_kill_9_mid_call_restarts_and_ends_the_orphan(container: Container) -> None:
    box = container
    call_id = live_call(box)["call_id"]
    before = box.show("booth", "MainPID", "NRestarts")
    killed = time.monotonic()
    box.sh(f"kill -9 {before['MainPID']}")
    back = restarted_once(box, before, killed)
    end = box.until("the orphaned call to end", lambda: server_end(box, call_id), within=30)
    orphan = [e for e in box.journal("-u", "booth", "EVENT=orphan_call") if e["CALL_ID"] == call_id]
    assert orphan and orphan[-1]["END_REASON"] == "ended", orphan
    report(
        "kill -9 mid-call",
        f"active again after {back:.1f} s (RestartSec=5s); the service ended the orphan "
        f"({end_reason(end)})",
    )


def test_a_stuck_loop_is_restarted_by_the_watchdog(container: Container) -> None:
    box = container
    # The shipped WatchdogSec=20s (+ TimeoutAbortSec) would take a minute: a shorter one here.
    box.sh(
        "mkdir -p /run/systemd/system/booth.service.d && printf '%s\\n' '[Service]' "
        "WatchdogSec=3s TimeoutAbortSec=3s LimitCORE=0 "
        "> /run/systemd/system/booth.service.d/watchdog.conf && systemctl daemon-reload "
        "&& systemctl restart booth"
    )
    before = box.show("booth", "MainPID", "NRestarts")
    stuck = time.monotonic()
    box.sh(f"kill -STOP {before['MainPID']}")  # the loop stops: no WATCHDOG=1 any more
    back = restarted_once(box, before, stuck)
    messages = [str(e.get("MESSAGE")) for e in box.journal("-u", "booth")]
    assert any("Watchdog timeout" in m for m in messages)
    report(
        "stuck loop (SIGSTOP), WatchdogSec=3s", f"restarted once, active again after {back:.1f} s"
    )
    box.sh(
        "rm /run/systemd/system/booth.service.d/watchdog.conf && systemctl daemon-reload "
        "&& systemctl restart booth"
    )


def test_a_bad_config_exits_78_and_is_not_restarted(container: Container) -> None:
    box = container
    box.sh("cp /etc/booth/booth.toml /run/booth.toml.good")
    box.sh("printf '[call]\\nidle_timeout = \"soon\"\\n' >> /etc/booth/booth.toml")
    try:
        code, _, _ = box.run("systemctl restart booth")
        assert code != 0
        props = box.show("booth", "ActiveState", "SubState", "Result", "ExecMainStatus")
        # Failed, not "activating (auto-restart)": RestartPreventExitStatus=78.
        assert props["ExecMainStatus"] == "78" and props["ActiveState"] == "failed", props
        assert props["Result"] == "exit-code"
        messages = " ".join(str(e.get("MESSAGE")) for e in box.journal("-u", "booth", "-n", "20"))
        assert "/etc/booth/booth.toml" in messages and "idle_timeout" in messages
        report("bad config", f"exit 78, unit {props['ActiveState']}/{props['SubState']}")
    finally:
        box.sh("cp /run/booth.toml.good /etc/booth/booth.toml && systemctl reset-failed booth")
    box.sh("systemctl start booth")


def test_library_warnings_are_booth_records_once(container: Container) -> None:
    box = container
    # Without the mock pins, gpiozero tries each pin factory and warns for each.
    box.sh(
        "mkdir -p /run/systemd/system/booth.service.d && printf '%s\\n' '[Service]' "
        "UnsetEnvironment=GPIOZERO_PIN_FACTORY > /run/systemd/system/booth.service.d/gpio.conf "
        "&& systemctl daemon-reload && systemctl restart booth"
    )
    try:
        invocation = box.show("booth", "InvocationID")["InvocationID"]
        records = box.journal(f"_SYSTEMD_INVOCATION_ID={invocation}")
        warned = [str(e["MESSAGE"]) for e in records if e.get("EVENT") == "library_warning"]
        assert any(m.startswith("PinFactoryFallback: Falling back from") for m in warned)
        assert len(warned) == len(set(warned)) and all("\n" not in m for m in warned), warned
        assert all(e.get("LOGGER") for e in records), [e["MESSAGE"] for e in records]
        report("library warnings (no GPIO)", f"{len(warned)} booth records, e.g. {warned[0]!r}")
    finally:
        box.sh(
            "rm /run/systemd/system/booth.service.d/gpio.conf && systemctl daemon-reload "
            "&& systemctl restart booth"
        )


def test_the_socket_serves_the_booth_group_and_refuses_others(container: Container) -> None:
    box = container
    box.sh(
        "useradd --system --no-create-home --groups booth booth-operator && "
        "useradd --system --no-create-home booth-stranger"
    )
    # A member of the booth group (a supplementary group, as `usermod -aG booth` makes it).
    member = box.sh("runuser -u booth-operator -- booth status --json")
    assert json.loads(member)["state"] in ("idle", "scoring")
    code, out, err = box.run("runuser -u booth-stranger -- booth status")
    assert code == 69 and "permission denied" in err, out + err
    assert box.sh("stat -c '%a %G' /run/booth/control.sock /run/booth").split() == [
        "660", "booth", "750", "booth",
    ]  # fmt: skip


def test_provisioning_again_changes_nothing(container: Container) -> None:
    box = container
    pid = box.show("booth", "MainPID")["MainPID"]
    out = box.sh(f"{REPO}/scripts/provision < /dev/null", timeout=300)
    assert "provision: unchanged" in out, out
    assert "all checks passed" in out, out  # its doctor, through the daemon
    assert box.show("booth", "MainPID")["MainPID"] == pid  # not restarted


def test_uninstall_leaves_nothing_behind(container: Container) -> None:
    box = container
    out = box.sh(f"{REPO}/scripts/provision --uninstall", timeout=120)
    assert "removed user booth" in out, out
    left = box.sh(
        "for p in /etc/booth /opt/booth /usr/local/bin/booth /etc/systemd/system/booth.service "
        "/etc/systemd/system/multi-user.target.wants/booth.service /etc/sysusers.d/booth.conf "
        "/run/booth; do [ -e $p ] || [ -L $p ] && echo $p; done; getent passwd booth; "
        "getent group booth; systemctl list-unit-files booth.service --no-legend; true"
    )
    assert left.strip() == "", left
