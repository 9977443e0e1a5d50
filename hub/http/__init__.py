"""The hub's HTTP side: the door for department and street systems that speak HTTP.

`platform` is what every resource stands on (middlewares, the caller, problems, the
audit trail); each resource is one module with its routes: `records` (canonical
publish), `native` (a party's own format), `inbox` (pages and SSE), `orders` (state,
history, actions, lists), `cases` (a case as its owner or a supervisor may see it),
`shared` (the data catalogue and lookups of shared data), `subscriptions` (requests,
decisions and revocations of subscriptions to shared data), `assessment`, `ops` (health,
readiness, metrics, the operations page), `openapi`. `policy` says who may do what,
`tokens` keeps the bearer tokens, `peers` forwards to and gathers from other workers.
"""

from hub.http.assessment import Assessment
from hub.http.cases import Cases
from hub.http.core import Core
from hub.http.inbox import Inbox
from hub.http.native import Native
from hub.http.openapi import OpenApi
from hub.http.openapi import document as openapi_document
from hub.http.ops import Ops
from hub.http.orders import Orders
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.policy import HTTP_KINDS, PUBLISHABLE, may_publish, may_read_inbox
from hub.http.problems import PROBLEMS, Problem
from hub.http.records import Records
from hub.http.shared import Shared
from hub.http.subscriptions import Subscriptions
from hub.http.tokens import TokenEntry, TokenStore, token_hash

__all__ = [
    "HTTP_KINDS",
    "PROBLEMS",
    "PUBLISHABLE",
    "Assessment",
    "Cases",
    "Core",
    "Inbox",
    "Native",
    "OpenApi",
    "Ops",
    "Orders",
    "Peers",
    "Platform",
    "Problem",
    "Records",
    "Shared",
    "Subscriptions",
    "TokenEntry",
    "TokenStore",
    "may_publish",
    "may_read_inbox",
    "openapi_document",
    "token_hash",
]
