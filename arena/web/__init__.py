"""``arena serve``: a local web app to browse runs, negotiate against agents and judge transcripts.

Import ``arena.web.app`` for the app itself (this package stays light for the command line)."""
