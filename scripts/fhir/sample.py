"""Drive a running `bedside demo` and dump one sample of every kind of
FHIR resource Bedside writes into OUT_DIR (one JSON file each):

  python scripts/fhir/sample.py BASE_URL OUT_DIR

A nurse Task is claimed, acknowledged and completed with a decision (so a
completed Task carries `output`), then the Task, its RiskAssessment, the
patient's Provenance, searchset Bundles (a page with
links too), the CapabilityStatement and OperationOutcomes of refused
requests (400, 404, 405, 406, 415) are fetched. Fails if a kind is missing.
Standard library only.
"""
import json
import os
import sys
import urllib.error
import urllib.request

BASE, OUT = sys.argv[1].rstrip("/"), sys.argv[2]
os.makedirs(OUT, exist_ok=True)


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def need(cond, what):
    if not cond:
        sys.exit(f"sample: {what}")


def dump(name, v):
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(v, f, indent=1)


st, cap = call("GET", "/fhir/metadata")
need(st == 200, f"GET /fhir/metadata answered {st}: {cap}")
dump("CapabilityStatement", cap)

st, open_tasks = call("GET", "/fhir/Task?status=requested&_count=1000")
need(st == 200 and open_tasks.get("entry"), f"no requested Task in the demo ({st})")
# A Task of a risk pathway (its focus is the alert's RiskAssessment): the
# nurse's when one is open, else any; radiology reviews point at the AI
# finding instead.
risk_tasks = [e["resource"] for e in open_tasks["entry"]
              if e["resource"].get("focus", {}).get("reference", "").startswith("RiskAssessment/")]
need(risk_tasks, "no requested Task of a risk pathway in the demo")
task = next(
    (t for t in risk_tasks if t["code"]["coding"][0]["code"] == "Task_NurseReassessment"),
    risk_tasks[0],
)
tid = task["id"]
patient = task["for"]["reference"].split("/", 1)[1]
dump("Task-requested", task)
for action, body in [
    ("claim", {"actor": "Practitioner/n-1"}),
    ("acknowledge", {}),
    ("complete", {"actor": "Practitioner/n-1", "output": {"nurse": {"decision": "escalate"}}}),
]:
    st, t = call("POST", f"/worklist/{tid}/{action}", body)
    need(st == 200, f"{action} of Task/{tid} answered {st}: {t}")
st, done = call("GET", f"/fhir/Task/{tid}")
need(st == 200 and done.get("status") == "completed", f"Task/{tid} not completed: {done}")
need(done.get("output"), f"the completed Task/{tid} has no output: {done}")
dump("Task-completed", done)

focus = task.get("focus", {}).get("reference", "")
need(focus.startswith("RiskAssessment/"), f"Task/{tid} has no RiskAssessment focus")
st, ra = call("GET", "/fhir/" + focus)
need(st == 200, f"GET {focus}: {st}")
dump("RiskAssessment", ra)

# Every patient with a Task, the completed one's first: Communications
# are written by some pathway steps only (reminders).
st, every = call("GET", "/fhir/Task?_count=1000")
patients = [patient] + sorted({
    e["resource"]["for"]["reference"].split("/", 1)[1]
    for e in every.get("entry", []) if "for" in e["resource"]
})
# The demo's pathways write no Communication: those come from the
# radiology pathway's test (fhir-validate.sh runs it into the same dir).
for rtype in ["RiskAssessment", "Provenance", "Task"]:
    for p in patients:
        st, b = call("GET", f"/fhir/{rtype}?patient={p}")
        need(st == 200, f"{rtype}?patient={p}: {st} {b}")
        if b.get("total", 0) > 0:
            break
    need(b.get("total", 0) > 0, f"no {rtype} found for any of {len(patients)} patients with a Task")
    dump(f"searchset-{rtype}", b)
    dump(rtype + "-from-search", b["entry"][0]["resource"])
st, page = call("GET", "/fhir/Task?_count=1")
need(st == 200 and any(l["relation"] == "next" for l in page.get("link", [])), f"no next link: {page}")
dump("searchset-page", page)
# A search without a query string (its AuditEvent has no query detail).
st, _ = call("GET", "/fhir/Task")
need(st == 200, f"GET /fhir/Task: {st}")
st, count = call("GET", "/fhir/Task?_summary=count")
dump("searchset-count", count)

for name, (method, path, body, headers, status) in {
    "OperationOutcome-400": ("GET", "/fhir/Task?_count=abc", None, None, 400),
    "OperationOutcome-400-bad-resource": ("POST", "/fhir/Observation", {"resourceType": "Observation", "code": {"text": "x"}}, None, 400),
    "OperationOutcome-404": ("GET", "/fhir/Observation/does-not-exist", None, None, 404),
    "OperationOutcome-405": ("DELETE", "/fhir/Observation/x", None, None, 405),
    "OperationOutcome-406": ("GET", "/fhir/metadata", None, {"Accept": "application/xml"}, 406),
    "OperationOutcome-415": ("POST", "/fhir/Observation", {}, {"Content-Type": "application/xml"}, 415),
}.items():
    st, oo = call(method, path, body, headers)
    need(st == status, f"{method} {path}: {st}, expected {status}: {oo}")
    need(isinstance(oo, dict) and oo.get("resourceType") == "OperationOutcome", f"{name}: {oo}")
    dump(name, oo)
print(f"sample: {len(os.listdir(OUT))} resources in {OUT}")
