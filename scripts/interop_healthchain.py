"""HealthChain's SandboxClient drives Bedside (scripts/interop-healthchain.sh).

Usage: interop_healthchain.py BASE_URL TOKENS_JSON

SandboxClient sends no Authorization header of its own: an httpx event
hook adds one demo-EHR JWT per call (TOKENS_JSON maps each service URL to
unused tokens). Another hook keeps every raw answer, and each must parse
into HealthChain's CDSResponse model (SandboxClient itself falls back to
the raw dict when parsing fails, so its result alone proves nothing).
Exit status 1 with the reason on the first failure.
"""

import gzip
import json
import logging
import os
import sys

import httpx
from healthchain.models.responses.cdsresponse import CDSResponse
from healthchain.sandbox import SandboxClient
from healthchain.sandbox.requestconstructors import CdsRequestConstructor
from healthchain.sandbox.workflows import Workflow

BASE, TOKENS = sys.argv[1], json.load(open(sys.argv[2]))
logging.getLogger("healthchain").setLevel(logging.WARNING)
PATIENTS = 25
raw = []  # (url, status, body) of every CDS call


def add_token(request: httpx.Request) -> None:
    url = str(request.url)
    if "/cds-services/" in url:
        request.headers["Authorization"] = f"Bearer {TOKENS[url].pop()}"


def keep_answer(response: httpx.Response) -> None:
    if "/cds-services/" in str(response.request.url):
        response.read()
        raw.append((str(response.request.url), response.status_code, response.text))


_init = httpx.Client.__init__


def _client_init(self, *args, **kwargs):
    hooks = kwargs.pop("event_hooks", None) or {}
    hooks.setdefault("request", []).append(add_token)
    hooks.setdefault("response", []).append(keep_answer)
    _init(self, *args, event_hooks=hooks, **kwargs)


httpx.Client.__init__ = _client_init


def fail(why: str) -> None:
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def patient_ids() -> list:
    """The first patients of the demo cohort `bedside demo` replayed."""
    path = os.path.join(os.path.dirname(__file__), "..", "demo", "cohort", "Patient.ndjson.gz")
    with gzip.open(path, "rt") as f:
        ids = [json.loads(line)["id"] for line in f if line.strip()]
    if not ids:
        fail("the demo cohort has no patients")
    return ids[:PATIENTS]


ANTIBIOTIC = {
    "resourceType": "MedicationRequest",
    "id": "draft-abx",
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "74169",
                "display": "piperacillin / tazobactam",
            }
        ]
    },
}


def run(workflow: Workflow, ids: list) -> list:
    url = f"{BASE}/cds-services/sepsis-demo-{workflow.value}"
    client = SandboxClient(url=url, workflow=workflow)
    constructor = CdsRequestConstructor()
    for pid in ids:
        context = {"userId": "Practitioner/demo", "patientId": pid}
        if workflow == Workflow.order_sign:
            draft = dict(ANTIBIOTIC, subject={"reference": f"Patient/{pid}"})
            context["draftOrders"] = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": draft}],
            }
        client.requests.append(constructor.construct_request({}, workflow, context))
    start = len(raw)
    client.send_requests()
    answers = raw[start:]
    if len(answers) != len(ids):
        fail(f"{workflow.value}: {len(answers)} answers to {len(ids)} calls")
    cards = []
    for url, status, body in answers:
        if status != 200:
            fail(f"{url}: HTTP {status}: {body[:300]}")
        try:
            parsed = CDSResponse(**json.loads(body))
        except Exception as e:  # the point of the test: name what did not parse
            fail(f"{url}: HealthChain's CDSResponse does not parse the answer: {e}")
        cards.extend(parsed.cards)
    with_suggestions = [c for c in cards if c.suggestions]
    with_links = [c for c in cards if c.links]
    print(
        f"{workflow.value}: {len(answers)} answers parsed, {len(cards)} cards, "
        f"{len(with_suggestions)} with suggestions, {len(with_links)} with links"
    )
    if not with_links:
        fail(f"{workflow.value}: no card with links: nothing of the link model was checked")
    return cards


ids = patient_ids()
run(Workflow.patient_view, ids)
signed = run(Workflow.order_sign, ids)
if not any(c.suggestions for c in signed):
    fail("order-sign: no card with suggestions: nothing of the suggestion model was checked")
for c in signed:
    for s in c.suggestions or []:
        if "antibiotic" in s.label.lower():
            fail(f"order-sign suggests {s.label!r} with an antibiotic in draftOrders")
print("HealthChain SandboxClient parsed every answer")
