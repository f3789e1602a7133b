"""Who may get a 2xx about which document: the oracle of the stateful fuzz test.

It watches every answer of a sequence by several users (by name) and raises AssertionError
when an answer gives away more than Folio's rules allow:
- only the owner gets a 2xx about a document, except a grantee's download;
- after a purge, nobody gets a 2xx about the document again.
Requests are described as in the OpenAPI document: method, path template, parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Visibility:
    owners: dict[str, str] = field(default_factory=dict)  # document id -> owner's name
    grants: set[tuple[str, str]] = field(default_factory=set)  # (document id, grantee's name)
    purged: set[str] = field(default_factory=set)

    def observe(
        self,
        user: str,
        method: str,
        path: str,
        parameters: Mapping[str, Any],
        query: Mapping[str, Any],
        status: int,
        body: Any,
        *,
        user_ids: Mapping[str, str],
    ) -> None:
        """`user` sent the request and got `status` and `body`; `user_ids` maps names to subs."""
        succeeded = 200 <= status < 300
        document = str(parameters.get("id"))
        request = f"{user}: {method} {path} {dict(parameters)} -> {status}"
        assert not (succeeded and document in self.purged), f"{request}, after the document was purged"
        if method == "POST" and path == "/documents" and status == 201:
            self.owners[body["document"]["id"]] = user
            return
        owner = self.owners.get(document)
        if owner is None or not succeeded:
            return
        if owner != user:
            granted = (document, user) in self.grants
            assert granted and path.endswith("/download"), f"{request} on {owner}'s document (granted: {granted})"
            return
        grantee = next((name for name, sub in user_ids.items() if sub == parameters.get("userId")), None)
        if path.endswith("/shares/{userId}") and grantee:
            if method == "PUT":
                self.grants.add((document, grantee))
            else:
                self.grants.discard((document, grantee))
        elif method == "DELETE" and path == "/documents/{id}" and str(query.get("purge")).lower() == "true":
            self.grants = {(d, u) for d, u in self.grants if d != document}
            self.purged.add(document)
