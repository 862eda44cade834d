#include <lib/CivilTime.h>

namespace skiff {

bool is_leap_year(i64 year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

u32 days_in_month(i64 year, u32 month)
{
    constexpr u8 kDays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (month < 1 || month > 12)
        return 0;
    return kDays[month - 1] + (month == 2 && is_leap_year(year) ? 1 : 0);
}

// The calendar counted in 400-year eras that start on March 1st, so the leap day ends each year
// and every era has the same 146,097 days.
i64 days_from_civil(i64 year, u32 month, u32 day)
{
    year -= month <= 2 ? 1 : 0;
    i64 era = (year >= 0 ? year : year - 399) / 400;
    i64 year_of_era = year - era * 400;                                              // [0, 399]
    i64 day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1; // [0, 365]
    i64 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468; // 719468: days from 0000-03-01 to 1970-01-01
}

CivilTime civil_from_unix(i64 seconds)
{
    i64 days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    i64 rest = seconds - days * 86400;
    CivilTime time;
    time.hour = static_cast<u8>(rest / 3600);
    time.minute = static_cast<u8>(rest / 60 % 60);
    time.second = static_cast<u8>(rest % 60);
    i64 weekday = (days + 4) % 7;
    time.weekday = static_cast<u8>(weekday < 0 ? weekday + 7 : weekday);
    i64 z = days + 719468;
    i64 era = (z >= 0 ? z : z - 146096) / 146097;
    i64 day_of_era = z - era * 146097;
    i64 year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    i64 day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    i64 month_index = (5 * day_of_year + 2) / 153; // 0 = March
    time.day = static_cast<u8>(day_of_year - (153 * month_index + 2) / 5 + 1);
    time.month = static_cast<u8>(month_index < 10 ? month_index + 3 : month_index - 9);
    time.year = year_of_era + era * 400 + (time.month <= 2 ? 1 : 0);
    return time;
}

bool unix_from_civil(CivilTime const& time, i64& seconds)
{
    if (time.month < 1 || time.month > 12 || time.day < 1 || time.day > days_in_month(time.year, time.month)
        || time.hour > 23 || time.minute > 59 || time.second > 60)
        return false;
    // A leap second (":60", which HTTP dates may not carry but a sender could) counts as :59.
    u32 second = time.second == 60 ? 59 : time.second;
    seconds = days_from_civil(time.year, time.month, time.day) * 86400 + time.hour * 3600 + time.minute * 60 + second;
    return true;
}

} // namespace skiff
