"""The shipped site-broker configuration (config/mosquitto/), run for tests and the demo.

`SiteBroker` renders config/mosquitto/escogw-site.conf and its ACL as shipped,
changing only what must change on a developer's machine: the folder of the
certificates, password file and ACL (/etc/mosquitto/escogw → the work dir) and
the two listener ports. It makes a throw-away CA and a server certificate for
127.0.0.1 with `openssl`, and the password file with `mosquitto_passwd`, so a
test exercises exactly the TLS, password and ACL rules a site box runs.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from devkit.services import Mosquitto, ServiceError, ServiceUnavailable, free_port

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONF = ROOT / "config" / "mosquitto" / "escogw-site.conf"
SHIPPED_ACL = ROOT / "config" / "mosquitto" / "escogw-site.acl"
INSTALLED_DIR = "/etc/mosquitto/escogw"
#: the accounts the shipped ACL names
USERS = ("escogw-gateway", "escogw-historian", "operator")


class SiteBroker(Mosquitto):
    """Mosquitto with the shipped TLS + password + ACL configuration.

    ``port`` is the loopback listener (no TLS, passwords), ``tls_port`` the TLS
    one; ``passwords`` maps each shipped account to a fresh password; ``ca``
    is the CA certificate a client trusts.
    """

    refuses_anonymous = True
    #: the shipped configuration this broker runs, and the accounts its ACL names
    shipped_conf = SHIPPED_CONF
    shipped_acl = SHIPPED_ACL

    def __init__(self, workdir: Path | str, *, port: int | None = None,
                 tls_port: int | None = None, users: tuple[str, ...] = USERS) -> None:
        super().__init__(workdir, port=port)
        self.tls_port = tls_port or free_port()
        self.etc = self.workdir / "escogw"
        self.ca = self.etc / "ca.crt"
        self.passwords = {user: secrets.token_urlsafe(12) for user in users}

    def _access_lines(self) -> list[str]:
        self._make_files()
        lines = []
        for line in self.shipped_conf.read_text().splitlines():
            line = line.replace(INSTALLED_DIR, str(self.etc))
            if line == "listener 1883 127.0.0.1":
                line = f"listener {self.port} 127.0.0.1"
            elif line == "listener 8883":
                line = f"listener {self.tls_port} 127.0.0.1"
            lines.append(line)
        return lines

    def _make_files(self) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.shipped_acl, self.etc / "acl")
        make_pki(self.etc)
        passwd = self.etc / "passwd"
        passwd.unlink(missing_ok=True)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for user, password in self.passwords.items():
            _run([tool, "-b", *([] if passwd.exists() else ["-c"]), str(passwd), user,
                  password])


def make_pki(folder: Path) -> None:
    """ca.crt/ca.key and server.crt/server.key for 127.0.0.1 and localhost (one day)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ServiceUnavailable("openssl", "openssl")
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
          "-subj", "/CN=escogw test CA", "-keyout", str(ca_key), "-out", str(ca_crt)])
    _run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
          "-keyout", str(key), "-out", str(csr)])
    _run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
          "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(crt)])


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-300:]}")
