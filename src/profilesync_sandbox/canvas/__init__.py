"""The Canvas emulator: an API host and a separate upload host, with the data, rules and quirks behind them.

Layout: ``config`` (knobs) → ``scenario`` (who lives there) → ``data``, ``storage``, ``records`` (the data;
``state`` is the controls tests and the CLI use on it) → ``app`` (auth, routing, rendering) with the handlers
``accounts`` (account JSON, rights, sub-accounts), ``users``, ``uploads``, ``observers``, ``observees``,
``enrollments``, ``pages`` and ``features`` → ``emulator.Sandbox`` (both hosts, served by the shared
``profilesync_sandbox.server`` pipeline). The scenario file format is described in ``scenario``.
"""
