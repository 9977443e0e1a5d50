"""``GET /v1/catalogue`` and ``GET /v1/shared/{dataset}/…``: the data catalogue and lookups
of shared data (rule 四.四 信息共享; docs/design.md §4).

The catalogue (`hub.shared`, ``hub/reference/datasets.yaml``) says per dataset who owns
it, how it is keyed and searched, and how each kind of party reads it: whole, with
personal data masked, or not at all (403: it may request it). A lookup is answered from
the worker's own materialised view (`hub.shared.SharedView`), never by asking another
worker. Every lookup names its purpose in ``X-Hub-Purpose`` (an order or case id, or a
few words: 400 without one) and is audited: who read which key of which dataset, why,
and the names of the fields returned (`hub.http.platform`'s audit event, never the
values). Operators read no shared data (403).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import unquote

from aiohttp import web
from pydantic import BaseModel, Field

from hub.http.orders import not_ops
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.shared import Access, DataCatalogue, Dataset, FieldClass, SharedDataLoading

T = TypeVar("T")
PURPOSE_HEADER = "X-Hub-Purpose"
PURPOSE_LIMIT = 200


class SharedReads(Protocol):
    """What lookups read (`hub.shared.SharedView`)."""

    async def get(self, dataset_id: str, key: str) -> dict[str, Any] | None: ...

    async def find(self, dataset_id: str, name: str, value: str) -> list[dict[str, Any]]: ...


class DatasetEntry(BaseModel):
    """资源目录条目 one dataset as the caller may use it."""

    id: str
    name: str
    owner: str
    key: str
    secondary: list[str]
    fields: dict[str, FieldClass]
    access: Literal["full", "masked"] | None = Field(
        description="how the caller reads it; null: it may not (it may request it)"
    )


class CatalogueList(BaseModel):
    datasets: list[DatasetEntry]


class SharedRecord(BaseModel):
    """共享数据 one record as the caller may see it."""

    dataset: str
    key: str
    access: Literal["full", "masked"]
    record: dict[str, Any]


class SharedList(BaseModel):
    """共享数据 the records whose secondary key has the value asked for."""

    dataset: str
    by: str
    value: str
    access: Literal["full", "masked"]
    records: list[dict[str, Any]]


DATASET = Param("dataset", "path", {"type": "string"}, "a dataset id of GET /v1/catalogue")
PURPOSE = Param(
    PURPOSE_HEADER, "header", {"type": "string", "minLength": 1, "maxLength": PURPOSE_LIMIT},
    "why the caller reads: an order or case id, or a few words (audited)", required=True,
)

ROUTES = (
    Route(
        "GET", "/v1/catalogue", "catalogue", "catalogue",
        "The data catalogue: every dataset, and how the caller may read it", "shared",
        (Answer(200, "the catalogue", CatalogueList),),
        platform=(401, 403, 429),
    ),
    Route(
        "GET", "/v1/shared/{dataset}/{key}", "lookup", "lookup",
        "One record of a shared dataset by its key, masked for the caller", "shared",
        (Answer(200, "the record", SharedRecord),
         Answer(400, "no purpose (X-Hub-Purpose)"),
         Answer(404, "no such dataset or key"),
         Answer(503, "the worker's shared view is still loading; see Retry-After")),
        params=(DATASET, Param("key", "path", {"type": "string"}, "the record's key"), PURPOSE),
    ),
    Route(
        "GET", "/v1/shared/{dataset}", "search", "search",
        "The records of a shared dataset with a secondary key's value, e.g. "
        "?holder_uscc= for permits", "shared",
        (Answer(200, "the records", SharedList),
         Answer(400, "no purpose (X-Hub-Purpose)"),
         Answer(404, "no such dataset"),
         Answer(422, "not exactly one secondary key of the dataset"),
         Answer(503, "the worker's shared view is still loading; see Retry-After")),
        params=(DATASET, PURPOSE),
    ),
)


class Shared:
    """Answers the catalogue and the lookups from the worker's shared view."""

    def __init__(self, platform: Platform, catalogue: DataCatalogue, view: SharedReads) -> None:
        self.platform = platform
        self.datasets = catalogue
        self.view = view

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def catalogue(self, request: web.Request) -> web.Response:
        party = self.platform.caller(request)
        not_ops(party)
        entries = [
            {
                "id": d.id, "name": d.name, "owner": d.owner, "key": d.key,
                "secondary": d.secondary, "fields": d.fields, "access": d.access_of(party),
            }
            for d in self.datasets.datasets
        ]
        return respond(CatalogueList.model_validate({"datasets": entries}))

    async def lookup(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        dataset, access, purpose = self._reader(request, key)
        record = await self._read(self.view.get(dataset.id, key))
        if record is None:
            self.platform.mark_read(request, purpose=purpose, dataset=dataset.id, key=key,
                                    returned=0)
            raise Problem(
                "not-found", f"no {dataset.id} with {dataset.key} {key}",
                detail_zh=f"{dataset.name.split()[0]}中没有{key}",
            )
        seen = dataset.view(record, access)
        self.platform.mark_read(request, purpose=purpose, dataset=dataset.id, key=key,
                                fields=list(seen), returned=1)
        return respond(SharedRecord.model_validate(
            {"dataset": dataset.id, "key": key, "access": access, "record": seen}
        ))

    async def search(self, request: web.Request) -> web.Response:
        asked_for = "&".join(f"{k}={v}" for k, v in request.query.items())
        dataset, access, purpose = self._reader(request, asked_for)
        asked = [name for name in request.query if name in dataset.secondary]
        if len(asked) != 1 or len(request.query) != 1:
            by = ", ".join(dataset.secondary) or "none"
            raise Problem(
                "invalid-parameter",
                f"search {dataset.id} by exactly one of its secondary keys ({by}), e.g. "
                f"?{dataset.secondary[0] if dataset.secondary else dataset.key}=…; "
                f"or read one record at /v1/shared/{dataset.id}/{{{dataset.key}}}",
                detail_zh=f"请按一个二级键（{by}）查询，或按主键读取单条记录",
            )
        (name,) = asked
        value = request.query[name]
        found = await self._read(self.view.find(dataset.id, name, value))
        seen = [dataset.view(record, access) for record in found]
        returned = sorted({field for record in seen for field in record})
        self.platform.mark_read(request, purpose=purpose, dataset=dataset.id,
                                key=f"{name}={value}", fields=returned, returned=len(seen))
        return respond(SharedList.model_validate(
            {"dataset": dataset.id, "by": name, "value": value, "access": access,
             "records": seen}
        ))

    def _reader(self, request: web.Request, key: str) -> tuple[Dataset, Access, str]:
        """The dataset asked for, how the caller reads it, and why; `Problem` if it may not
        (the attempt is audited with the dataset and key all the same)."""
        party = self.platform.caller(request)
        not_ops(party)
        dataset_id = request.match_info["dataset"]
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise Problem(
                "not-found", f"no dataset {dataset_id}; GET /v1/catalogue lists them",
                detail_zh=f"没有数据集{dataset_id}，请查看GET /v1/catalogue",
            )
        purpose = unquote(request.headers.get(PURPOSE_HEADER, "")).strip()
        try:
            purpose.encode("utf-8")
        except UnicodeEncodeError:
            purpose = ""  # bytes that are not UTF-8: say it again, readably
        self.platform.mark_read(request, purpose=purpose[:PURPOSE_LIMIT] or None,
                                dataset=dataset.id, key=key)
        access = dataset.access_of(party)
        if access is None:
            raise Problem(
                "forbidden",
                f"{party.id} may not read {dataset.id} (owner {dataset.owner}); request it",
                detail_zh=f"{party.name}无权调阅{dataset.name.split()[0]}，可向{dataset.owner}申请",
            )
        if not purpose or len(purpose) > PURPOSE_LIMIT:
            raise Problem(
                "bad-request",
                f"say why you read shared data in {PURPOSE_HEADER} (an order or case id, or a "
                f"few words, UTF-8 or percent-encoded; at most {PURPOSE_LIMIT} characters): "
                "every read is audited",
                detail_zh=f"调阅共享数据须在{PURPOSE_HEADER}请求头中说明用途（派单或案件编号，"
                f"或简短说明，不超过{PURPOSE_LIMIT}字），每次调阅均留痕",
            )
        return dataset, access, purpose

    @staticmethod
    async def _read(read: Awaitable[T]) -> T:
        try:
            return await read
        except SharedDataLoading as exc:
            raise Problem(
                "timeout", exc.message, detail_zh="共享数据正在加载，请稍后重试",
                headers={"Retry-After": "2"},
            ) from None
