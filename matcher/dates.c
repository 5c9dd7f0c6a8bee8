/* dates.c - see dates.h. Civil-date arithmetic after H. Hinnant's
 * days_from_civil / civil_from_days, valid for the proleptic Gregorian
 * calendar. */
#include "dates.h"

#include <stdio.h>
#include <time.h>

static int s_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int s_days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_is_leap(y) ? 29 : dim[m - 1];
}

static int32_t s_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int era = y / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int dates_parse(const char *s, int32_t *days)
{
    int y, m, d;
    for (int i = 0; i < 10; i++)
        if (s[i] == '\0')
            return -1;
    if (s[10] != '\0' || s[4] != '-' || s[7] != '-')
        return -1;
    if (s_digits(s, 4, &y) || s_digits(s + 5, 2, &m) || s_digits(s + 8, 2, &d))
        return -1;
    if (y < 1970 || y > 2199 || m < 1 || m > 12 || d < 1 || d > s_days_in_month(y, m))
        return -1;
    *days = s_days_from_civil(y, m, d);
    return 0;
}

void dates_format(int32_t days, char *buf, size_t len)
{
    int z = days + 719468;
    const int era = z / 146097;
    const int doe = z - era * 146097;
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int mp = (5 * doy + 2) / 153;
    const int d = doy - (153 * mp + 2) / 5 + 1;
    const int m = mp < 10 ? mp + 3 : mp - 9;
    const int y = yoe + era * 400 + (m <= 2);
    (void)snprintf(buf, len, "%04d-%02d-%02d", y, m, d); /* fits: 10 chars */
}

int32_t dates_today(void)
{
    return (int32_t)(time(NULL) / 86400);
}

int utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}
