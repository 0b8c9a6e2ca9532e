# Dates as a family reads them: "Tuesday, November 24, 2026" and "7:30 AM".
DATE_FORMAT = "l, F j, Y"
SHORT_DATE_FORMAT = "D, M j"
TIME_FORMAT = "g:i A"
DATETIME_FORMAT = "l, F j, Y, g:i A"
