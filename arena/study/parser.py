"""The ``arena study`` arguments (argparse only, so ``arena --help`` stays quick)."""
from __future__ import annotations

import argparse


def add_study_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="human studies run by arena serve --study: check a study file, export, withdraw")
    actions = p.add_subparsers(dest="study_command", required=True, parser_class=type(p))
    check = actions.add_parser("check", help="check a study file and print the first participants' assignments")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--participants", type=int, default=6, metavar="N", help="assignments to print (default 6)")
    export = actions.add_parser("export", help="write a study's tables (Parquet and CSV) with a data dictionary")
    export.add_argument("folder", metavar="DIR", help="the study's data folder (arena serve --study FILE --out DIR)")
    export.add_argument("--out", metavar="DIR", help="where the tables go (default DIR/export)")
    export.add_argument("--with-ids", action="store_true",
                        help="keep the recruitment ids (default: pseudonyms under the study's salt)")
    withdraw = actions.add_parser("withdraw", help="remove a participant's data everywhere and record that it was done")
    withdraw.add_argument("folder", metavar="DIR")
    withdraw.add_argument("participant", metavar="ID", help="the participant's id from the entry URL")
