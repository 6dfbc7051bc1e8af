"""Stopping `make run` the way docker, systemd and CI do leaves nothing of ours running.

Issue 10 findings 2 and 3: a group SIGTERM with make's second SIGTERM arriving at any moment,
a SIGKILL of the runner, and a second runner on a data directory one already serves.
"""

from __future__ import annotations

import signal
import time

import pytest
from fault_support import Run

pytestmark = pytest.mark.faults


def _kinds(children: dict[int, str]) -> list[str]:
    return sorted("engine" if "valkey-server" in cmd else "web" if "echonest.web.server" in cmd
                  else "player" if "master_player" in cmd else cmd
                  for cmd in children.values())


@pytest.mark.parametrize("second_after", [None, 0.0, 0.2, 1.0])
def test_group_sigterm_and_a_second_sigterm_at_any_moment_stop_everything(tmp_path,
                                                                          second_after):
    with Run(tmp_path) as run:
        run.wait_healthy()
        assert _kinds(run.children()) == ["engine", "player", "web", "web"]
        run.group_signal(signal.SIGTERM)
        if second_after is not None:
            time.sleep(second_after)  # where the second signal lands, not a timed assert
            run.group_signal(signal.SIGTERM)
        assert run.proc.wait(60) == 0, run.log()
        assert run.wait_all_gone() == {}, run.log()
        assert "Traceback" not in run.log()
        # The engine went last: the player handed its buckets back, so the next start plays
        # at once instead of waiting out the lease.
        assert "could not hand the player buckets back" not in run.log()


def test_a_storm_of_sigterms_during_the_stop_still_stops_everything(tmp_path):
    # Signals arriving every millisecond while the runner stops: any instant at which a signal
    # could cut its clean-up short gets hit.
    with Run(tmp_path) as run:
        run.wait_healthy()
        run.group_signal(signal.SIGTERM)
        while run.proc.poll() is None:
            try:
                run.group_signal(signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.001)
        assert run.proc.wait(60) == 0, run.log()
        assert run.wait_all_gone() == {}, run.log()


@pytest.mark.parametrize("second_after", [0.3])
def test_make_run_stopped_as_a_group_leaves_nothing(tmp_path, second_after):
    # The real thing: make is the group leader and forwards its own SIGTERM to the runner.
    with Run(tmp_path, make=True) as run:
        run.wait_healthy()
        run.group_signal(signal.SIGTERM)
        time.sleep(second_after)
        run.group_signal(signal.SIGTERM)
        run.proc.wait(60)
        assert run.wait_all_gone() == {}, run.log()


def test_sigkill_of_the_runner_takes_every_child_with_it_and_loses_nothing(tmp_path):
    with Run(tmp_path) as run:
        run.wait_healthy()
        client = run.engine_client()
        client.set("fault:probe", "kept")
        client.close()
        run.proc.send_signal(signal.SIGKILL)
        run.proc.wait(10)
        assert run.wait_all_gone() == {}, run.log()
        assert "Traceback" not in run.log()

    # The data directory is free again and nothing written before the kill is lost.
    with Run(tmp_path, data_dir=run.data_dir, name="again") as again:
        again.wait_healthy()
        client = again.engine_client()
        assert client.get("fault:probe") == "kept"
        client.close()


def test_a_second_runner_refuses_a_data_directory_that_one_serves(tmp_path):
    with Run(tmp_path) as first:
        first.wait_healthy()
        client = first.engine_client()
        client.set("fault:probe", "first")
        with Run(tmp_path, data_dir=first.data_dir, name="second") as second:
            assert second.proc.wait(60) == 1
            assert "another EchoNest engine already serves" in second.log()
            assert second.wait_all_gone() == {}
        # The first is untouched: same engine, same data, still serving.
        assert client.get("fault:probe") == "first"
        assert _kinds(first.children()) == ["engine", "player", "web", "web"]
        client.close()


def test_engine_files_are_private_and_need_the_generated_password(tmp_path):
    import redis

    with Run(tmp_path) as run:
        run.wait_healthy()
        client = run.engine_client()
        client.set("fault:probe", "x")
        client.bgrewriteaof()
        anonymous = redis.Redis(host=client.connection_pool.connection_kwargs["host"],
                                port=client.connection_pool.connection_kwargs["port"])
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("fault:probe")
        client.close()
    assert run.data_dir.stat().st_mode & 0o777 == 0o700
    found = list(run.data_dir.rglob("*"))
    assert any("appendonly" in p.name for p in found)
    for path in found:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
