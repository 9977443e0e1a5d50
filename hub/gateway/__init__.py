"""The HTTP gateway: the door for department and street systems that speak HTTP, not Kafka."""

from hub.gateway._app import Gateway
from hub.gateway._native import NativeDesk
from hub.gateway._openapi import document as openapi_document
from hub.gateway._orders import OrderDesk
from hub.gateway._policy import HTTP_KINDS, PUBLISHABLE, may_publish, may_read_inbox
from hub.gateway._problems import PROBLEMS, Problem
from hub.gateway._tokens import TokenEntry, TokenStore, token_hash

__all__ = [
    "HTTP_KINDS",
    "PROBLEMS",
    "PUBLISHABLE",
    "Gateway",
    "NativeDesk",
    "OrderDesk",
    "Problem",
    "TokenEntry",
    "TokenStore",
    "may_publish",
    "may_read_inbox",
    "openapi_document",
    "token_hash",
]
