"""Prepares a node for the contract run (.ci/contract.sh): waits for it,
signs in as admin, registers a product, makes one object of each kind the
console operations name in their paths, and writes the schemathesis
configurations that pin those paths to them. Prints `cookie=…` and `key=…`
for the shell. Standard library only.

    python3 .ci/contract_setup.py BASE_URL PASSWORD ENROLLMENT_SECRET WORK_DIR
"""

import json
import sys
import time
import urllib.request

base, password, secret, work = sys.argv[1:5]


def call(path, body=None, cookie=None):
    headers = {"content-type": "application/json", "origin": base}
    if cookie:
        headers["cookie"] = cookie
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return response.headers, (json.loads(text) if text else None)


for _ in range(100):
    try:
        call("/healthz")
        break
    except OSError:
        time.sleep(0.1)

headers, _ = call("/api/v1/auth/login", {"username": "admin", "password": password})
cookie = next(
    c.split(";")[0] for c in headers.get_all("set-cookie") if c.startswith("vigil_session=")
)
_, product = call(
    "/api/v1/products/register",
    {
        "enrollment_secret": secret,
        "uuid": "7d9f3c1e-4a2b-4c8d-9e0f-1a2b3c4d5e6f",
        "name": "contract",
        "product_type": "test",
        "version": "1",
    },
)
pid = product["product_id"]


def make(path, body):
    return call(path, body, cookie)[1]


folder = make("/api/v1/content/folders", {"name": "Contract folder"})["id"]
item = make("/api/v1/content", {"name": "Offline", "definition": "products where status = offline"})["id"]
alert = make(
    "/api/v1/content",
    {
        "kind": "alert",
        "name": "Offline alert",
        "definition": "products where status = offline",
        "alert": {"condition": "rows > 0", "period": "60s"},
    },
)["id"]
command = make("/api/v1/commands", {"product_id": pid, "kind": "ping"})["id"]
make("/api/v1/users", {"username": "contract-user", "password": "contract-user-password", "role": "viewer"})
token = make("/api/v1/tokens", {"name": "contract token"})["id"]

# The product's own id in the product operations' paths, so they reach
# their logic instead of answering 404.
with open(f"{work}/product.toml", "w") as f:
    f.write(f'[parameters]\n"path.id" = "{pid}"\n')
pins = [
    (r"^/api/v1/products/\{id\}", {"path.id": pid}),
    (r"^/api/v1/content/\{id\}(?!/nodes)", {"path.id": item}),
    (r"^/api/v1/content/\{id\}/nodes/", {"path.id": alert, "path.node": "contract"}),
    (r"^/api/v1/content/folders/", {"path.id": folder}),
    (r"^/api/v1/alerts/", {"path.id": alert}),
    (r"^/api/v1/commands/", {"path.id": command}),
    (r"^/api/v1/users/", {"path.name": "contract-user"}),
    (r"^/api/v1/tokens/", {"path.id": token}),
    (r"^/api/v1/(nodes|centralization)/", {"path.name": "contract", "path.node": "contract"}),
]
with open(f"{work}/console.toml", "w") as f:
    for regex, params in pins:
        values = ", ".join(f'"{k}" = "{v}"' for k, v in params.items())
        f.write(f"[[operations]]\ninclude-path-regex = '{regex}'\nparameters = {{ {values} }}\n")
print(f"cookie='{cookie}'")
print(f"key='{product['key']}'")
