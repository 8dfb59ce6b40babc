"""French: the 24-hour clock, the day before the month, names in lower case."""

TIME_FORMAT = "H:i"  # 14:30
DAY_FORMAT = "l j F"  # lundi 7 décembre
LONG_DAY_FORMAT = "l j F Y"  # lundi 7 décembre 2026
SHORT_DAY_FORMAT = "D j b"  # lun 7 déc
YEAR_MONTH_FORMAT = "F Y"  # décembre 2026
