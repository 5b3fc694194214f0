"""Authentication for `make fuzz-api` (scripts/api-fuzz.sh), loaded by
schemathesis through SCHEMATHESIS_HOOKS.

The run logs out, logs out everywhere and changes passwords (those are
operations too), and its admin deletes, deactivates and demotes the users whose
ids it has seen, so neither a token nor an account lives long. This provider
logs in afresh whenever it is asked: schemathesis asks again when a request
with the cached token gets a 401, then replays that request once with the new
token. When the account itself no longer logs in, it makes a new one (a user
through register, an admin through `dealroom create-admin`).

Admin routes (user management) get an admin's token for three cases in four,
the user's for the fourth (which then checks that a user is refused); the
choice is a function of the generated case, so a run with the same seed makes
the same choices. api-fuzz.sh sets the environment read here.
"""

import hashlib
import json
import os
import re
import subprocess
import threading

import requests
import schemathesis

BASE = os.environ["FUZZ_BASE_URL"]
DEALROOM = os.environ["FUZZ_DEALROOM_BIN"]
PASSWORD = "fuzz-password-1"
# GET /users, and /users/{id} with what hangs below it; /users/me is anyone's.
ADMIN_PATH = re.compile(r"^/api/v1/users(/\{id\}(/.*)?)?$")


def role_for(case, context):
    if not ADMIN_PATH.match(context.operation.path):
        return "user"
    drawn = json.dumps([case.path_parameters, case.query, case.body], sort_keys=True, default=repr)
    digest = hashlib.sha256(drawn.encode()).digest()
    return "user" if digest[0] % 4 == 0 else "admin"


class Accounts:
    """The current user and admin; a new one when the old one is gone."""

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = {"user": 0, "admin": 0}

    def email(self, role):
        return f"fuzz-{role}-{self.generation[role]}@example.com"

    def login(self, role):
        return requests.post(
            f"{BASE}/api/v1/auth/login",
            json={"email": self.email(role), "password": PASSWORD, "deviceName": "schemathesis"},
            timeout=10,
        )

    def create(self, role):
        self.generation[role] += 1
        email = self.email(role)
        if role == "user":
            res = requests.post(
                f"{BASE}/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "name": "Fuzz"},
                timeout=10,
            )
            if res.status_code != 201:
                raise RuntimeError(f"register {email}: {res.status_code} {res.text}")
        else:
            subprocess.run(
                [DEALROOM, "create-admin", "--email", email, "--name", "Fuzz Admin"],
                env={**os.environ, "DEALROOM_ADMIN_PASSWORD": PASSWORD},
                check=True,
                stdout=subprocess.DEVNULL,
            )

    def token(self, role):
        with self.lock:
            res = self.login(role)
            if res.status_code == 401:
                # Deleted, deactivated or given another password by the run.
                self.create(role)
                res = self.login(role)
            if res.status_code != 200:
                raise RuntimeError(f"login as {self.email(role)}: {res.status_code} {res.text}")
            return res.json()["data"]["tokens"]["accessToken"]


ACCOUNTS = Accounts()


@schemathesis.auth(cache_by_key=role_for, retry_on=[401])
class LoginAgain:
    def get(self, case, context):
        return ACCOUNTS.token(role_for(case, context))

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
