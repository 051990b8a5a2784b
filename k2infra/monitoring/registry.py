"""Whether each of the stack's subjects is registered at the version the stack registered.

Plain HTTP against the Confluent REST API (Apicurio's ccompat included), one GET per subject over a
kept-alive connection: the registry client of confluent-kafka caches "latest" and would hide a change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from k2infra.contracts.outputs import SubjectInfo


class RegistryUnreachable(RuntimeError):
    pass


@dataclass(frozen=True)
class SubjectState:
    subject: str
    asset_class: str
    data_type: str
    expected_version: int | None  # the stack's (None: the outputs do not say)
    expected_id: int | None
    latest_version: int | None = None  # the registry's (None: not registered)
    latest_id: int | None = None

    @property
    def registered(self) -> bool:
        return self.latest_version is not None

    @property
    def in_sync(self) -> bool:
        """Registered, and its latest version is the stack's (same version and, where known, same id)."""
        if not self.registered:
            return False
        if self.expected_version is not None and self.latest_version != self.expected_version:
            return False
        return self.expected_id is None or self.latest_id == self.expected_id


class SubjectChecker:
    def __init__(self, url: str, auth: tuple[str, str] | None = None, verify: str | bool = True,
                 timeout: float = 10.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(auth=auth, verify=verify, timeout=timeout)

    def check(self, subjects: Iterable[SubjectInfo]) -> list[SubjectState]:
        out = []
        for s in subjects:
            state = SubjectState(s.subject, s.asset_class, s.data_type, s.version, s.schema_id)
            try:
                reply = self._http.get(f"{self.url}/subjects/{quote(s.subject, safe='')}/versions/latest")
            except httpx.HTTPError as err:
                raise RegistryUnreachable(f"cannot reach the schema registry at {self.url}: {err}") from None
            if reply.status_code == 404:
                out.append(state)
                continue
            if reply.status_code != 200:
                raise RegistryUnreachable(f"the schema registry at {self.url} answered {reply.status_code} for "
                                          f"{s.subject}: {reply.text[:200]}")
            body = reply.json()
            out.append(SubjectState(state.subject, state.asset_class, state.data_type, state.expected_version,
                                    state.expected_id, int(body["version"]), int(body["id"])))
        return out

    def close(self) -> None:
        self._http.close()
