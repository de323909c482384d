"""Human studies on ``arena serve --study FILE``: a study file (what participants see and meet, in which
conditions), balanced seeded assignment, the durable record of each participant, and export and
withdrawal (``arena study export|withdraw``).

Import the modules themselves (``arena.study.spec``, ``arena.study.store`` ...); this package stays
light for the command line.
"""
