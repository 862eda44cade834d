#pragma once

// Seconds since 1970-01-01 00:00:00 UTC <-> the proleptic Gregorian calendar, for file times
// (`ls`, `stat`) and HTTP dates. No time zones, no leap seconds (POSIX time has none).

#include <lib/Types.h>

namespace skiff {

struct CivilTime {
    i64 year { 1970 };
    u8 month { 1 }; // 1-12
    u8 day { 1 };   // 1-31
    u8 hour { 0 };
    u8 minute { 0 };
    u8 second { 0 };
    u8 weekday { 4 }; // 0 = Sunday (1970-01-01 was a Thursday)
};

CivilTime civil_from_unix(i64 seconds);
// False when a field is out of range (February 30th, hour 24, ...).
bool unix_from_civil(CivilTime const& time, i64& seconds);

// Days from 1970-01-01 to year-month-day (negative before it).
i64 days_from_civil(i64 year, u32 month, u32 day);
bool is_leap_year(i64 year);
u32 days_in_month(i64 year, u32 month);

} // namespace skiff
