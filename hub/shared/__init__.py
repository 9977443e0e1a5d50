"""Information sharing 信息共享 (rule 四.四; docs/design.md §4): the data catalogue, and the
materialised view of the shared datasets that lookups read, and subscriptions to them."""

from hub.shared._catalogue import (
    Access,
    DataCatalogue,
    Dataset,
    FieldClass,
    load_datasets,
    mask_personal,
)
from hub.shared._load import LoadResult, load_file, loadable, rows_of
from hub.shared._store import ViewStore
from hub.shared._subscriptions import (
    ENDED,
    Refusal,
    Subscription,
    SubscriptionState,
    SubscriptionStep,
    advance,
    due_to_expire,
)
from hub.shared._view import Dataview, SharedDataLoading, SharedView

__all__ = [
    "Access",
    "DataCatalogue",
    "Dataset",
    "Dataview",
    "ENDED",
    "Refusal",
    "Subscription",
    "SubscriptionState",
    "SubscriptionStep",
    "ViewStore",
    "advance",
    "due_to_expire",
    "FieldClass",
    "LoadResult",
    "SharedDataLoading",
    "SharedView",
    "load_datasets",
    "load_file",
    "loadable",
    "rows_of",
    "mask_personal",
]
