{#-
  The vars of the analyses, read and checked: each macro returns the value of one var in the
  form the SQL needs, or stops the compilation with a message that names the var, the value
  given and what the var accepts. Nothing is coerced silently: lots is not 0, 10GB is 10
  billion bytes, a timestamp with an offset is converted to UTC.
-#}

{% macro s3logs_var_error(name, value, accepts) %}
    {%- do exceptions.raise_compiler_error(
        "var " ~ name ~ ": got " ~ s3logs_var_repr(value) ~ "; " ~ name ~ " accepts " ~ accepts
    ) %}
{% endmacro %}

{% macro s3logs_var_repr(value) %}
    {%- if value is string %}
        {{- return("'" ~ value ~ "'") }}
    {%- endif %}
    {{- return(value | string) }}
{% endmacro %}

{#- A whole number of at least minimum: an integer, or text made of digits only. -#}
{% macro s3logs_int_var(name, default, minimum=0) %}
    {%- set value = var(name, default) %}
    {%- set accepts = "a whole number of at least " ~ minimum ~ " (such as " ~ default ~ ")" %}
    {%- if value is boolean or value is none %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- elif value is number %}
        {%- if value != value | int %}
            {%- do s3logs_var_error(name, value, accepts) %}
        {%- endif %}
        {%- set number = value | int %}
    {%- elif value is string and modules.re.fullmatch('\s*[0-9]+\s*', value) %}
        {%- set number = value | int %}
    {%- else %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {%- if number < minimum %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {{- return(number) }}
{% endmacro %}

{#-
  A number of bytes: a whole number, or a number followed by a unit, B, KB, MB, GB, TB or PB
  (powers of 1000, as S3 reports storage) or KiB, MiB, GiB, TiB or PiB (powers of 1024), in
  any letter case, with or without a space: 10GB is 10000000000, 1.5 GiB is 1610612736.
-#}
{% macro s3logs_bytes_var(name, default) %}
    {%- set value = var(name, default) %}
    {%- set accepts = "a number of bytes: a whole number such as 10000000000, or a number"
        ~ " and a unit: B, KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB"
        ~ " (powers of 1024), such as 10GB or 1.5 GiB" %}
    {%- if value is boolean or value is none %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- elif value is number %}
        {%- if value != value | int or value < 0 %}
            {%- do s3logs_var_error(name, value, accepts) %}
        {%- endif %}
        {{- return(value | int) }}
    {%- elif value is not string %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {%- set match = modules.re.fullmatch(
        '\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgtp]?)(i?)b)?\s*', value | lower
    ) %}
    {%- if not match %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {%- set number = match.group(1) %}
    {%- set base = 1024 if match.group(3) else 1000 %}
    {%- set power = ['', 'k', 'm', 'g', 't', 'p'].index(match.group(2) or '') %}
    {%- if match.group(2) is none and '.' in number %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {%- if '.' in number %}
        {{- return((number | float * base ** power) | round | int) }}
    {%- endif %}
    {{- return(number | int * base ** power) }}
{% endmacro %}

{#- A share between 0 and 1 (0.5 is half): a number, or text that reads as one. -#}
{% macro s3logs_share_var(name, default) %}
    {%- set value = var(name, default) %}
    {%- set accepts = "a share between 0 and 1, such as " ~ default %}
    {%- if value is string and modules.re.fullmatch('\s*[0-9]*\.?[0-9]+\s*', value) %}
        {%- set value = value | float %}
    {%- endif %}
    {%- if value is boolean or value is not number or value < 0 or value > 1 %}
        {%- do s3logs_var_error(name, var(name, default), accepts) %}
    {%- endif %}
    {{- return(value) }}
{% endmacro %}

{#- true or false (also yes / no, in any letter case). -#}
{% macro s3logs_bool_var(name, default) %}
    {%- set value = var(name, default) %}
    {%- if value is boolean %}
        {{- return(value) }}
    {%- elif value is string and value | lower | trim in ('true', 'yes') %}
        {{- return(true) }}
    {%- elif value is string and value | lower | trim in ('false', 'no') %}
        {{- return(false) }}
    {%- endif %}
    {%- do s3logs_var_error(name, value, "true or false") %}
{% endmacro %}

{#- One of a fixed list of words. -#}
{% macro s3logs_choice_var(name, default, choices) %}
    {%- set value = var(name, default) %}
    {%- if value is string and value in choices %}
        {{- return(value) }}
    {%- endif %}
    {%- do s3logs_var_error(name, value, "one of: " ~ choices | join(', ')) %}
{% endmacro %}

{#-
  A text value such as a key, a requester or an IP, or none when unset. A number is taken as
  its text; a list, a mapping or an empty text stops the compilation.
-#}
{% macro s3logs_text_var(name, what) %}
    {%- set value = var(name, none) %}
    {%- if value is none %}
        {{- return(none) }}
    {%- elif value is boolean or value is mapping or (value is iterable and value is not string) %}
        {%- do s3logs_var_error(name, value, "one " ~ what) %}
    {%- elif value | string | length == 0 %}
        {%- do s3logs_var_error(name, value, "one " ~ what ~ ", not an empty text") %}
    {%- endif %}
    {{- return(value | string) }}
{% endmacro %}

{#-
  AWS account ids: a list, or one text with ids separated by commas; each id 12 digits. A
  number is zero-padded to 12 digits (YAML reads 012345678901 as a number). Empty when unset.
-#}
{% macro s3logs_accounts_var(name) %}
    {%- set value = var(name, none) %}
    {%- set accepts = "AWS account ids of 12 digits, as a list or separated by commas" %}
    {%- if value is none %}
        {{- return([]) }}
    {%- elif value is string %}
        {%- set items = value.split(',') %}
    {%- elif value is number and value is not boolean %}
        {%- set items = [value] %}
    {%- elif value is iterable and value is not mapping %}
        {%- set items = value %}
    {%- else %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {%- set accounts = [] %}
    {%- for item in items %}
        {%- if item is number and item is not boolean and item == item | int and item >= 0 %}
            {%- set text = '%012d' | format(item | int) %}
        {%- else %}
            {%- set text = item | string | trim %}
        {%- endif %}
        {%- if not modules.re.fullmatch('[0-9]{12}', text) %}
            {%- do s3logs_var_error(name, value, accepts) %}
        {%- endif %}
        {%- do accounts.append(text) %}
    {%- endfor %}
    {%- if not accounts %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {{- return(accounts) }}
{% endmacro %}

{#-
  A point in time, as UTC wall-clock text (YYYY-MM-DD HH:MM:SS.ffffff), or none when unset.
  Accepts an ISO 8601 date or date and time, with T or a space, with Z or an offset such as
  +02:00 (converted to UTC: 19:10:00+02:00 is 17:10:00) or without (taken as UTC); YAML
  timestamps written without quotes are read the same way.
-#}
{% macro s3logs_timestamp_var(name) %}
    {%- set value = var(name, none) %}
    {%- set accepts = "an ISO 8601 date or timestamp such as 2026-03-03, 2026-03-03T02:00:00"
        ~ " (UTC) or 2026-03-03T04:00:00+02:00 (converted to UTC)" %}
    {%- set datetime = modules.datetime %}
    {%- if value is none %}
        {{- return(none) }}
    {%- elif value is string %}
        {%- set match = modules.re.fullmatch(
            '([0-9]{4})-([0-9]{2})-([0-9]{2})'
            ~ '(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,6}))?)?'
            ~ '(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?)?',
            value | trim
        ) %}
        {%- if not match %}
            {%- do s3logs_var_error(name, value, accepts) %}
        {%- endif %}
        {%- set part = match.group %}
        {%- set year, month, day = part(1) | int, part(2) | int, part(3) | int %}
        {%- set hour, minute = (part(4) or 0) | int, (part(5) or 0) | int %}
        {%- set second = (part(6) or 0) | int %}
        {%- set micro = ((part(7) or '') ~ '000000')[:6] | int %}
        {%- set sign = -1 if part(9) == '-' else 1 %}
        {%- set offset_minutes = sign * ((part(10) or 0) | int * 60 + (part(11) or 0) | int) %}
        {%- set next_month = datetime.date(year + month // 12, month % 12 + 1, 1)
            if 1 <= month <= 12 and year >= 1 else none %}
        {%- if next_month is none
            or not 1 <= day <= (next_month - datetime.timedelta(days=1)).day
            or hour > 23 or minute > 59 or second > 59
            or (part(11) or 0) | int > 59 or (part(10) or 0) | int > 23 %}
            {%- do s3logs_var_error(name, value, accepts) %}
        {%- endif %}
        {%- set at = datetime.datetime(year, month, day, hour, minute, second, micro)
            - datetime.timedelta(minutes=offset_minutes) %}
    {%- elif value is sameas true or value is sameas false %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- elif value.utcoffset is defined and value.hour is defined %}
        {#- a YAML timestamp: a datetime, with its offset or without (UTC) -#}
        {%- set offset = value.utcoffset() %}
        {%- set offset = offset if offset is not none else datetime.timedelta() %}
        {%- set at = value.replace(tzinfo=none) - offset %}
    {%- elif value.isoformat is defined and value.year is defined %}
        {#- a YAML date -#}
        {%- set at = datetime.datetime(value.year, value.month, value.day) %}
    {%- else %}
        {%- do s3logs_var_error(name, value, accepts) %}
    {%- endif %}
    {{- return(at.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{% endmacro %}

{#-
  The analysis window, start_at and end_at, checked and in UTC: a pair of texts or nones.
  Stops when both are set and start_at is not before end_at.
-#}
{% macro s3logs_window_vars() %}
    {%- set start_at = s3logs_timestamp_var('start_at') %}
    {%- set end_at = s3logs_timestamp_var('end_at') %}
    {%- if start_at is not none and end_at is not none and start_at >= end_at %}
        {%- do exceptions.raise_compiler_error(
            "vars start_at and end_at: start_at (" ~ start_at ~ " UTC) must be before end_at ("
            ~ end_at ~ " UTC); the window includes start_at and excludes end_at"
        ) %}
    {%- endif %}
    {{- return([start_at, end_at]) }}
{% endmacro %}
