"""Ask the configured image registry whether it answers and takes pushes.

`GET /v2/` (the Registry API's version check) says whether it is there; push is checked the only
way that really tells, by starting a blob upload (`POST /v2/<repo>/blobs/uploads/`) and at once
cancelling it (`DELETE` on the upload's Location). That is a write to the registry, not to the
cluster; no blob, manifest or tag is ever stored and the catalog lists nothing new (Debian's
registry 2.8 keeps an empty upload folder until its upload purger runs). Anonymous only:
credentials stay with Docker, so a registry that needs a login is reported as such.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request

from cockpit import USER_AGENT
from cockpit.doctor.checks import RegistryProbe

PROBE_REPOSITORY = "gpu-cockpit-doctor/push-check"
TIMEOUT = 5.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a registry answers /v2/ itself; never follow
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _split(registry: str) -> tuple[list[str], str, str]:
    """(schemes to try, host[:port], path prefix) of "https://reg:5000/team" or "reg:5000/team"."""
    text = registry.strip()
    schemes = ["https", "http"]
    if "://" in text:
        scheme, text = text.split("://", 1)
        schemes = [scheme.lower()]
    host, _, prefix = text.strip("/").partition("/")
    return schemes, host, prefix.strip("/")


def _request(method: str, url: str, timeout: float) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in (e.headers or {}).items()}


def _reason(e: BaseException) -> str:
    inner = getattr(e, "reason", e)
    if isinstance(inner, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({inner.verify_message})"
    return str(inner) or type(inner).__name__


def probe_registry(registry: str, *, push: bool = True, timeout: float = TIMEOUT) -> RegistryProbe:
    """Blocking (network); run it from a worker thread or the CLI."""
    schemes, host, prefix = _split(registry)
    if not host:
        return RegistryProbe(registry, error="no host in the registry address")
    errors: list[str] = []
    for scheme in schemes:
        base = f"{scheme}://{host}"
        try:
            status, _ = _request("GET", f"{base}/v2/", timeout)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as e:
            errors.append(f"{scheme}: {_reason(e)}")
            continue
        probe = RegistryProbe(registry, url=f"{base}/v2/", status=status, plain_http=scheme == "http")
        if status != 200 or not push:
            return probe
        return _with_push(probe, base, prefix, timeout)
    return RegistryProbe(registry, error="; ".join(errors))


def _with_push(probe: RegistryProbe, base: str, prefix: str, timeout: float) -> RegistryProbe:
    repo = f"{prefix}/{PROBE_REPOSITORY}" if prefix else PROBE_REPOSITORY
    try:
        status, headers = _request("POST", f"{base}/v2/{urllib.parse.quote(repo)}/blobs/uploads/", timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        return _replace(probe, push=f"refused: {_reason(e)}")
    if status == 401:
        return _replace(probe, push="needs login")
    if status != 202:
        return _replace(probe, push=f"refused: HTTP {status} on starting an upload to {repo}")
    location = headers.get("location", "")
    notes: tuple[str, ...] = ()
    if location:
        try:
            _request("DELETE", urllib.parse.urljoin(base + "/", location), timeout)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            notes = (f"cancelling the test upload failed: {_reason(e)} (the registry drops it later)",)
    return _replace(probe, push="allowed", notes=notes)


def _replace(probe: RegistryProbe, **changes) -> RegistryProbe:
    from dataclasses import replace

    return replace(probe, **changes)
