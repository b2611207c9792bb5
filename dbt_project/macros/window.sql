{#- Processing window for daily models, from vars start_date (inclusive) and end_date (exclusive).
    Vars arrive as strings (or YAML dates); they are validated here and cast to DATE with ANSI
    `cast('YYYY-MM-DD' as date)`, which DuckDB and PostgreSQL both accept. -#}

{% macro window_bounds() %}
    {%- set bounds = {} -%}
    {%- for name in ['start_date', 'end_date'] -%}
        {%- set value = var(name) | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
            {{ exceptions.raise_compiler_error(
                "var '" ~ name ~ "' must be a date formatted YYYY-MM-DD, got '" ~ value ~ "'") }}
        {%- endif -%}
        {%- do bounds.update({name: value}) -%}
    {%- endfor -%}
    {%- if bounds['start_date'] >= bounds['end_date'] -%}
        {{ exceptions.raise_compiler_error(
            "empty window: start_date (" ~ bounds['start_date'] ~ ", inclusive) must be before end_date ("
            ~ bounds['end_date'] ~ ", exclusive)") }}
    {%- endif -%}
    {{ return(bounds) }}
{% endmacro %}

{% macro window_start() -%}
    cast('{{ window_bounds()["start_date"] }}' as date)
{%- endmacro %}

{% macro window_end() -%}
    cast('{{ window_bounds()["end_date"] }}' as date)
{%- endmacro %}

{#- Predicate: `column` (a DATE) falls inside the window. -#}
{% macro in_window(column) -%}
    ({{ column }} >= {{ window_start() }} and {{ column }} < {{ window_end() }})
{%- endmacro %}
