"""Wuchang enforcement exchange hub (武昌区综合执法数据交换枢纽).

The integration layer between the 14 street enforcement centres, the eight delegating
district departments, the big-data bureau, police, procuratorate and court, on Apache
Kafka. See DESIGN.md for the whole; the folder listing shows the parts:

- `hub.settings`   one `HubSettings` (HUB_* environment variables)
- `hub.errors`     the `HubError` tree
- `hub.reference`  parties and other reference data
- `hub.topics`     topics as code: declarations, diff, apply
- `hub.worker`     the Faust app and HTTP server of a worker process
- `hub.cli`        the ``hub`` command
"""

__version__ = "0.1.0"
