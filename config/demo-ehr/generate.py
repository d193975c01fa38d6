#!/usr/bin/env python3
"""Generate the DEMO EHR signing key pair (ES256, P-256) as JWKs.

Writes private-jwk.json (the demo EHR's private key, used by
`bedside token --demo`) and jwks.json (its public JWK Set, trusted by the
demo configuration). Run once; the output is committed on purpose because
it is a demo key that protects nothing. Requires `cryptography`.
"""
import base64
import json
import pathlib

from cryptography.hazmat.primitives.asymmetric import ec

KID = "bedside-demo-ehr-1"


def b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def main() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    priv = key.private_numbers()
    pub = priv.public_numbers
    public = {
        "kty": "EC",
        "use": "sig",
        "crv": "P-256",
        "kid": KID,
        "alg": "ES256",
        "x": b64(pub.x, 32),
        "y": b64(pub.y, 32),
    }
    private = dict(public, d=b64(priv.private_value, 32))
    here = pathlib.Path(__file__).parent
    (here / "private-jwk.json").write_text(json.dumps(private, indent=2) + "\n")
    (here / "jwks.json").write_text(json.dumps({"keys": [public]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
