"""The finished run's report, delivered by email and/or webhook (PROFILESYNC_NOTIFY, README "The nightly report").

The CLI calls ``deliver.deliver`` once a sync has rendered its report (or an error stopped it), after the run is
recorded: a delivery that fails is logged with advice and changes neither the exit code nor the history.

``settings`` (PROFILESYNC_NOTIFY*, read with every other setting, so kept light), ``message`` (the summary, its
text and HTML), ``smtp`` (the mail), ``webhook`` (Slack text or a Teams Adaptive Card), ``deliver``. This file
imports nothing: every command that reads settings imports ``settings``.
"""
