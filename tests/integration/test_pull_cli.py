"""Fidelity: divio-cli 4.0.5's ``app pull db`` and ``app pull media`` run against the simulator up to and including
the download - its temporary backup, backup-downloads, the download part polled without a trailing slash, the file
from the object storage - so the simulator's downloads behave the way the platform's own client expects.

divio-cli then works with docker: a stand-in ``docker`` on PATH answers ``docker compose config`` with a project's
compose file, ``ps -q`` with a container id, and records every other call (``up``, ``exec ... pg_restore``, ``run``)
as done. The files divio-cli keeps (``--keep-tempfile``) hold the simulator's content after requests decoded any
``Content-Encoding`` (media is served ``Content-Encoding: gzip``, so divio-cli's ``data.tar.gz`` is the plain tar).
divio-cli is conftest.py's ``divio_cli`` installation, in an isolated HOME set up the way ``divio_runner`` does it.
"""

import gzip
import json
import os
import subprocess

import pytest

from testlib import TOKEN, private_simulator

COMPOSE_CONFIG = """services:
  web:
    image: web
    volumes:
      - type: bind
        source: {project}/data
        target: /data
  database_default:
    image: postgres:15
    environment:
      SERVICE_MANAGER: fsm-postgres
"""

DOCKER = """#!/bin/sh
# A stand-in for docker: enough of "docker compose" for divio-cli's pull, every call logged.
echo "$*" >> "{log}"
if [ "$1" = compose ]; then
  case " $* " in
    *" config "*) cat "{config}" ;;
    *" ps "*) echo 0123456789ab ;;
  esac
fi
exit 0
"""


@pytest.fixture
def pull(divio_cli, divio_home, tmp_path):
    """``pull(sim, "db" | "media")``: divio-cli in a project directory of wiki, with the docker stand-in."""
    project = tmp_path / "project"
    (project / ".divio").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "docker-compose.yml").write_text("services: {}\n")
    config = tmp_path / "compose-config.yml"
    config.write_text(COMPOSE_CONFIG.format(project=project))
    bin_dir, log = tmp_path / "bin", tmp_path / "docker.log"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(DOCKER.format(log=log, config=config))
    (bin_dir / "docker").chmod(0o755)
    home, netrc = divio_home, divio_home / ".netrc"

    def run(sim, what):
        app = next(a for a in sim.dataset.applications if a["slug"] == "wiki")
        (project / ".divio" / "config.json").write_text(json.dumps({"application_uuid": app["uuid"], "slug": "wiki"}))
        env = {"HOME": str(home), "NETRC_PATH": str(netrc), "PATH": "%s:%s" % (bin_dir, os.environ.get("PATH", "/usr/bin:/bin")),
               "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1", "LANG": "C.UTF-8", "TERM": "dumb"}
        proc = subprocess.run([divio_cli, "-z", sim.url, "app", "pull", what, "live", "--keep-tempfile"], env=env,
                              cwd=str(project), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
                              check=False)
        assert TOKEN not in proc.stdout + proc.stderr
        return proc, project, log.read_text() if log.exists() else ""

    return run


def served(sim):
    return [data for data, _headers, _fault in sim.download_jobs.files.values()]


def test_divio_cli_pulls_a_database_dump(pull):
    with private_simulator(downloads={"duration_seconds": 0.5}, backup_duration_seconds=0.5) as sim:
        proc, project, docker = pull(sim, "db")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        saved = (project / ".divio" / "data.dump").read_bytes()
        assert saved[:5] == b"PGDMP" and served(sim) == [saved]
        paths = [path for _method, path, _status in sim.requests]
        assert [p for m, p, _s in sim.requests if m == "POST"] == ["/apps/v3/backups/", "/apps/v3/backup-downloads/"]
        # The download part was read the way divio-cli reads it: without the trailing slash.
        assert any(p.startswith("/apps/v3/backup-download-service-instances/") and not p.endswith("/") and "?" not in p
                   for p in paths)
        # The object storage (on 127.0.0.2, not the API's host) saw neither the token nor the API's cookie.
        [seen] = sim.storage.requests()
        assert (seen["method"], seen["authorization"], seen["cookie"]) == ("GET", False, None)
        assert "pg_restore" in docker  # the docker step it went on to, done by the stand-in


def test_divio_cli_pulls_media(pull):
    with private_simulator(downloads={"duration_seconds": 0.5}, backup_duration_seconds=0.5) as sim:
        proc, project, _docker = pull(sim, "media")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        [archive] = served(sim)
        saved = (project / ".divio" / "data.tar.gz").read_bytes()
        # requests decoded the Content-Encoding: divio-cli's "data.tar.gz" is the plain tar inside the object.
        assert saved == gzip.decompress(archive)
        # The archive's entries sit at its root: divio-cli unpacks them into data/media itself.
        assert (project / "data" / "media" / "uploads" / "notes.txt").stat().st_size == 900
