"""Real storage services behind the upload handlers ``s3-sts-v1`` and ``az-sas-v1`` (uploads.py), run as child
processes on loopback: moto's server mode for S3 (with STS and IAM), Azurite for Azure Blob Storage.

Each stand-in starts on a free port of 127.0.0.1, waits for it (bounded: ``start_timeout``), writes its log to a
file of its folder, gets no standard input or output of ours, and stops with ``stop()`` (SIGTERM, then SIGKILL).

- :class:`MotoS3`: ``moto_server`` with ``INITIAL_NO_AUTH_ACTION_COUNT=0``: every request is checked against IAM
  (without it moto takes any key). The stand-in lifts that for exactly the three IAM calls that create its admin
  user (``/moto-api/reset-auth``), then proves a wrong key is refused. ``credentials_for(bucket, key)`` makes a
  role whose one policy allows ``s3:*`` on ``bucket/key*`` (moto wants more than ``s3:PutObject`` for multipart)
  and assumes it: temporary credentials, scoped like the platform's. Clients reach it through
  ``AWS_ENDPOINT_URL_S3=<endpoint>`` (boto3 honours it).
- :class:`Azurite`: ``azurite-blob`` 3.35.0 from ``.venv/azurite`` (hacking/install-azurite.sh), with
  ``--skipApiVersionCheck`` (azure-storage-blob 12.31 sends a newer API version) and ``--disableTelemetry`` (else
  it contacts a Microsoft host), in-memory. ``sas_url(container, blob, ...)`` signs a SAS for one blob with the
  well-known ``devstoreaccount1`` key, path-style: ``http://127.0.0.1:P/devstoreaccount1/<container>/<blob>?<sas>``.

boto3 and azure-storage-blob are imported only when a stand-in starts: the simulator itself needs neither.
"""

import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
AZURITE = REPO / ".venv" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_INSTALL = "hacking/install-azurite.sh"
AZURE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key (public, documented by Microsoft for the emulator).
AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REGION = "us-east-1"
ADMIN_USER = "divio-simulator"
START_TIMEOUT = 30.0


class StandInError(RuntimeError):
    """A stand-in could not start, or does not behave as the tests need; the message says which and why."""


def _free_port(host="127.0.0.1"):
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Process:
    """One child process on loopback: started, awaited, stopped; its output in ``log``."""

    name = "stand-in"

    def __init__(self, folder=None, start_timeout=START_TIMEOUT):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="divio-%s-" % self.name))
        self._own_folder = folder is None
        self.start_timeout = start_timeout
        self.port = None
        self.proc = None
        self.started_in = None  # seconds the start took
        self.log = self.folder / ("%s.log" % self.name)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def command(self):
        raise NotImplementedError

    def environment(self):
        return dict(os.environ)

    def start(self):
        began = time.monotonic()
        self.port = _free_port()
        with open(self.log, "wb") as log:
            try:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             cwd=str(self.folder), env=self.environment(), start_new_session=True)
            except OSError as exc:
                raise StandInError("%s could not start: %s" % (self.name, exc)) from exc
        try:
            self._await_port(began)
            self.ready()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _await_port(self, began):
        while time.monotonic() - began < self.start_timeout:
            if self.proc.poll() is not None:
                raise StandInError("%s exited with %s at start; its log, %s, ends: %s"
                                   % (self.name, self.proc.returncode, self.log, self.log_tail()))
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise StandInError("%s did not listen on 127.0.0.1:%d within %.0f s; its log, %s, ends: %s"
                           % (self.name, self.port, self.start_timeout, self.log, self.log_tail()))

    def ready(self):
        """Set up what the simulator needs once the port answers."""

    def log_tail(self, lines=5):
        with contextlib.suppress(OSError):
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        return "(no log)"

    def rss_kib(self):
        """Resident memory of the process, in KiB (Linux), else None."""
        with contextlib.suppress(OSError, AttributeError):
            for line in Path("/proc/%d/status" % self.proc.pid).read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class MotoS3(_Process):
    """moto's server mode with IAM enforced: S3 for ``s3-sts-v1`` uploads, STS for their credentials."""

    name = "moto"

    def __init__(self, folder=None, start_timeout=START_TIMEOUT):
        super().__init__(folder, start_timeout)
        self.admin = None  # (access key id, secret) of the simulator's own IAM user
        self._lock = threading.Lock()
        self._clients = {}

    def command(self):
        script = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
        if script is None:
            raise StandInError("moto_server not found next to %s nor on PATH: pip install 'moto[server]' "
                               "(requirements-test.txt has it)" % sys.executable)
        return [script, "-H", "127.0.0.1", "-p", str(self.port)]

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # Without it moto accepts any key, and a credential test proves nothing.
        env.update(INITIAL_NO_AUTH_ACTION_COUNT="0", MOTO_PORT=str(self.port))
        return env

    def client(self, service, credentials=None):
        """A boto3 client of this moto, as the admin unless ``credentials`` (key, secret, token) are given."""
        import boto3
        from botocore.config import Config

        key, secret, token = credentials or (self.admin + (None,))
        with self._lock:
            cached = self._clients.get((service, key))
            if cached is None:
                cached = boto3.session.Session().client(
                    service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=key,
                    aws_secret_access_key=secret, aws_session_token=token,
                    config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60))
                if credentials is None:
                    self._clients[(service, key)] = cached
        return cached

    def ready(self):
        while True:  # the port answers before Flask does: retry briefly (bounded by start_timeout)
            try:
                self._post("/moto-api/reset-auth", b"3")  # the next three calls go unchecked: the admin's own
                break
            except (OSError, urllib.error.URLError) as exc:
                if time.monotonic() - self._began > self.start_timeout:
                    raise StandInError("moto did not answer /moto-api/reset-auth: %s" % exc) from exc
                time.sleep(0.2)
        iam = self.client("iam", ("bootstrap", "bootstrap", None))
        iam.create_user(UserName=ADMIN_USER)
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        made = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin = (made["AccessKeyId"], made["SecretAccessKey"])
        self._check_enforced()

    def start(self):
        self._began = time.monotonic()
        return super().start()

    def _post(self, path, data):
        request = urllib.request.Request(self.endpoint + path, data=data, method="POST",
                                         headers={"Content-Type": "text/plain"})  # a form body would be parsed away
        with urllib.request.urlopen(request, timeout=5) as answer:  # loopback only
            return answer.read()

    def _check_enforced(self):
        from botocore.exceptions import ClientError

        try:
            self.client("s3", (self.admin[0], "not-the-secret", None)).list_buckets()
        except ClientError:
            return
        raise StandInError("moto accepted a wrong secret: IAM is not enforced (INITIAL_NO_AUTH_ACTION_COUNT)")

    def create_bucket(self, bucket):
        s3 = self.client("s3")
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=bucket)

    def credentials_for(self, bucket, key, name):
        """Temporary credentials (key, secret, token) allowed ``s3:*`` on ``bucket/key*`` alone; ``name`` names
        the role (unique per upload)."""
        iam, sts = self.client("iam"), self.client("sts")
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::%s/%s*" % (bucket, key)}]}
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="upload", PolicyDocument=json.dumps(policy))
        made = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=name[:64], DurationSeconds=3600)["Credentials"]
        return made["AccessKeyId"], made["SecretAccessKey"], made["SessionToken"]

    def revoke(self, name):
        """Take the role's rights away: its credentials then get 403 AccessDenied (moto checks no expiry)."""
        self.client("iam").delete_role_policy(RoleName=name, PolicyName="upload")

    def read_object(self, bucket, key, limit):
        """The object's bytes, or None when there is none; ValueError when it is larger than ``limit``."""
        s3 = self.client("s3")
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError:
            return None
        if head["ContentLength"] > limit:
            raise ValueError("the object is %d bytes, over the limit of %d" % (head["ContentLength"], limit))
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def delete_object(self, bucket, key):
        self.client("s3").delete_object(Bucket=bucket, Key=key)


class Azurite(_Process):
    """Azurite's blob service: Azure Blob Storage for ``az-sas-v1`` uploads, with real SAS checks."""

    name = "azurite"

    def __init__(self, folder=None, start_timeout=START_TIMEOUT, program=None):
        super().__init__(folder, start_timeout)
        self.program = Path(program or os.environ.get("DIVIO_SIMULATOR_AZURITE") or AZURITE)

    def command(self):
        if not self.program.exists():
            raise StandInError("Azurite is not installed at %s: run %s (make test does)" % (self.program, AZURITE_INSTALL))
        return [str(self.program), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                "--skipApiVersionCheck", "--disableTelemetry", "--inMemoryPersistence",
                "--silent"]

    @property
    def account_url(self):
        return "%s/%s" % (self.endpoint, AZURE_ACCOUNT)

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(self.account_url, credential={"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY})

    def ready(self):
        self.create_container("probe")  # proves the service answers signed requests

    def create_container(self, container):
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self.service().create_container(container)

    def sas_url(self, container, blob, permission="cw", lifetime=3600):
        """A blob URL with a SAS of ``permission`` (default create and write) valid ``lifetime`` seconds from now
        (negative: already expired)."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        now = datetime.datetime.now(datetime.timezone.utc)
        sas = generate_blob_sas(AZURE_ACCOUNT, container, blob, account_key=AZURE_KEY,
                                permission=BlobSasPermissions.from_string(permission),
                                start=now - datetime.timedelta(minutes=5) if lifetime > 0 else now - datetime.timedelta(hours=2),
                                expiry=now + datetime.timedelta(seconds=lifetime))
        return "%s/%s/%s?%s" % (self.account_url, container, blob, sas)

    def read_blob(self, container, blob, limit):
        """The blob's bytes, or None when there is none; ValueError when it is larger than ``limit``."""
        from azure.core.exceptions import ResourceNotFoundError

        client = self.service().get_blob_client(container, blob)
        try:
            size = client.get_blob_properties().size
        except ResourceNotFoundError:
            return None
        if size > limit:
            raise ValueError("the blob is %d bytes, over the limit of %d" % (size, limit))
        return client.download_blob().readall()

    def delete_blob(self, container, blob):
        self.service().get_blob_client(container, blob).delete_blob()
