DATE_FORMAT = r"l j \d\e F \d\e Y"
SHORT_DATE_FORMAT = r"D j \d\e M"
TIME_FORMAT = "g:i A"
DATETIME_FORMAT = r"l j \d\e F \d\e Y, g:i A"
