"""Answers the exercise checks must reject: the seed's naive code and typical wrong answers.

WRONG[exercise] lists (label, function, the start of the case that must catch it), gathered from one
module per chapter (wrong_ch01.py ...). A check that passes one of these, or catches it at another
case, is a defect (tests/test_exercises.py).
"""

from importlib import import_module

WRONG: dict[str, list] = {}
for chapter in range(1, 9):
    try:
        WRONG.update(import_module(f"wrong_ch{chapter:02d}").WRONG)
    except ModuleNotFoundError as exc:
        if exc.name != f"wrong_ch{chapter:02d}":
            raise
