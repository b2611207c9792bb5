{#- 8-byte floating point type. dbt.type_float() renders `float`, which is double precision on
    PostgreSQL but a 4-byte REAL on DuckDB, so the two warehouses would disagree in the 7th digit.
    `double precision` is standard SQL and means the same on both. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'dataops')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{#- Spark SQL has no `double precision`; its DOUBLE is the same 8-byte float. -#}
{% macro spark__type_double() -%}
    double
{%- endmacro %}
