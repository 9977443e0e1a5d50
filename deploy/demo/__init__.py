"""The live demo of `make run` (deploy/run.sh): test doubles of the parties' systems
(`party`: a webhook receiver and a paged poll API) and a traffic driver that plays the
parties over the hub's HTTP API (`driver`). The hub never imports them; they talk to
it over HTTP only, and the integration tests use them as the parties' systems."""
