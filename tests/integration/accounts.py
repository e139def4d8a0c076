"""Small hand-made accounts for the simulator: one rule at a time, record by record, over real HTTP."""

import base64
import contextlib
import datetime
import random
import uuid

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

from divio_simulator import Dataset, run_simulator
from testlib import TOKEN


def id_styles():
    """Both id shapes the simulator can hand out: Divio's opaque base32 ids and RFC 4122 UUIDs."""
    return ["divio", "uuid"] if "id_style" in Dataset.__dataclass_fields__ else ["uuid"]


class Account:
    """An account with one application ``app`` and its environment ``live``, built record by record.

    ``instance()`` adds a service instance, ``backup()`` a backup of some of them with one part each,
    shaped like the simulator's records; ``serve()`` runs a simulator over it."""

    def __init__(self, id_style):
        self.id_style = id_style
        self.rng = random.Random(13)
        self.now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.org = {"uuid": self.new_id(), "name": "Acme", "created_at": "2020-01-01T00:00:00Z"}
        self.app = {"uuid": self.new_id(), "slug": "app", "name": "App", "organisation": self.org["uuid"], "repository": None}
        self.env = {"uuid": self.new_id(), "slug": "live", "application": self.app["uuid"], "branch": "main",
                    "last_finished_deployment": None, "ssh_endpoint": None}
        self.instances, self.backups, self.parts = [], [], []

    def new_id(self):
        bits = self.rng.getrandbits(128)
        if self.id_style == "uuid":
            return str(uuid.UUID(int=bits, version=4))
        return base64.b32encode(bits.to_bytes(16, "big")).decode().lower()[:26]

    def at(self, hours_ago, minutes=0):
        moment = self.now - datetime.timedelta(hours=hours_ago) + datetime.timedelta(minutes=minutes)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def instance(self, kind, prefix="DEFAULT", status="READY"):
        item = {"uuid": self.new_id(), "environment": self.env["uuid"], "prefix": prefix, "type": kind,
                "service_status": status, "region": None, "service": kind.lower()}
        self.instances.append(item)
        return item

    def backup(self, hours_ago, instances, success="SUCCESS", drop=(), part_fields=None, **fields):
        """A finished backup ``hours_ago`` hours old; ``drop``: part fields left out (as older objects may)."""
        uuid_ = self.new_id()
        item = {"uuid": uuid_, "environment": self.env["uuid"], "state": "COMPLETED", "success": success,
                "trigger": "SCHEDULED", "notes": "", "service_instance_backups": [], "scheduled_for_deletion_at": None,
                "created_at": self.at(hours_ago), "started_at": self.at(hours_ago, 1), "ended_at": self.at(hours_ago, 9)}
        item.update(fields)
        for instance in instances:
            part = {"uuid": self.new_id(), "backup": uuid_, "service_instance": instance["uuid"],
                    "service_type": instance["type"], "queued_at": self.at(hours_ago), "started_at": self.at(hours_ago, 2),
                    "ended_at": self.at(hours_ago, 4), "taken_at": self.at(hours_ago, 3), "size": 1000, "errors": []}
            part.update(part_fields or {})
            for field in drop:
                del part[field]
            item["service_instance_backups"].append(part["uuid"])
            self.parts.append(part)
        self.backups.append(item)
        return item

    @contextlib.contextmanager
    def serve(self, **server_args):
        dataset = Dataset(now=self.now, user={"uuid": self.new_id(), "email": "ada@example.com"},
                          organisations=[self.org], regions=[], applications=[self.app], environments=[self.env],
                          deployments=[], service_instances=self.instances, backups=self.backups,
                          service_instance_backups=self.parts)
        dataset.id_style = self.id_style  # ids it makes itself, and how it reads ids in filters
        with run_simulator(dataset=dataset, token=TOKEN, **server_args) as server:
            with DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={}) as client:
                self.server = server
                yield client
