"""A real test certificate authority on loopback.

At start it generates a root and an issuing (intermediate) CA with ``cryptography``;
it issues personal certificates (the subject's serialNumber carries the citizen ID)
and enterprise certificates (the credit code), publishes a signed CRL at ``/crl`` and
answers OCSP (RFC 6960) at ``/ocsp``, signed by the issuing CA; every certificate names
both (CRL distribution point, authority information access), so ``openssl ocsp`` or any
other OCSP client can ask it. A second, untrusted root exists to issue certificates that
must be refused. Fault injection as every simulator.

HTTP, for people trying it with curl or openssl:
    GET  /root.pem /issuing.pem /crl
    POST /ocsp                  application/ocsp-request -> application/ocsp-response
    GET  /ocsp/<base64 of the DER request>                (RFC 6960 appendix A.1)
    GET  /status/<serial hex>   {"status": "good"|"revoked"|"unknown"}, for a quick look
    POST /_sim/issue   {"code": "...", "name": "...", "key": "ec"|"rsa"}  -> PEMs
    POST /_sim/revoke  {"serial": "<hex>"}
"""

from __future__ import annotations

import base64
import datetime as _dt
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from adapters.simkit import AdminBody, LoopbackSimulator, SimRefused, UnknownRecord
from contracts.adapters import Faults

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _name(cn: str, serial: str | None = None, org: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def _ca_cert(
    subject: x509.Name,
    key: PrivateKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    path_length: int,
    now: _dt.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _issuer_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """OCSP's CertID for ``issuer``: the hash of its subject name (DER) and of its public
    key (the subjectPublicKey BIT STRING's contents), with ``algorithm``."""
    key = issuer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    name_hash, key_hash = hashes.Hash(algorithm), hashes.Hash(algorithm)
    name_hash.update(issuer.subject.public_bytes())
    key_hash.update(bits)
    return name_hash.finalize(), key_hash.finalize()


class IssuedCertificate:
    def __init__(self, cert: x509.Certificate, key: PrivateKey, chain: list[x509.Certificate]):
        self.certificate = cert
        self.private_key = key
        self.chain = chain

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "x")

    @property
    def chain_pem(self) -> str:
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode()
            for c in [self.certificate, *self.chain]
        )

    @property
    def key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


class CaSimulator(LoopbackSimulator):
    thread_name = "ca-sim"

    def __init__(self) -> None:
        now = _dt.datetime.now(_dt.UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _ca_cert(
            _name("govbus Test Root CA", org="govbus test PKI"),
            self.root_key,
            _name("govbus Test Root CA", org="govbus test PKI"),
            self.root_key,
            1,
            now,
        )
        self.issuing_key = ec.generate_private_key(ec.SECP256R1())
        self.issuing = _ca_cert(
            _name("govbus Test Issuing CA", org="govbus test PKI"),
            self.issuing_key,
            self.root.subject,
            self.root_key,
            0,
            now,
        )
        # an authority nobody trusts: what it issues must be refused
        self.rogue_key = ec.generate_private_key(ec.SECP256R1())
        self.rogue = _ca_cert(
            _name("govbus Test Root CA", org="someone else"),
            self.rogue_key,
            _name("govbus Test Root CA", org="someone else"),
            self.rogue_key,
            1,
            now,
        )
        self.revoked: dict[int, _dt.datetime] = {}
        # what issue() made, by serial: only those can be revoked, and OCSP answers
        # "unknown" for any other serial
        self.issued: dict[int, x509.Certificate] = {}
        self.seal_api_key = secrets.token_urlsafe(24)
        self.seals: dict[str, IssuedCertificate] = {}
        self.faults = Faults()
        self.url = ""
        self.push_url: str | None = None
        self._lock = threading.RLock()  # seal_for issues while holding it

    # --- issuing --------------------------------------------------------------------

    def issue(
        self,
        code: str,
        name: str,
        *,
        key_type: str = "ec",
        organisation: str | None = None,
        not_before: _dt.datetime | None = None,
        not_after: _dt.datetime | None = None,
        trusted: bool = True,
        signing: bool = True,
    ) -> IssuedCertificate:
        now = _dt.datetime.now(_dt.UTC)
        key: PrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if key_type == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )
        issuer, issuer_key = (
            (self.issuing, self.issuing_key) if trusted else (self.rogue, self.rogue_key)
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name, serial=code, org=organisation))
            .issuer_name(issuer.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - _dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + _dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=signing,
                    content_commitment=signing,
                    key_encipherment=not signing,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if self.url:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(f"{self.url}/ocsp"),
                        )
                    ]
                ),
                critical=False,
            )
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(f"{self.url}/crl")],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(issuer_key, hashes.SHA256())
        with self._lock:
            self.issued[cert.serial_number] = cert
        return IssuedCertificate(cert, key, [issuer] if trusted else [self.rogue])

    def revoke(self, serial: str | int) -> None:
        """Put a certificate this CA issued on the CRL (a serial it never issued: 404)."""
        number = int(serial, 16) if isinstance(serial, str) else serial
        with self._lock:
            if number not in self.issued:
                raise UnknownRecord(
                    f"no certificate with serial {number:x} was issued here: "
                    "issue one first (POST /_sim/issue)"
                )
            self.revoked[number] = _dt.datetime.now(_dt.UTC)

    def crl(self) -> x509.CertificateRevocationList:
        now = _dt.datetime.now(_dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.subject)
            .last_update(now - _dt.timedelta(minutes=1))
            .next_update(now + _dt.timedelta(hours=1))
        )
        with self._lock:
            for number, when in self.revoked.items():
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(number)
                    .revocation_date(when)
                    .build()
                )
        return builder.sign(self.issuing_key, hashes.SHA256())

    # RFC 8954: a nonce is 1 to 32 octets; a request is small (one CertID)
    MAX_NONCE_BYTES = 32
    MAX_REQUEST_BYTES = 16 * 1024

    def ocsp_response(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse to a DER OCSPRequest (RFC 6960), signed by the issuing CA
        (responder id by key hash), the request's nonce echoed, valid for five minutes.

        A request that cannot be read is ``malformedRequest``; one for a certificate of
        another issuer is ``unauthorized`` (this responder answers for its own CA only);
        a serial the issuing CA never issued is ``unknown``.
        """
        der = serialization.Encoding.DER
        malformed = ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        ).public_bytes(der)
        if len(request_der) > self.MAX_REQUEST_BYTES:
            return malformed
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return malformed
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
        except x509.ExtensionNotFound:
            nonce = None
        if nonce is not None and not 1 <= len(nonce.nonce) <= self.MAX_NONCE_BYTES:
            return malformed
        algorithm = request.hash_algorithm
        if (request.issuer_name_hash, request.issuer_key_hash) != _issuer_hashes(
            self.issuing, algorithm
        ):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(der)
        now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
        with self._lock:
            known = request.serial_number in self.issued
            revoked_at = self.revoked.get(request.serial_number)
        status = (
            ocsp.OCSPCertStatus.UNKNOWN
            if not known
            else ocsp.OCSPCertStatus.REVOKED
            if revoked_at
            else ocsp.OCSPCertStatus.GOOD
        )
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=algorithm,
                cert_status=status,
                this_update=now,
                next_update=now + _dt.timedelta(minutes=5),
                revocation_time=revoked_at.replace(microsecond=0) if revoked_at else None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuing)
        )
        if nonce is not None:
            builder = builder.add_extension(nonce, critical=False)
        return builder.sign(self.issuing_key, hashes.SHA256()).public_bytes(der)

    def status_of(self, serial: int) -> str:
        with self._lock:
            if serial not in self.issued:
                return "unknown"
            return "revoked" if serial in self.revoked else "good"

    # --- protocol ----------------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        pem = self.root.public_bytes(serialization.Encoding.PEM).decode()
        issuing = self.issuing.public_bytes(serialization.Encoding.PEM).decode()
        return {
            "govbus/{stage}/adapters/ca": json.dumps(
                {
                    "trust_anchor_pem": pem,
                    "intermediates_pem": issuing,
                    "seal_api_key": self.seal_api_key,
                }
            )
        }

    def seal_for(self, agency: str) -> IssuedCertificate:
        """The agency's seal: a signing certificate whose key stays with the CA."""
        with self._lock:
            if agency not in self.seals:
                self.seals[agency] = self.issue(
                    agency, f"{agency} 电子印章", key_type="ec", organisation="electronic seal"
                )
            return self.seals[agency]

    def _seal(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        offered = handler.headers.get("X-Api-Key", "")
        if not hmac.compare_digest(offered.encode(), self.seal_api_key.encode()):
            return self._send(handler, 401, b'{"error":"bad api key"}')
        try:
            doc = json.loads(body)
            agency, document = str(doc["agency"]), base64.b64decode(doc["document"])
        except (ValueError, KeyError):
            return self._send(handler, 400, b'{"error":"agency and base64 document needed"}')
        if len(agency) != 18:
            return self._send(handler, 422, b'{"error":"no seal is registered for that agency"}')
        seal = self.seal_for(agency)
        signature = seal.private_key.sign(document, ec.ECDSA(hashes.SHA256()))
        return self._send(
            handler,
            200,
            json.dumps(
                {
                    "signature": base64.b64encode(signature).decode(),
                    "certificate_pem": seal.chain_pem,
                    "algorithm": "ECDSA-P256-SHA256",
                }
            ).encode(),
        )

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError("the CA does not push to the bus")

    admin_examples: ClassVar[dict[str, str]] = {
        "/_sim/issue": '{"code": "350102199003071234", "name": "张三", "key": "ec"}',
        "/_sim/revoke": '{"serial": "<the serial /_sim/issue answered>"}',
    }

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        if path == "/_sim/issue":
            issued = self.issue(
                doc.subject_code("code"),
                doc.text("name", "test subject"),
                key_type=doc.choice("key", ("ec", "rsa"), "ec"),
            )
            return 200, {
                "serial": issued.serial,
                "certificate_pem": issued.chain_pem,
                "private_key_pem": issued.key_pem,
            }
        if path == "/_sim/revoke":
            serial = doc.text("serial")
            try:
                int(serial, 16)
            except ValueError:
                raise SimRefused(
                    f"'serial' is the certificate's serial in hex; not {serial[:40]!r}"
                ) from None
            self.revoke(serial)
            return 200, {"revoked": True}
        return super()._admin(path, doc)

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        if path.startswith("/_sim/"):
            return self.serve_admin(handler, path, body)
        if self.faults.down:
            return self._send(handler, 503, b"down", "text/plain")
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        pem = serialization.Encoding.PEM
        if path == "/ping":
            return self._send(handler, 200, b'{"status":"ok"}')
        if path == "/root.pem":
            return self._send(handler, 200, self.root.public_bytes(pem), "application/x-pem-file")
        if path == "/issuing.pem":
            return self._send(
                handler, 200, self.issuing.public_bytes(pem), "application/x-pem-file"
            )
        if path == "/crl":
            return self._send(
                handler,
                200,
                self.crl().public_bytes(serialization.Encoding.DER),
                "application/pkix-crl",
            )
        if path == "/ocsp" and method == "POST":
            if handler.headers.get("content-type", "").split(";")[0].strip() != (
                "application/ocsp-request"
            ):
                return self._send(
                    handler,
                    415,
                    b'{"error":"send the DER OCSP request as application/ocsp-request"}',
                )
            return self._send(handler, 200, self.ocsp_response(body), "application/ocsp-response")
        if path.startswith("/ocsp/") and method == "GET":
            try:
                request_der = base64.b64decode(
                    urllib.parse.unquote(path[len("/ocsp/") :]), validate=True
                )
            except ValueError:
                request_der = b""  # answered malformedRequest, as a POST of bad DER is
            return self._send(
                handler, 200, self.ocsp_response(request_der), "application/ocsp-response"
            )
        if path.startswith("/status/"):
            serial = path.rsplit("/", 1)[1]
            if not (0 < len(serial) <= 40 and all(c in "0123456789abcdefABCDEF" for c in serial)):
                return self._send(
                    handler, 400, b'{"error":"the serial is hex digits, as /_sim/issue gives it"}'
                )
            number = int(serial, 16)
            status = self.status_of(number)
            return self._send(handler, 200, json.dumps({"status": status}).encode())
        if path == "/seal" and method == "POST":
            return self._seal(handler, body)
        return self._send(handler, 404, b'{"error":"not found"}')
