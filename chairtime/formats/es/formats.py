"""Spanish: the 24-hour clock, "7 de diciembre", names in lower case."""

TIME_FORMAT = "H:i"  # 14:30
DAY_FORMAT = r"l j \d\e F"  # lunes 7 de diciembre
LONG_DAY_FORMAT = r"l j \d\e F \d\e Y"  # lunes 7 de diciembre de 2026
SHORT_DAY_FORMAT = "D j b"  # lun 7 dic
YEAR_MONTH_FORMAT = r"F \d\e Y"  # diciembre de 2026
