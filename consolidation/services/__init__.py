"""Writes of the data consolidation: receiving batches (``batches``), loading and checking them (``load``), applying
them (``apply``, ``apply_persons``, ``apply_history``), the conflict queue (``conflicts``), the reports
(``report``) and the worker's lock and heartbeat (``runner``)."""
