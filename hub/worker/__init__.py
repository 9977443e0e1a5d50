"""A hub worker: the Faust app (agents, tables, timers) and the HTTP server in one process."""

from hub.worker._app import HubApp, create_app
from hub.worker._http import HttpServer, build_web_app
from hub.worker._run import run_worker

__all__ = ["HttpServer", "HubApp", "build_web_app", "create_app", "run_worker"]
