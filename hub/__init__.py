"""Wuchang enforcement exchange hub (武昌区综合执法数据交换枢纽).

The integration layer between the 14 street enforcement centres, the eight delegating
district departments, the big-data bureau, police, procuratorate and court, on Apache
Kafka. See docs/design.md for the whole; the folder listing shows the parts:

- `hub.settings`   one `HubSettings` (HUB_* environment variables)
- `hub.errors`     the `HubError` tree
- `hub.reference`  parties and other reference data
- `hub.topics`     topics as code: declarations, diff, apply
- `hub.wire`       the Kafka edge: topic names, headers, producers, the DLQ writer
- `hub.mapping`    native records to canonical ones: the engine and the shipped specs
- `hub.stream`     the pipeline runtime: stages, tables, outputs before commits
- `hub.stages`     the pipeline's steps: normalise, assign, lifecycle, disclose, deadlines
- `hub.dispatch`   the dispatch cores: order state machine, deadlines, assessment
- `hub.http`       the HTTP side: the platform and one module per resource
- `hub.worker`     the composition root: a worker process wires all of the above
- `hub.deploy`     deployment for a real cluster: `hub export strimzi` (Kubernetes)
- `hub.cli`        the ``hub`` command
"""

__version__ = "0.1.0"
