"""English as the salon's customers write it (docs/languages.md). Django's format
characters: https://docs.djangoproject.com/en/5.2/ref/templates/builtins/#date"""

TIME_FORMAT = "g:i A"  # 2:30 PM
DAY_FORMAT = "l, F j"  # Monday, December 7
LONG_DAY_FORMAT = "l, F j, Y"  # Monday, December 7, 2026
SHORT_DAY_FORMAT = "D, M j"  # Mon, Dec 7
YEAR_MONTH_FORMAT = "F Y"  # December 2026
