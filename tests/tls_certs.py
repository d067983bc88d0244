"""Certificates for TLS tests, made with openssl: one test CA, server certificates naming their addresses,
client certificates, and one already expired."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class CertificateAuthority:
    """A CA in `folder` (ca.pem, ca.key) that signs certificates on demand."""

    def __init__(self, folder: Path, name: str = "neon-test-ca") -> None:
        self.folder = folder
        self.key, self.cert = folder / f"{name}.key", folder / f"{name}.pem"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out", str(self.cert),
                "-days", "2", "-subj", f"/CN={name}")  # fmt: skip

    def issue(self, name: str, san: str = "", client: bool = False, expired: bool = False) -> tuple[str, str]:
        """(certificate, key) for CN=`name` with subjectAltName `san` (e.g. "IP:127.0.0.1,DNS:x"); a client
        certificate (clientAuth) or a server one (serverAuth); `expired`: valid only in the past."""
        key, csr, cert = self.folder / f"{name}.key", self.folder / f"{name}.csr", self.folder / f"{name}.pem"
        ext = self.folder / f"{name}.ext"
        usage = "clientAuth" if client else "serverAuth"
        ext.write_text((f"subjectAltName = {san}\n" if san else "") + f"extendedKeyUsage = {usage}\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        if expired:  # `openssl ca` is the one that takes explicit dates
            database, serial = self.folder / "index.txt", self.folder / "serial"
            database.write_text("")
            serial.write_text("1000\n")
            config = self.folder / "ca.cnf"
            config.write_text(
                f"[ca]\ndefault_ca = test\n[test]\ndatabase = {database}\nserial = {serial}\n"
                f"new_certs_dir = {self.folder}\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                "[any]\ncommonName = supplied\n"
            )
            openssl("ca", "-batch", "-config", str(config), "-cert", str(self.cert), "-keyfile", str(self.key),
                    "-in", str(csr), "-out", str(cert), "-startdate", "20200101000000Z",
                    "-enddate", "20200102000000Z", "-extfile", str(ext), "-notext")  # fmt: skip
        else:
            openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                    "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
        return str(cert), str(key)
