"""Canvas observers (seed 002, made idempotent): a CSV of students and parents → parent accounts, paired.

``csvfile`` reads and checks the CSV, ``planner`` decides each row (pure), ``canvas`` makes the Canvas calls,
``executor`` runs the rows (one task per parent, parents in parallel), ``run`` wires settings, store and lock,
``render`` prints, and ``command`` is the ``observers`` click group.
"""
