"""Schemathesis hooks for scripts/schemathesis.sh: a serializer for the
NDJSON body of `POST /fhir/$import` (schemathesis knows JSON, forms and
text, not application/fhir+ndjson): a generated string is sent as is, any
other value as one JSON line."""
import json

import schemathesis


@schemathesis.serializer("application/fhir+ndjson")
def fhir_ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()
