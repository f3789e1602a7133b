"""A loopback server that speaks DAX's wire protocol, so the unmodified `amazondax` client runs in tests.

No DAX engine exists offline (moto models only DAX's control plane), but the client's protocol is
small: a TCP (or TLS) stream of CBOR values. The client opens with a preamble (the magic bytes
`gJ7yne5G`, a session id, its user agent), then sends requests as the sequence `1, method id,
arguments...`, each preceded now and then by `authorizeConnection` (a SigV4 signature over a fixed
string, answered by nothing). Every response starts with an error header: an empty array for
success, else the error's code path, a message and `[request id, DynamoDB code, HTTP status]`.

`FakeDax` serves the calls a reader makes: cluster discovery (`endpoints`: one node, itself),
`defineKeySchema`, `defineAttributeList`/`defineAttributeListId`, `GetItem`, `BatchGetItem` and
`Query`. It decodes each data-plane request back into DynamoDB's JSON shape (the client's
S-expression encoding of key condition, filter and projection expressions becomes an expression
string again) and forwards it to a boto3 DynamoDB client, normally pointed at DynamoDB Local.
A DynamoDB error goes back as the DAX error the client maps to the same code, so a
`ValidationException` reaches the caller as one. Every request is recorded with the IAM action it
needs (`dax:GetItem`, ...), its table, index, keys and partitions: a test can check that DAX was
used, and for what.

The server reuses the client's own CBOR codec and key encoders (`amazondax.CborEncoder`,
`AttributeValueEncoder`, ...) rather than a second CBOR library: the wire format it must agree
with is the client's. A bug shared by both sides of that codec would therefore not show here.

By default nothing is cached. With `cache_seconds`, the fake keeps each eventually consistent
GetItem and Query answer for that long, keyed by the whole request, as DAX's item and query caches
do for a write-around application: a write that went straight to DynamoDB is not seen through the
fake until the answer expires, and a miss stays a miss. That is enough to show which reads of a
test went through the cache and could have been stale; it is a model, not DAX.

What such a fake cannot prove (only a deployed cluster can):
- DAX's real caching: its TTL bookkeeping, LRU eviction, the item cache's invalidation by writes
  that go through DAX (Folio sends none), and how replicated writes from other Regions age out.
- Authorization. The SigV4 signature of `authorizeConnection` IS verified against the secret keys
  given to `FakeDax` (a wrong secret fails the next request with the error the client classifies
  as an authentication failure), but no IAM policy is evaluated: the cluster role's permissions,
  the `dax:` actions of the caller's role and resource ARNs are not enforced. The recorded actions
  let a test compare what was called with what a policy grants.
- The cluster: one node that is always the leader; no replicas, no failover, no leader election,
  no node replacement, no maintenance windows, no encryption at rest.
- Throttling and limits: DynamoDB Local does not throttle. `inject_errors` makes the fake answer
  with a DAX error (for example `ThrottlingException`) to exercise the client's retries.
- Write-through semantics (PutItem, UpdateItem, ... are refused: Folio writes bypass DAX), Scan,
  TransactGetItems, ConsumedCapacity (never returned) and DAX-specific error codes beyond the
  ones mapped in `DAX_ERROR_CODES`.
- Expression validation: the fake turns every attribute name into a placeholder, so a reserved
  word used bare (which DynamoDB refuses) passes here; real DAX's answer to it is not known.
- TLS: a `daxs://` endpoint here uses a throwaway CA; it proves the client verifies the chain and
  the host name, not that a real cluster's certificate chain is trusted by the Lambda runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from amazondax import AttributeValueDecoder, AttributeValueEncoder, CborSExprGenerator
from amazondax.CborDecoder import NoMoreData
from amazondax.CborEncoder import CborEncoder
from amazondax.Constants import DaxDataRequestParam, DaxMethodIds, DaxResponseParam, SelectValues
from amazondax.DaxCborDecoder import DaxCborDecoder
from amazondax.DaxCborTypes import DocumentPathOrdinal
from amazondax.Tube import Tube
from botocore.exceptions import ClientError

from tests.support import loopback
from tests.support.tls import TlsFiles

LOOPBACK = "127.0.0.1"
# The IAM action each data-plane method needs (Service Authorization Reference, DAX). The metadata
# calls (endpoints, defineKeySchema, defineAttributeList*) have no IAM action of their own.
IAM_ACTIONS = {"GetItem": "dax:GetItem", "BatchGetItem": "dax:BatchGetItem", "Query": "dax:Query"}

# DAX's error code paths, as amazondax.DaxError.ERROR_MAP decodes them back to DynamoDB's codes.
DAX_ERROR_CODES: dict[str, list[int]] = {
    "ProvisionedThroughputExceededException": [4, 37, 38, 39, 40],
    "ResourceNotFoundException": [4, 37, 38, 39, 41],
    "ConditionalCheckFailedException": [4, 37, 38, 39, 43],
    "ValidationException": [4, 37, 38, 39, 46],
    "InternalServerError": [4, 37, 38, 39, 47],
    "LimitExceededException": [4, 37, 38, 39, 49],
    "ThrottlingException": [4, 37, 38, 39, 50],
    "RequestLimitExceeded": [4, 37, 38, 39, 61],
    "AccessDeniedException": [4, 37, 38, 42],
}
# What the client reads as an authentication failure (DaxError._determine_auth_error: [_, 23, 31, ...]).
AUTHENTICATION_ERROR = [4, 23, 31, 33]
HTTP_STATUS = {"InternalServerError": 500, "ThrottlingException": 400}

SUCCESS = b"\x80"  # the empty array that heads every successful response
# The client's S-expression function codes (amazondax.CborSExprGenerator.Func).
Func = CborSExprGenerator.Func
COMPARATORS = {Func.Equal: "=", Func.NotEqual: "<>", Func.LessThan: "<", Func.GreaterEqual: ">="}
COMPARATORS |= {Func.GreaterThan: ">", Func.LessEqual: "<="}
FUNCTIONS = {
    Func.AttributeExists: "attribute_exists",
    Func.AttributeNotExists: "attribute_not_exists",
    Func.AttributeType: "attribute_type",
    Func.BeginsWith: "begins_with",
    Func.Contains: "contains",
    Func.Size: "size",
}
SELECT_NAMES = {value: name for name, value in vars(SelectValues).items() if not name.startswith("_")}


class UnsupportedRequest(Exception):
    """A method or expression this fake does not serve; the connection is answered with an error and closed."""


@dataclass(frozen=True)
class DaxRequest:
    """One request the fake received, as IAM and a reviewer see it."""

    method: str  # GetItem, BatchGetItem, Query, endpoints, defineKeySchema, ...
    action: str | None  # the IAM action it needs ("dax:GetItem"), None for the metadata calls
    table: str | None = None
    index: str | None = None
    keys: tuple[dict[str, Any], ...] = ()  # GetItem/BatchGetItem keys, in DynamoDB JSON
    partitions: tuple[str, ...] = ()  # the partition key values read (a Query's `#pk = :pk` value)
    parameters: dict[str, Any] = field(default_factory=dict, compare=False)  # what went to DynamoDB
    access_key_id: str | None = None  # from the connection's authorizeConnection


def dynamodb_client(endpoint_url: str) -> Any:
    """A boto3 DynamoDB client for DynamoDB Local, with explicit settings (no environment needed)."""
    import boto3

    return boto3.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=loopback.REGION, **loopback.CLIENT_CREDENTIALS
    )


def open_client(endpoint_url: str, *, connect_timeout: float = 1.0, read_timeout: float = 2.0, **kwargs: Any) -> Any:
    """The unmodified `amazondax.AmazonDaxClient` for a fake (or any) endpoint, with the test
    credentials and short timeouts (the client's default read timeout is 60 s). Close it."""
    from amazondax import AmazonDaxClient
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout)
    arguments = {"region_name": loopback.REGION, **loopback.CLIENT_CREDENTIALS, **kwargs}
    return AmazonDaxClient(endpoint_url=endpoint_url, config=config, **arguments)


class FakeDax:
    """A one-node DAX "cluster" on 127.0.0.1 that forwards reads to `dynamodb` (a boto3 client).

    `start()` binds an ephemeral port (kept across `stop()`/`start()`, so `restart()` comes back
    where clients expect it); `stop()` closes the listener and every open connection, as a node
    that went away; `hang()` keeps the connections but answers nothing. `secret_keys` maps access
    key ids to secrets (default: the placeholder of tests/support/loopback.py): each connection's
    SigV4 signature must verify against one of them.
    """

    def __init__(
        self,
        dynamodb: Any,
        *,
        secret_keys: Mapping[str, str] | None = None,
        tls: TlsFiles | None = None,
        region: str = loopback.REGION,
        cache_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dynamodb = dynamodb
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self.secret_keys = dict(secret_keys or {loopback.ACCESS_KEY_ID: loopback.SECRET_ACCESS_KEY})
        self.tls = tls
        self.region = region
        self.port = 0
        self.requests: list[DaxRequest] = []
        self.served = 0  # data-plane requests since start, never reset by clear()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._injected: list[str] = []
        self._answering = threading.Event()  # cleared by hang(): a node that accepts but never answers
        self._answering.set()
        # Attribute-list ids are cluster-wide and stable (the client caches them per node), so they
        # survive a restart, as they would on a real cluster.
        self._attribute_lists: dict[tuple[str, ...], int] = {(): 1}
        self._tables: dict[str, dict[str, Any]] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        """What `AmazonDaxClient(endpoint_url=...)` takes: dax://127.0.0.1:port, or daxs:// with TLS."""
        return f"{'daxs' if self.tls else 'dax'}://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> FakeDax:
        if self.running:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        accept = threading.Thread(target=self._accept, args=(listener,), name=f"fake-dax-{self.port}", daemon=True)
        accept.start()
        with self._lock:
            self._threads.append(accept)
        return self

    def stop(self) -> None:
        """Close the listener and every connection; return once no thread of this server is left."""
        self._answering.set()
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown() first: on Linux a bare close() does not wake accept()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for connection in connections:
            _close(connection)
        for thread in threads:
            thread.join(timeout=5)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> FakeDax:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what tests read and steer -----------------------------------------------------------------
    def data_requests(self) -> list[DaxRequest]:
        """The recorded requests that need an IAM action (reads), without the metadata calls."""
        with self._lock:
            return [r for r in self.requests if r.action is not None]

    def actions(self) -> set[str]:
        return {r.action for r in self.data_requests() if r.action}

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def forget(self) -> None:
        """Empty the cache (as if every entry had expired)."""
        with self._lock:
            self._cache.clear()

    def read(self, operation: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """DynamoDB's answer to `operation`, or the cached one while it is younger than
        `cache_seconds`. Strongly consistent reads pass through, as DAX passes them."""
        if self.cache_seconds is None or parameters.get("ConsistentRead"):
            response: dict[str, Any] = getattr(self.dynamodb, operation)(**parameters)
            return response
        cache_key = json.dumps([operation, parameters], sort_keys=True, default=str)
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None and self._clock() - cached[0] < self.cache_seconds:
            return cached[1]
        response = getattr(self.dynamodb, operation)(**parameters)
        with self._lock:
            self._cache[cache_key] = (self._clock(), response)
        return response

    def hang(self) -> None:
        """Keep accepting connections and reading requests, but answer nothing (a node that stopped
        responding, or a network that drops the replies) until resume() or stop()."""
        self._answering.clear()

    def resume(self) -> None:
        self._answering.set()

    def inject_errors(self, code: str, times: int = 1) -> None:
        """Answer the next `times` data-plane requests with this DynamoDB error code instead of forwarding."""
        if code not in DAX_ERROR_CODES:
            raise ValueError(f"no DAX error path for {code}; known: {sorted(DAX_ERROR_CODES)}")
        with self._lock:
            self._injected.extend([code] * times)

    # -- connections -------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        context = self._server_context()
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed by stop()
                return
            with self._lock:
                if self._listener is not listener:
                    _close(connection)
                    return
                self._connections.add(connection)
                self._threads = [t for t in self._threads if t.is_alive()]
                serve = threading.Thread(target=self._serve, args=(connection, context), daemon=True)
                serve.start()  # under the lock, so stop() never sees a thread it cannot join yet
                self._threads.append(serve)

    def _server_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls.server_certificate, self.tls.server_key)
        return context

    def _serve(self, raw: socket.socket, context: ssl.SSLContext | None) -> None:
        connection = raw
        try:
            if context is not None:
                connection = context.wrap_socket(raw, server_side=True)
                with self._lock:
                    self._connections.discard(raw)
                    self._connections.add(connection)
            _Session(self, connection).run()
        except (NoMoreData, OSError, ssl.SSLError):
            pass  # the client went away, or stop() closed the socket
        finally:
            _close(connection)
            with self._lock:
                self._connections.discard(connection)
                self._connections.discard(raw)

    # -- shared state used by the sessions -----------------------------------------------------------
    def _record(self, request: DaxRequest) -> None:
        with self._lock:
            self.requests.append(request)
            if request.action is not None:
                self.served += 1

    def _next_injected(self) -> str | None:
        with self._lock:
            return self._injected.pop(0) if self._injected else None

    def _attribute_list_id(self, names: tuple[str, ...]) -> int:
        with self._lock:
            return self._attribute_lists.setdefault(names, len(self._attribute_lists) + 1)

    def _attribute_list(self, list_id: int) -> list[str]:
        with self._lock:
            for names, known in self._attribute_lists.items():
                if known == list_id:
                    return list(names)
        raise UnsupportedRequest(f"unknown attribute list id {list_id}")

    def _table(self, name: str) -> dict[str, Any]:
        """The table's description (key schema, indexes), from DynamoDB, once."""
        if name not in self._tables:
            self._tables[name] = self.dynamodb.describe_table(TableName=name)["Table"]
        return self._tables[name]

    def _key_schema(self, table: str) -> list[dict[str, str]]:
        """[{AttributeName, AttributeType}], hash key first, as the client's defineKeySchema returns it."""
        description = self._table(table)
        types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
        ordered = sorted(description["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
        return [{"AttributeName": k["AttributeName"], "AttributeType": types[k["AttributeName"]]} for k in ordered]

    def _partition_keys(self, table: str, index: str | None) -> set[str]:
        description = self._table(table)
        schema = description["KeySchema"]
        if index is not None:
            indexes = description.get("GlobalSecondaryIndexes", []) + description.get("LocalSecondaryIndexes", [])
            schema = next((i["KeySchema"] for i in indexes if i["IndexName"] == index), [])
        return {k["AttributeName"] for k in schema if k["KeyType"] == "HASH"}


class _Session:
    """One client connection: its preamble, then requests until the client or the server closes it."""

    def __init__(self, server: FakeDax, connection: socket.socket) -> None:
        self.server = server
        self.connection = connection
        self.decoder = DaxCborDecoder(self._more)
        self.access_key_id: str | None = None
        self.authentication_error: str | None = None

    def _more(self, buffer: bytearray, wanted: int) -> int:
        data = self.connection.recv(max(wanted, 4096))
        buffer += data
        return len(data) if data else -1

    def run(self) -> None:
        self._read_preamble()
        handlers: dict[int, Callable[[], bytes]] = {
            DaxMethodIds.endpoints_455855874_1_Id: self._endpoints,
            DaxMethodIds.defineKeySchema_N742646399_1_Id: self._define_key_schema,
            DaxMethodIds.defineAttributeList_670678385_1_Id: self._define_attribute_list,
            DaxMethodIds.defineAttributeListId_N1230579644_1_Id: self._define_attribute_list_id,
            DaxMethodIds.getItem_263244906_1_Id: self._get_item,
            DaxMethodIds.batchGetItem_N697851100_1_Id: self._batch_get_item,
            DaxMethodIds.query_N931250863_1_Id: self._query,
        }
        while True:
            self.decoder.decode_int()  # the protocol version, always 1
            method = self.decoder.decode_int()
            if method == DaxMethodIds.authorizeConnection_1489122155_1_Id:
                self._authorize()  # answered by nothing: its result shows in the next response
                continue
            self.server._answering.wait()
            if not self.server.running:
                return
            handler = handlers.get(method)
            if handler is None:
                # The arguments of an unknown method cannot be skipped (requests are not framed).
                self.connection.sendall(_error("ValidationException", f"the fake DAX does not serve method {method}"))
                return
            if self.authentication_error is not None:
                self.connection.sendall(_authentication_error(self.authentication_error))
                return
            try:
                response = handler()
            except ClientError as error:
                response = _error(error.response["Error"]["Code"], error.response["Error"].get("Message", ""))
            except UnsupportedRequest as error:
                self.connection.sendall(_error("ValidationException", str(error)))
                return
            except Exception as error:  # a bug in the fake: say so to the client instead of hanging up
                self.connection.sendall(_error("InternalServerError", f"fake DAX failed: {error!r}"))
                return
            self.connection.sendall(response)

    def _read_preamble(self) -> None:
        decoder = self.decoder
        decoder._ensure_available(len(Tube.MAGIC_STRING))
        if bytes(decoder.buffer[: len(Tube.MAGIC_STRING)]) != Tube.MAGIC_STRING:
            raise NoMoreData("not a DAX client")
        decoder._consume(len(Tube.MAGIC_STRING))
        decoder.decode_int()  # layering: 0
        decoder.decode_object()  # the session id (or null)
        decoder.decode_map()  # {"UserAgent": ...}
        decoder.decode_int()  # types: 0

    def _authorize(self) -> None:
        """Check the SigV4 signature the client computed over its string to sign, with the known secret."""
        decoder = self.decoder
        access_key_id = decoder.decode_string()
        signature = decoder.decode_string()
        string_to_sign = decoder.decode_binary().decode()
        decoder.decode_object()  # session token
        decoder.decode_object()  # user agent
        self.access_key_id = access_key_id
        self.authentication_error = _signature_problem(self.server, access_key_id, signature, string_to_sign)

    # -- metadata ---------------------------------------------------------------------------------
    def _endpoints(self) -> bytes:
        self.server._record(DaxRequest("endpoints", None, access_key_id=self.access_key_id))
        address, port = self.connection.getsockname()[:2]
        endpoint = {
            0: "fake-dax-node-1",  # node
            1: address,  # hostname (the client puts its discovery host name back)
            2: socket.inet_pton(socket.AF_INET, address),  # address
            3: port,
            4: 1,  # role: leader
            5: "local",  # availability zone
            6: 0,  # leader session id
        }
        encoder = CborEncoder().append_raw(SUCCESS).append_array_header(1).append_map_header(len(endpoint))
        for key, value in endpoint.items():
            encoder.append_int(key)
            if isinstance(value, bytes):
                encoder.append_binary(value)
            elif isinstance(value, int):
                encoder.append_int(value)
            else:
                encoder.append_string(value)
        return encoder.as_bytes()

    def _define_key_schema(self) -> bytes:
        table = self.decoder.decode_binary().decode()
        self.server._record(DaxRequest("defineKeySchema", None, table=table, access_key_id=self.access_key_id))
        schema = self.server._key_schema(table)
        encoder = CborEncoder().append_raw(SUCCESS).append_map_header(len(schema))
        for attribute in schema:
            encoder.append_string(attribute["AttributeName"]).append_string(attribute["AttributeType"])
        return encoder.as_bytes()

    def _define_attribute_list(self) -> bytes:
        names = self.server._attribute_list(self.decoder.decode_int())
        self.server._record(DaxRequest("defineAttributeList", None, access_key_id=self.access_key_id))
        encoder = CborEncoder().append_raw(SUCCESS).append_array_header(len(names))
        for name in names:
            encoder.append_string(name)
        return encoder.as_bytes()

    def _define_attribute_list_id(self) -> bytes:
        names = tuple(self.decoder.decode_array())
        self.server._record(DaxRequest("defineAttributeListId", None, access_key_id=self.access_key_id))
        return CborEncoder().append_raw(SUCCESS).append_int(self.server._attribute_list_id(names)).as_bytes()

    # -- reads ------------------------------------------------------------------------------------
    def _get_item(self) -> bytes:
        table = self.decoder.decode_binary().decode()
        schema = self.server._key_schema(table)
        key = AttributeValueDecoder._decode_key_bytes(self.decoder, schema)
        options = self._read_options()
        names = _Names()
        parameters: dict[str, Any] = {"TableName": table, "Key": key}
        if DaxDataRequestParam.ConsistentRead in options:
            parameters["ConsistentRead"] = bool(options[DaxDataRequestParam.ConsistentRead])
        projection = options.get(DaxDataRequestParam.ProjectionExpression)
        if projection is not None:
            parameters["ProjectionExpression"] = names.projection(projection)
        names.add_to(parameters)
        self._record(
            "GetItem", table, None, keys=(key,), partitions=(_key_value(key, schema[0]),), parameters=parameters
        )
        if (injected := self.server._next_injected()) is not None:
            return _error(injected, "injected by the test")
        item = self.server.read("get_item", parameters).get("Item")
        encoder = CborEncoder().append_raw(SUCCESS)
        if item is None:
            return encoder.append_map_header(0).as_bytes()
        encoder.append_map_header(1).append_int(DaxResponseParam.Item)
        if projection is not None:
            _append_projected(encoder, item, projection)
        else:
            encoder.append_binary(self._stream_item(item, schema))
        return encoder.as_bytes()

    def _batch_get_item(self) -> bytes:
        decoder = self.decoder
        request_items: dict[str, dict[str, Any]] = {}
        projections: dict[str, list[list[Any]]] = {}
        for _ in decoder.decode_map_iter():
            table = decoder.decode_string()
            schema = self.server._key_schema(table)
            decoder._decode_array_header()  # [ConsistentRead, projection or null, keys]
            table_request: dict[str, Any] = {"ConsistentRead": bool(decoder.decode_object())}
            if not decoder.try_decode_null():
                names = _Names()
                projections[table] = _read_expression(decoder)[0]
                table_request["ProjectionExpression"] = names.projection(projections[table])
                names.add_to(table_request)
            table_request["Keys"] = [
                AttributeValueDecoder._decode_key_bytes(decoder, schema) for _ in decoder.decode_array_iter()
            ]
            request_items[table] = table_request
        self._read_options()
        for table, table_request in request_items.items():
            partition = self.server._key_schema(table)[0]
            keys = tuple(table_request["Keys"])
            partitions = tuple(dict.fromkeys(_key_value(k, partition) for k in keys))
            parameters = {"RequestItems": {table: table_request}}
            self._record("BatchGetItem", table, None, keys=keys, partitions=partitions, parameters=parameters)
        if (injected := self.server._next_injected()) is not None:
            return _error(injected, "injected by the test")
        response = self.server.dynamodb.batch_get_item(RequestItems=request_items)
        # The client checks for a 2-element array, then reads three values: responses, unprocessed
        # keys, and the consumed capacity (Assemblers.batchGetItem_N697851100_1).
        encoder = CborEncoder().append_raw(SUCCESS).append_array_header(2)
        responses = response.get("Responses", {})
        encoder.append_map_header(len(responses))
        for table, items in responses.items():
            encoder.append_string(table)
            if table in projections:
                encoder.append_array_header(len(items))
                for item in items:
                    _append_projected(encoder, item, projections[table])
            else:
                schema = self.server._key_schema(table)
                encoder.append_array_header(2 * len(items))
                for item in items:
                    encoder.append_binary(AttributeValueEncoder.encode_key(item, schema))
                    encoder.append_binary(self._stream_item(item, schema))
        unprocessed = response.get("UnprocessedKeys", {})
        encoder.append_map_header(len(unprocessed))
        for table, table_request in unprocessed.items():
            schema = self.server._key_schema(table)
            encoder.append_string(table).append_array_header(len(table_request["Keys"]))
            for key in table_request["Keys"]:
                encoder.append_binary(AttributeValueEncoder.encode_key(key, schema))
        return encoder.append_array_header(0).as_bytes()  # ConsumedCapacity: none

    def _query(self) -> bytes:
        decoder = self.decoder
        table = decoder.decode_binary().decode()
        schema = self.server._key_schema(table)
        names = _Names()
        values: dict[str, Any] = {}
        parameters: dict[str, Any] = {"TableName": table}
        if decoder.try_decode_null():
            raise UnsupportedRequest("a Query needs a KeyConditionExpression")
        key_condition, key_values = _read_expression(decoder)
        parameters["KeyConditionExpression"] = _render(key_condition, names, "k", top=True)
        values.update({f":k{i}": v for i, v in enumerate(key_values)})
        options = self._read_options(schema)
        index = options.get(DaxDataRequestParam.IndexName)
        if index is not None:
            parameters["IndexName"] = index
        if (filter_expression := options.get(DaxDataRequestParam.FilterExpression)) is not None:
            parameters["FilterExpression"] = _render(filter_expression[0], names, "f", top=True)
            values.update({f":f{i}": v for i, v in enumerate(filter_expression[1])})
        projection = options.get(DaxDataRequestParam.ProjectionExpression)
        if projection is not None:
            parameters["ProjectionExpression"] = names.projection(projection)
        for param, name in (
            (DaxDataRequestParam.Limit, "Limit"),
            (DaxDataRequestParam.ExclusiveStartKey, "ExclusiveStartKey"),
        ):
            if param in options:
                parameters[name] = options[param]
        for param, name in (
            (DaxDataRequestParam.ScanIndexForward, "ScanIndexForward"),
            (DaxDataRequestParam.ConsistentRead, "ConsistentRead"),
        ):
            if param in options:
                parameters[name] = bool(options[param])
        if DaxDataRequestParam.Select in options:
            parameters["Select"] = SELECT_NAMES[options[DaxDataRequestParam.Select]]
        names.add_to(parameters)
        if values:
            parameters["ExpressionAttributeValues"] = values
        partition_names = self.server._partition_keys(table, index)
        partitions = tuple(_equalities(key_condition, key_values, partition_names))
        self._record("Query", table, index, partitions=partitions, parameters=parameters)
        if (injected := self.server._next_injected()) is not None:
            return _error(injected, "injected by the test")
        response = self.server.read("query", parameters)
        encoder = CborEncoder().append_raw(SUCCESS)
        items = response.get("Items")  # absent for Select=COUNT
        fields = 2 + (items is not None) + ("LastEvaluatedKey" in response)
        encoder.append_map_header(fields)
        if items is not None:
            encoder.append_int(DaxResponseParam.Items).append_array_header(len(items))
        for item in items or []:
            if projection is not None:
                _append_projected(encoder, item, projection)
            else:  # [key, the other attributes], as DAX sends a Query's items
                encoder.append_array_header(2)
                encoder.append_binary(AttributeValueEncoder.encode_key(item, schema))
                encoder.append_binary(self._stream_item(item, schema))
        encoder.append_int(DaxResponseParam.Count).append_int(response["Count"])
        encoder.append_int(DaxResponseParam.ScannedCount).append_int(response["ScannedCount"])
        if "LastEvaluatedKey" in response:
            last = response["LastEvaluatedKey"]
            encoder.append_int(DaxResponseParam.LastEvaluatedKey)
            if index is not None:  # an index's key is sent whole, as a map of attribute values
                encoder.append_binary(AttributeValueEncoder.encode_compound_key(last))
            else:
                encoder.append_binary(AttributeValueEncoder.encode_key(last, schema))
        return encoder.as_bytes()

    def _read_options(self, schema: list[dict[str, str]] | None = None) -> dict[int, Any]:
        """The optional named parameters (a CBOR map keyed by DaxDataRequestParam), or {} for null."""
        decoder = self.decoder
        options: dict[int, Any] = {}
        if decoder.try_decode_null():
            return options
        index_name: str | None = None
        for _ in decoder.decode_map_iter():
            param = decoder.decode_int()
            if param in (DaxDataRequestParam.ProjectionExpression,):
                options[param] = _read_expression(decoder)[0]
            elif param in (DaxDataRequestParam.FilterExpression, DaxDataRequestParam.ConditionExpression):
                options[param] = _read_expression(decoder)
            elif param == DaxDataRequestParam.ExpressionAttributeValues:
                # Already inlined in the expressions (as their variables): read and drop.
                for _ in decoder.decode_map_iter():
                    decoder.decode_string()
                    AttributeValueDecoder._decode_attribute_value(decoder)
            elif param == DaxDataRequestParam.IndexName:
                index_name = decoder.decode_binary().decode()
                options[param] = index_name
            elif param == DaxDataRequestParam.ExclusiveStartKey:
                if index_name is not None:  # IndexName comes first in the client's encoding
                    options[param] = AttributeValueDecoder._decode_compound_key(decoder.decode_cbor())
                else:
                    options[param] = AttributeValueDecoder._decode_key_bytes(decoder, schema)
            else:  # ConsistentRead, Limit, ScanIndexForward, Select, ReturnConsumedCapacity, names (inlined)
                options[param] = decoder.decode_object()
        return options

    def _stream_item(self, item: dict[str, Any], schema: list[dict[str, str]]) -> bytes:
        """The item's non-key attributes as DAX streams them: an attribute-list id, then the values."""
        names = AttributeValueEncoder._get_canonical_attribute_list(item, schema)
        return AttributeValueEncoder.encode_values(item, schema, names, self.server._attribute_list_id(names))

    def _record(self, method: str, table: str, index: str | None, **details: Any) -> None:
        request = DaxRequest(method, IAM_ACTIONS[method], table, index, access_key_id=self.access_key_id, **details)
        self.server._record(request)


class _Names:
    """Expression attribute names, one placeholder per distinct name: #n0, #n1, ..."""

    def __init__(self) -> None:
        self.placeholders: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        return self.placeholders.setdefault(attribute, f"#n{len(self.placeholders)}")

    def path(self, node: list[Any]) -> str:
        """A DocumentPath node, [18, "a", ordinal, "b"], as #n0[1].#n1 (in a condition or filter)."""
        if not node or node[0] != Func.DocumentPath:
            raise UnsupportedRequest(f"expected a document path, got {node!r}")
        text = ""
        for element in node[1:]:
            if isinstance(element, DocumentPathOrdinal):
                text += f"[{element.ordinal}]"
            else:
                text += ("." if text else "") + self.name(element)
        return text

    def projection(self, paths: list[list[Any]]) -> str:
        """The top-level attributes of the paths: DynamoDB renumbers the list elements it projects
        (a[1] comes back as a[0]), so the fake projects whole attributes and picks the paths itself."""
        tops = dict.fromkeys(self.name(path[1]) for path in paths if len(path) > 1)
        return ", ".join(tops)

    def add_to(self, parameters: dict[str, Any]) -> None:
        if self.placeholders:
            parameters["ExpressionAttributeNames"] = {p: a for a, p in self.placeholders.items()}


def _read_expression(decoder: DaxCborDecoder) -> tuple[Any, list[dict[str, Any]]]:
    """An encoded expression: a bytes value holding [format 1, S-expression, [variable values]]
    ([1, paths] for a projection). Names are already inlined; values are referenced by number."""
    nested = decoder.decode_cbor()
    size = nested._decode_array_header()
    if nested.decode_int() != CborSExprGenerator.CborSExprGenerator.ENCODING_FORMAT:
        raise UnsupportedRequest("unknown expression encoding")
    tree = nested.decode_object()
    values = []
    if size == 3:
        values = [AttributeValueDecoder._decode_attribute_value(nested) for _ in nested.decode_array_iter()]
    return tree, values


LOGICAL = {Func.And: "AND", Func.Or: "OR"}


def _render(node: list[Any], names: _Names, prefix: str, *, top: bool = False) -> str:
    """Turn the client's S-expression back into DynamoDB's expression syntax."""
    code, *args = node
    if code == Func.DocumentPath:
        return names.path(node)
    if code == Func.Variable:
        return f":{prefix}{args[0]}"
    if code in COMPARATORS:
        return f"{_render(args[0], names, prefix)} {COMPARATORS[code]} {_render(args[1], names, prefix)}"
    if code in LOGICAL:
        text = f" {LOGICAL[code]} ".join(_render(a, names, prefix) for a in args)
        return text if top else f"({text})"
    if code == Func.Not:
        return f"NOT {_render(args[0], names, prefix)}" if top else f"(NOT {_render(args[0], names, prefix)})"
    if code == Func.Between:
        low, high = (_render(a, names, prefix) for a in args[1:])
        return f"{_render(args[0], names, prefix)} BETWEEN {low} AND {high}"
    if code == Func.In:
        options = ", ".join(_render(a, names, prefix) for a in args[1])
        return f"{_render(args[0], names, prefix)} IN ({options})"
    if code in FUNCTIONS:
        return f"{FUNCTIONS[code]}({', '.join(_render(a, names, prefix) for a in args)})"
    raise UnsupportedRequest(f"the fake DAX does not decode S-expression function {code}")


def _equalities(node: list[Any], values: list[dict[str, Any]], attributes: set[str]) -> Iterator[str]:
    """The values a key condition pins `attribute = :value` to, for the given attributes."""
    code, *args = node
    if code == Func.And:
        for arg in args:
            yield from _equalities(arg, values, attributes)
    elif code == Func.Equal:
        path, variable = args
        if path[0] == Func.DocumentPath and len(path) == 2 and path[1] in attributes:
            yield _scalar(values[variable[1]])


def _append_projected(encoder: CborEncoder, item: dict[str, Any], projection: list[list[Any]]) -> None:
    """A projected item as DAX sends it: {ordinal of the path in the projection: value}, present paths only."""
    found = {}
    for ordinal, path in enumerate(projection):
        value = _follow(item, path[1:])
        if value is not None:
            found[ordinal] = value
    encoder.append_map_header(len(found))
    for ordinal, value in found.items():
        encoder.append_int(ordinal)
        AttributeValueEncoder.encode_attribute_value_direct(encoder, value)


def _follow(item: dict[str, Any], elements: list[Any]) -> dict[str, Any] | None:
    value: Any = {"M": item}
    for element in elements:
        if isinstance(element, DocumentPathOrdinal):
            items = value.get("L", [])
            value = items[element.ordinal] if element.ordinal < len(items) else None
        else:
            value = value.get("M", {}).get(element)
        if value is None:
            return None
    return value


def _key_value(key: dict[str, Any], attribute: dict[str, str]) -> str:
    return _scalar(key[attribute["AttributeName"]])


def _scalar(value: dict[str, Any]) -> str:
    ((_, raw),) = value.items()
    return raw.hex() if isinstance(raw, bytes) else str(raw)


def _error(code: str, message: str) -> bytes:
    """A DAX error response: the code path, the message, then [request id, DynamoDB code, HTTP status]."""
    encoder = CborEncoder()
    path = DAX_ERROR_CODES.get(code, DAX_ERROR_CODES["InternalServerError"])
    encoder.append_array_header(len(path))
    for number in path:
        encoder.append_int(number)
    encoder.append_string(message or code)
    encoder.append_array_header(3).append_string(str(uuid.uuid4())).append_string(code)
    encoder.append_int(HTTP_STATUS.get(code, 400))
    return encoder.as_bytes()


def _authentication_error(message: str) -> bytes:
    encoder = CborEncoder().append_array_header(len(AUTHENTICATION_ERROR))
    for number in AUTHENTICATION_ERROR:
        encoder.append_int(number)
    encoder.append_string(message)
    encoder.append_array_header(3).append_string(str(uuid.uuid4())).append_string("UnrecognizedClientException")
    return encoder.append_int(403).as_bytes()


def _signature_problem(server: FakeDax, access_key_id: str, signature: str, string_to_sign: str) -> str | None:
    """Why the SigV4 signature does not verify, or None when it does (same derivation as SigV4Gen)."""
    secret = server.secret_keys.get(access_key_id)
    if secret is None:
        return f"The security token included in the request is invalid (unknown access key {access_key_id})"
    lines = string_to_sign.split("\n")
    if len(lines) != 4 or lines[0] != "AWS4-HMAC-SHA256":
        return "The string to sign is not SigV4"
    date, region, service, terminator = lines[2].split("/")
    if (region, service, terminator) != (server.region, "dax", "aws4_request"):
        return f"Credential scope {lines[2]} is not for dax in {server.region}"
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "The request signature we calculated does not match the signature you provided"
    return None


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
